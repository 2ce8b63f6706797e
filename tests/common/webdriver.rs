//! A headless Chromium driven through W3C WebDriver (Debian's `chromium`
//! and `chromium-driver`, which `./test.sh` installs): chromedriver on a
//! free port, one browser session per [`Browser`], spoken to as the JSON
//! over HTTP the protocol is. Every network request the page makes is kept
//! (Chrome's performance log), so a test can prove none left the origin.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key W3C WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the browser and its driver stop on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

/// One element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

fn find_binary(names: &[&str]) -> PathBuf {
    for name in names {
        for dir in ["/usr/bin", "/usr/lib/chromium", "/usr/local/bin"] {
            let path = Path::new(dir).join(name);
            if path.exists() {
                return path;
            }
        }
    }
    panic!(
        "{} is not installed: apt-get install chromium chromium-driver (./test.sh does)",
        names[0]
    );
}

impl Browser {
    /// Starts chromedriver and a headless Chromium.
    pub fn start() -> Browser {
        let driver_bin = find_binary(&["chromedriver"]);
        let chromium = find_binary(&["chromium", "chromium-browser"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-extensions", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                         format!("--user-data-dir={}", profile.path().display())],
            },
        }}});
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let created = browser.call("POST", "/session", Some(caps));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        browser
    }

    /// One WebDriver command; panics on a protocol error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.try_call(method, path, body);
        assert!(status < 300, "WebDriver {method} {path}: {status} {value}");
        value
    }

    /// One WebDriver command: its status and `value`.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value["value"].clone())
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({"url": url})),
        );
    }

    /// The address of the current page.
    pub fn url(&self) -> String {
        self.call("GET", &self.session_path("/url"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The current page's title.
    pub fn title(&self) -> String {
        self.call("GET", &self.session_path("/title"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Every element matching the CSS `selector`.
    pub fn all(&self, selector: &str) -> Vec<Element> {
        let found = self.call(
            "POST",
            &self.session_path("/elements"),
            Some(json!({"using": "css selector", "value": selector})),
        );
        found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|id| Element(id.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `selector`; panics naming the page if
    /// there is none.
    pub fn find(&self, selector: &str) -> Element {
        self.all(selector)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no `{selector}` on {}: {}", self.url(), self.body_text()))
    }

    /// The visible text of an element.
    pub fn text(&self, element: &Element) -> String {
        self.call(
            "GET",
            &self.session_path(&format!("/element/{}/text", element.0)),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The visible text of the whole page.
    pub fn body_text(&self) -> String {
        let body = self.all("body");
        body.first().map(|b| self.text(b)).unwrap_or_default()
    }

    /// An attribute or property of an element.
    pub fn attr(&self, element: &Element, name: &str) -> Option<String> {
        self.call(
            "GET",
            &self.session_path(&format!("/element/{}/attribute/{name}", element.0)),
            None,
        )
        .as_str()
        .map(str::to_string)
    }

    /// Clicks an element (and waits for a navigation it starts).
    pub fn click(&self, element: &Element) {
        self.call(
            "POST",
            &self.session_path(&format!("/element/{}/click", element.0)),
            Some(json!({})),
        );
    }

    /// Clicks an element that loads another page (a link, a submit
    /// button), and waits until the new page has loaded.
    pub fn click_and_wait(&self, element: &Element) {
        self.eval("window.__skillreg_before_click = true;");
        self.click(element);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let state =
                self.eval("return (window.__skillreg_before_click ? 'old' : document.readyState);");
            if state == "complete" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the click on {element:?} loaded no page (still {state})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` into an element (after clearing it).
    pub fn type_into(&self, element: &Element, text: &str) {
        self.call(
            "POST",
            &self.session_path(&format!("/element/{}/clear", element.0)),
            Some(json!({})),
        );
        self.call(
            "POST",
            &self.session_path(&format!("/element/{}/value", element.0)),
            Some(json!({"text": text})),
        );
    }

    /// Runs `script` in the page (WebDriver's own channel, which the page's
    /// CSP does not govern) and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Writes a PNG of the viewport to `target/screenshots/{name}.png`.
    pub fn screenshot(&self, name: &str) {
        use base64::Engine;
        let data = self.call("GET", &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The value of the cookie `name` the browser holds for the current
    /// page (HttpOnly ones too: WebDriver sees them).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let (status, value) =
            self.try_call("GET", &self.session_path(&format!("/cookie/{name}")), None);
        (status < 300)
            .then(|| value["value"].as_str().map(str::to_string))
            .flatten()
    }

    /// The URLs the browser requested since the last call (Chrome's
    /// performance log: `Network.requestWillBeSent`).
    pub fn requests(&self) -> Vec<String> {
        let entries = self.call(
            "POST",
            &self.session_path("/se/log"),
            Some(json!({"type": "performance"})),
        );
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| serde_json::from_str::<Value>(e["message"].as_str()?).ok())
            .filter(|m| m["message"]["method"] == "Network.requestWillBeSent")
            .filter_map(|m| {
                m["message"]["params"]["request"]["url"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect()
    }

    /// The browser console's messages since the last call (CSP refusals
    /// are reported there).
    pub fn console(&self) -> Vec<String> {
        let entries = self.call(
            "POST",
            &self.session_path("/se/log"),
            Some(json!({"type": "browser"})),
        );
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str().map(str::to_string))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.try_call("DELETE", &self.session_path(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
