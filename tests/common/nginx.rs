//! nginx serving a directory.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// nginx (Debian package) serving a directory on 127.0.0.1; stopped on drop.
pub struct Nginx {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
    _cache: Option<tempfile::TempDir>,
}

impl Nginx {
    /// The statuses of the requests served so far, in order (from the
    /// access log, which nginx writes as each request ends).
    pub fn statuses(&self) -> Vec<u16> {
        self.requests()
            .iter()
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect()
    }
}

impl Nginx {
    /// Serves `root` (which must be world-readable, with its parents).
    pub fn serve(root: &Path) -> Nginx {
        Nginx::start(root, None, "")
    }

    /// Serves `root` with `nginx/clawhub.conf` of this repository included,
    /// as `index-spec/export.md` §8 tells an operator to.
    pub fn serve_with_clawhub(root: &Path) -> Nginx {
        let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("nginx/clawhub.conf");
        Nginx::start(root, None, &format!("include {};", conf.display()))
    }

    /// Serves `root` over https with `cert` and `key` (PEM files nginx's
    /// workers can read); `url` names `host`, which must resolve to
    /// 127.0.0.1.
    pub fn serve_tls(root: &Path, host: &str, cert: &Path, key: &Path) -> Nginx {
        let mut nginx = Nginx::start(root, Some((cert, key)), "");
        nginx.url = nginx
            .url
            .replacen("http://127.0.0.1", &format!("https://{host}"), 1);
        nginx
    }

    /// A caching proxy in front of a bucket's website endpoint on
    /// `web_port` (Garage's: the bucket is named by the `Host` header),
    /// serving the tree below `prefix` at its root, with the directives
    /// `index-spec/export.md` §5.3 gives an operator: content-addressed files
    /// are cached as long as the bucket says (immutable), files that change
    /// in place are passed through for revalidation, and a cached file is
    /// still served when the bucket is down.
    pub fn cache_in_front_of_bucket(web_port: u16, bucket: &str, prefix: &str) -> Nginx {
        // nginx makes the cache folder and gives it to its workers (user
        // nobody when run as root); its parent must let them through.
        let cache = public_tempdir();
        let http_extra = format!(
            "proxy_cache_path {}/cache levels=1:2 keys_zone=skillreg_tree:10m max_size=1g inactive=7d use_temp_path=off;",
            cache.path().display()
        );
        let location = format!(
            "location / {{ proxy_pass http://127.0.0.1:{web_port}/{prefix}/; proxy_set_header Host {bucket}; \
             proxy_cache skillreg_tree; proxy_cache_revalidate on; \
             proxy_cache_use_stale error timeout http_500 http_502 http_503 http_504; \
             add_header X-Cache $upstream_cache_status always; }}"
        );
        let mut nginx = Nginx::launch(&http_extra, |port, d| {
            format!("listen 127.0.0.1:{port}; access_log {d}/access.log counted; {location}")
        });
        nginx._cache = Some(cache);
        nginx
    }

    fn start(root: &Path, tls: Option<(&Path, &Path)>, extra: &str) -> Nginx {
        Nginx::launch("", |port, d| {
            format!(
                "listen 127.0.0.1:{port}{}; root {}; access_log {d}/access.log counted; {} {extra}",
                if tls.is_some() { " ssl" } else { "" },
                root.display(),
                tls.map(|(cert, key)| format!(
                    "ssl_certificate {}; ssl_certificate_key {};",
                    cert.display(),
                    key.display()
                ))
                .unwrap_or_default()
            )
        })
    }

    /// Starts nginx with `http_extra` in its `http` block and one server
    /// whose body `server(port, dir)` writes.
    fn launch(http_extra: &str, server: impl FnOnce(u16, &str) -> String) -> Nginx {
        // World-searchable: workers (user nobody when run as root) buffer
        // proxied bodies in temp folders below it.
        let dir = public_tempdir();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display().to_string();
        let server = server(port, &d);
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  default_type text/plain;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               log_format counted '$status $request_method $uri $http_if_none_match';\n  {http_extra}\n\
               server {{ {server} }}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is not installed: apt-get install nginx (.ci/run does)");
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx {
                    url,
                    child,
                    _dir: dir,
                    _cache: None,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
    }
}

impl Nginx {
    /// Every request served so far, one `STATUS METHOD URI IF-NONE-MATCH`
    /// line each (written as each request ends).
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self._dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its workers, which a
        // killed master would leave running (and listening).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// A temp dir nginx workers (user nobody when run as root) can read.
pub fn public_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}
