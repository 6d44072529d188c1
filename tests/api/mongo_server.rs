//! The MongoDB the `mongodb` half of the suite runs against: a real one when `TEST_MONGO_URI` is set,
//! otherwise one mongoeco stand-in per test process (tests/support/mongoeco, installed by
//! `scripts/setup-test-deps`, which the first test to need it runs when the venv is missing),
//! started on first use. Every test gets a database of its own on it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

/// A running mongoeco launcher. It exits when its stdin closes: when this is dropped, or when the
/// test process dies however it dies (the OS closes the pipe), so no server outlives the tests.
pub struct MongoEco {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `MONGOECO_PYTHON`, or the venv `scripts/setup-test-deps` creates — which is run here, once per
/// test process, when the venv is missing, so that a plain `cargo test` on a fresh clone runs the
/// MongoDB half too instead of skipping it.
fn python() -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os("MONGOECO_PYTHON") {
        let python = PathBuf::from(python);
        return if python.exists() {
            Ok(python)
        } else {
            Err(format!("MONGOECO_PYTHON={} does not exist", python.display()))
        };
    }
    static PROVISIONED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PROVISIONED.get_or_init(provision).clone()
}

/// The venv's interpreter, made by `scripts/setup-test-deps` first when it is not there yet.
fn provision() -> Result<PathBuf, String> {
    let python = manifest_dir().join("target/mongoeco-venv/bin/python");
    if python.exists() {
        return Ok(python);
    }
    let script = manifest_dir().join("scripts/setup-test-deps");
    // The real stderr: the test harness would hold back an `eprintln!` until a test fails.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "mongodb tests: provisioning the MongoDB-wire stand-in once ({}; a minute or so)…",
        script.display()
    );
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if output.status.success() && python.exists() {
        let _ = writeln!(std::io::stderr(), "mongodb tests: stand-in ready");
        return Ok(python);
    }
    let said = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "scripts/setup-test-deps could not provision mongoeco ({}); set TEST_MONGO_URI to a real MongoDB instead",
        said.trim().lines().last().unwrap_or("no output")
    ))
}

impl MongoEco {
    /// Starts a server on `port` (0: any free port) and waits until it accepts connections.
    pub fn start(port: u16) -> Result<Self, String> {
        let script = manifest_dir().join("tests/support/mongoeco/mongoeco_server.py");
        let mut child = Command::new(python()?)
            .arg(&script)
            .args(["--port", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", script.display()))?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let port = line.strip_prefix("READY ").and_then(|p| p.trim().parse().ok());
        match port {
            Some(port) => Ok(Self { child, stdin, port }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "mongoeco launcher did not start (said {line:?}; see its stderr above)"
                ))
            }
        }
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }
}

impl Drop for MongoEco {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The base URI of the server for this process, or why there is none.
pub fn base_uri() -> Result<String, String> {
    static SERVER: OnceLock<Result<(String, Option<MongoEco>), String>> = OnceLock::new();
    SERVER
        .get_or_init(|| match std::env::var("TEST_MONGO_URI") {
            Ok(uri) if !uri.trim().is_empty() => Ok((uri.trim().to_owned(), None)),
            _ => MongoEco::start(0).map(|server| (server.uri(), Some(server))),
        })
        .as_ref()
        .map(|(uri, _)| uri.clone())
        .map_err(Clone::clone)
}

/// Whether the MongoDB half runs against the mongoeco stand-in (no `TEST_MONGO_URI`), which has
/// limits a real MongoDB does not (dates only in the years 1–9999).
pub fn is_stand_in() -> bool {
    !std::env::var("TEST_MONGO_URI").is_ok_and(|uri| !uri.trim().is_empty())
}

/// Whether the MongoDB tests can run here. Without a server they are skipped with a line saying
/// why — except under `CI=true`, where a missing server must fail the run, not hide it.
pub fn available() -> bool {
    run_or_skip(base_uri().map(drop))
}

/// Whether a mongoeco server can be started here (tests that start one on a port of their choosing).
pub fn mongoeco_available() -> bool {
    run_or_skip(python().map(drop))
}

fn run_or_skip(ready: Result<(), String>) -> bool {
    match ready {
        Ok(()) => true,
        Err(reason) if crate::helpers::in_ci() => {
            panic!("MongoDB tests cannot run under CI: {reason}")
        }
        Err(reason) => {
            // `eprintln!` is captured per test and shown only on failure; the once-per-process line
            // goes to the real stderr so a skipped half of the suite is seen in every run.
            static ANNOUNCED: std::sync::Once = std::sync::Once::new();
            ANNOUNCED.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIP (mongodb): {reason} (all MongoDB tests skipped)"
                );
            });
            eprintln!("SKIP (mongodb): {reason}");
            false
        }
    }
}

/// `uri` with its database (the path) replaced by `name`, options kept.
pub fn with_database(uri: &str, name: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("mongodb", uri));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |q| &tail[q..]);
    format!("{scheme}://{authority}/{name}{query}")
}

/// Drops a test's database (from a thread of its own: this runs in `Drop`, inside a runtime).
pub fn drop_database(uri: String) {
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let client = mongodb::Client::with_uri_str(&uri).await.ok()?;
            // Bounded: a test that stopped its server must not wait for server selection here.
            let database = client.default_database()?;
            tokio::time::timeout(std::time::Duration::from_secs(3), database.drop())
                .await
                .ok()?
                .ok()
        })
    });
    let _ = dropped.join();
}

#[test]
fn database_names_go_in_the_path() {
    assert_eq!(
        with_database("mongodb://127.0.0.1:1/?directConnection=true", "t1"),
        "mongodb://127.0.0.1:1/t1?directConnection=true"
    );
    assert_eq!(with_database("mongodb://h1,h2", "t1"), "mongodb://h1,h2/t1");
    assert_eq!(
        with_database("mongodb+srv://u:p@c.example.net/old?retryWrites=true", "t1"),
        "mongodb+srv://u:p@c.example.net/t1?retryWrites=true"
    );
}
