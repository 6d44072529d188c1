//! The real `healthtracker` binary as a child process: what SIGTERM and RSS need (an in-process app
//! has neither its own signal handling nor its own memory figure).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::TEST_JWT_SECRET;

/// reqwest is built without a default TLS crypto provider (see Cargo.toml); the server installs ring
/// when it builds its AI client, which a test may not do before its own HTTP client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub struct ServerProcess {
    child: Child,
    pub port: u16,
    pub log_path: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl ServerProcess {
    /// Starts `healthtracker serve` with a production configuration (JSON logs to `dir/server.log`),
    /// the SQLite database at `database`, and `env` on top; waits until it answers.
    pub async fn start(dir: &Path, database: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_limited(dir, database, env, None).await
    }

    /// As [`ServerProcess::start`], allowed at most `open_files` file descriptors (`ulimit -n`).
    pub async fn start_limited(dir: &Path, database: &Path, env: &[(&str, &str)], open_files: Option<u32>) -> Self {
        let log_path = dir.join("server.log");
        // A port picked this way can be taken by someone else before the server binds it: retry.
        for _ in 0..3 {
            let port = free_port();
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("log file");
            let binary = env!("CARGO_BIN_EXE_healthtracker");
            let mut command = match open_files {
                None => Command::new(binary),
                Some(limit) => {
                    let mut shell = Command::new("sh");
                    shell.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\""), binary]);
                    shell
                }
            };
            command
                .arg("serve")
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("APP_ENV", "production")
                .env("LOG_FORMAT", "json")
                .env("JWT_SECRET", TEST_JWT_SECRET)
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string())
                .env("DATABASE_URL", format!("sqlite://{}", database.display()))
                .envs(env.iter().copied())
                // No stray .env file of the checkout is read.
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log);
            let mut child = command.spawn().expect("spawning the server binary");
            if wait_until_live(&mut child, port, &log_path).await {
                return Self { child, port, log_path };
            }
            // It exited: the port was taken in the meantime, most likely. Try another.
        }
        panic!(
            "server did not start; log:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now (VmRSS) and at its peak (VmHWM), in KiB.
    pub fn rss_kb(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit (at most `limit`; then it is killed and the test fails).
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not exit within {limit:?}; log:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// `true` once the server answers; `false` when it exited first.
async fn wait_until_live(child: &mut Child, port: u16, log_path: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let live = client
            .get(format!("http://127.0.0.1:{port}/api/health/live"))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        if live.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "server did not start; log:\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
