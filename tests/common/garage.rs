//! Garage (crates.io `garage`, built once by `./test.sh` into
//! `.tools/garage`): a real S3-compatible object store on 127.0.0.1, one
//! node, one bucket with a key that may write it, and the bucket's website
//! endpoint on, which serves its objects to anyone over plain HTTP (what a
//! web server or CDN in front of a bucket reads).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key every test Garage is given (Garage's format: `GK` and 24
/// hex digits; the secret: 64 hex digits).
pub const GARAGE_KEY_ID: &str = "GK0123456789abcdef01234567";
/// The secret of [`GARAGE_KEY_ID`].
pub const GARAGE_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The region Garage signs for.
pub const GARAGE_REGION: &str = "garage";

/// A running Garage; stopped on drop.
pub struct Garage {
    /// The S3 API, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The website endpoint's port (objects by plain GET, `Host: BUCKET`).
    pub web_port: u16,
    /// The bucket made at start.
    pub bucket: String,
    config: PathBuf,
    child: Child,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Garage binary: `SKILLREG_GARAGE`, or where `./test.sh` builds it.
pub fn garage_binary() -> PathBuf {
    let path = std::env::var_os("SKILLREG_GARAGE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/garage/bin/garage"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "Garage is not built at {}: run ./test.sh once (it builds crates.io's garage into .tools/garage), or set SKILLREG_GARAGE",
        path.display()
    );
    path
}

impl Garage {
    /// Starts a single-node Garage with bucket `bucket`, writable with
    /// [`GARAGE_KEY_ID`], served by its website endpoint.
    pub fn start(bucket: &str) -> Garage {
        let dir = tempfile::tempdir().unwrap();
        let (s3, web, rpc) = (free_port(), free_port(), free_port());
        let d = dir.path().display();
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_secret = \"{GARAGE_SECRET}\"\n\
                 [s3_api]\ns3_region = \"{GARAGE_REGION}\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
                 [s3_web]\nbind_addr = \"127.0.0.1:{web}\"\nroot_domain = \".web.garage\"\n"
            ),
        )
        .unwrap();
        let child = spawn_server(dir.path(), &config, bucket);
        let garage = Garage {
            endpoint: format!("http://127.0.0.1:{s3}"),
            web_port: web,
            bucket: bucket.to_string(),
            config,
            child,
            dir,
        };
        garage.wait_up();
        let website = garage.cli(&["bucket", "website", "--allow", bucket]);
        assert!(website.status.success(), "{website:?}");
        garage
    }

    /// Waits until the CLI reaches the server over RPC and finds the bucket.
    fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.cli(&["bucket", "info", &self.bucket]).status.success() {
            assert!(
                Instant::now() < deadline,
                "Garage did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the server (its data stays): the S3 endpoint refuses
    /// connections until [`Garage::resume`].
    pub fn stop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }

    /// Freezes the server (SIGSTOP): its ports still accept connections,
    /// and nothing ever answers, as an endpoint behind a network that drops
    /// the replies. [`Garage::thaw`] lets it go on.
    pub fn freeze(&self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGSTOP) };
    }

    /// Lets a frozen server go on.
    pub fn thaw(&self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGCONT) };
    }

    /// Starts the stopped server again on the same ports and data.
    pub fn resume(&mut self) {
        self.child = spawn_server(self.dir.path(), &self.config, &self.bucket);
        self.wait_up();
    }

    /// Writes `bytes` at `key` as another writer may, signed by curl:
    /// `key` is sent as written (`a//b`, `a/../b`), which object_store
    /// refuses to name. Returns the HTTP status.
    pub fn put_raw(&self, key: &str, bytes: &[u8]) -> u16 {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--path-as-is",
            ])
            .args(["--aws-sigv4", &format!("aws:amz:{GARAGE_REGION}:s3")])
            .args(["--user", &format!("{GARAGE_KEY_ID}:{GARAGE_SECRET}")])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", "PUT"])
            .args(["--data-binary", &String::from_utf8_lossy(bytes)])
            .arg(format!("{}/{}/{key}", self.endpoint, self.bucket))
            .output()
            .expect("curl (7.75 or later, for --aws-sigv4)");
        String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
    }

    /// A client of the bucket below `prefix` with the test key: another
    /// writer in the same bucket.
    pub fn client(&self, prefix: &str) -> skillreg::bucket::Bucket {
        let url = match prefix {
            "" => format!("s3://{}", self.bucket),
            p => format!("s3://{}/{p}", self.bucket),
        };
        let config = skillreg::bucket::S3Config {
            endpoint: self.endpoint.clone(),
            region: GARAGE_REGION.into(),
            access_key_id: GARAGE_KEY_ID.into(),
            secret_access_key: GARAGE_SECRET.into(),
        };
        skillreg::bucket::Bucket::open(&skillreg::bucket::BucketUrl::parse(&url).unwrap(), &config)
            .unwrap()
    }

    /// Runs the `garage` CLI against this server.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(garage_binary())
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default()
    }

    /// The `[s3]` table that reaches this server with the test key.
    pub fn s3_toml(&self) -> String {
        format!(
            "[s3]\nendpoint = \"{}\"\nregion = \"{GARAGE_REGION}\"\naccess_key_id = \"{GARAGE_KEY_ID}\"\nsecret_access_key = \"{GARAGE_SECRET}\"\n",
            self.endpoint
        )
    }

    /// The object at `key` as the website endpoint serves it to anyone:
    /// `(status, body)`.
    pub fn web_get(&self, key: &str) -> (u16, Vec<u8>) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let r = agent
            .get(format!("http://127.0.0.1:{}/{key}", self.web_port))
            .header("Host", &self.bucket)
            .call()
            .unwrap();
        let status = r.status().as_u16();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut r.into_body().as_reader(), &mut body).unwrap();
        (status, body)
    }
}

/// Runs `garage server` on `config`, its log appended to `dir/garage.log`.
fn spawn_server(dir: &Path, config: &Path, bucket: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("garage.log"))
        .unwrap();
    Command::new(garage_binary())
        .arg("-c")
        .arg(config)
        .args(["server", "--single-node", "--default-bucket"])
        .env("GARAGE_DEFAULT_ACCESS_KEY", GARAGE_KEY_ID)
        .env("GARAGE_DEFAULT_SECRET_KEY", GARAGE_SECRET)
        .env("GARAGE_DEFAULT_BUCKET", bucket)
        .env("RUST_LOG", "garage=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

impl Drop for Garage {
    fn drop(&mut self) {
        // A frozen server takes SIGTERM only once it goes on.
        self.thaw();
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
