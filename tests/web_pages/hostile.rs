//! Content from strangers on the pages: escaped, sanitized, inert.

use crate::common::*;

/// What a hostile SKILL.md tries: each would change the title, run a
/// script or fetch from elsewhere if it were let through.
const HOSTILE_BODY: &str = concat!(
    "# Looks fine\n\n",
    "<script>document.title='pwned-script'</script>\n\n",
    "<img src=x onerror=\"document.title='pwned-img'\">\n\n",
    "[click me](javascript:document.title='pwned-link')\n\n",
    "![tracker](http://attacker.invalid/pixel.png)\n\n",
    "<svg onload=\"document.title='pwned-svg'\"><script>document.title='pwned-svg2'</script></svg>\n\n",
    "<iframe src=\"http://attacker.invalid/frame\"></iframe>\n\n",
    "<a href=\"http://attacker.invalid/x\" onclick=\"document.title='pwned-click'\">a link</a>\n\n",
    "<style>body{background:url(http://attacker.invalid/bg.png)}</style>\n\n",
    "<form action=\"http://attacker.invalid/steal\"><input name=q></form>\n",
);

#[test]
fn a_hostile_skill_renders_escaped_and_inert_and_nothing_leaves_the_origin() {
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("evil");
    std::fs::create_dir_all(root.join("notes")).unwrap();
    std::fs::write(
        root.join("SKILL.md"),
        format!("---\nname: evil-skill\ndescription: \"<script>document.title='pwned-desc'</script> harmless\"\n---\n{HOSTILE_BODY}"),
    )
    .unwrap();
    // A file name and a file that are HTML, and a 5 MB single line.
    std::fs::write(
        root.join("notes/<b onmouseover=alert(1)>x.html"),
        "<script>document.title='pwned-file'</script>\n",
    )
    .unwrap();
    std::fs::write(root.join("notes/long.txt"), "<".repeat(5 * 1024 * 1024)).unwrap();
    d.publish_dir("skill", "evil-skill", "1.0.0", &root, &["<script>"]);
    let b = Browser::start();
    b.requests();

    b.goto(&format!("{}/?q=evil", d.url));
    assert_eq!(b.title(), "Browse · skillreg");
    let row = b.text(&b.find("table.packages tbody tr"));
    assert!(
        row.contains("<script>document.title='pwned-desc'</script> harmless"),
        "escaped, shown as text: {row}"
    );

    b.goto(&format!("{}/packages/evil-skill", d.url));
    assert_eq!(b.title(), "evil-skill · skillreg", "no script ran");
    let readme = b.find("article.readme");
    assert_eq!(b.text(&b.find("article.readme h1")), "Looks fine");
    for tag in [
        "script",
        "img",
        "svg",
        "iframe",
        "style",
        "form",
        "input[name=q]",
    ] {
        assert!(
            b.all(&format!("article.readme {tag}")).is_empty(),
            "<{tag}> survived"
        );
    }
    for a in b.all("article.readme a") {
        if let Some(href) = b.attr(&a, "href") {
            assert!(href.starts_with("http"), "{href}");
        }
        assert!(b.attr(&a, "onclick").is_none());
    }
    assert!(
        b.text(&readme).contains("tracker"),
        "an image is its alt text"
    );
    let names: Vec<String> = b
        .all("table.files code")
        .iter()
        .map(|e| b.text(e))
        .collect();
    assert!(
        names.contains(&"notes/<b onmouseover=alert(1)>x.html".to_string()),
        "{names:?}"
    );

    // The HTML file is shown as text, not rendered.
    b.click_and_wait(&b.find("table.files a[href*='x.html']"));
    assert_eq!(
        b.text(&b.find("pre.file")),
        "<script>document.title='pwned-file'</script>"
    );
    assert!(
        b.title()
            .starts_with("notes/<b onmouseover=alert(1)>x.html"),
        "{}",
        b.title()
    );

    // The 5 MB line: refused with a reason (or shown as text), never HTML.
    b.goto(&format!(
        "{}/packages/evil-skill/1.0.0/files/notes/long.txt",
        d.url
    ));
    assert!(!b.title().contains("pwned"));

    let requests = b.requests();
    assert!(!requests.is_empty());
    // Chrome's own pages (chrome://) load resources too; what the network
    // sees is what counts.
    let network = requests.iter().filter(|u| {
        ["http:", "https:", "ws:", "wss:", "ftp:"]
            .iter()
            .any(|s| u.starts_with(s))
    });
    for url in network {
        assert!(url.starts_with(&d.url), "a request left the origin: {url}");
    }
    assert!(!b.title().contains("pwned"));

    // The headers that keep it so.
    let r = get_with(&format!("{}/packages/evil-skill", d.url), &[]);
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert_eq!(r.headers().get("x-frame-options").unwrap(), "DENY");
    d.assert_serving();
}
