//! README.md cannot drift from the code: every shell block it marks runnable (`<!-- runnable -->` on
//! the line before the fence) runs with bash, in README order and as one session — as a reader
//! pastes them — against the real binary, started here with no configuration in an empty directory
//! (so on its default `data/healthtracker.db`) on a random port, with a stand-in AI provider.
//!
//! Substituted: `http://127.0.0.1:5000` by that server's address, and
//! `mongodb://db.internal:27017/healthtracker` by a fresh database on the test's MongoDB-wire server;
//! `healthtracker` on the PATH is the binary under test. In the blocks, curl fails on an answer of
//! 400 or more, and a command followed by a `# → NNN` comment must be answered with exactly NNN.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use regex::Regex;

use crate::fake_ai::{FAKE_API_KEY, FakeProvider};
use crate::helpers::*;

const MARKER: &str = "<!-- runnable -->";
const README_ORIGIN: &str = "http://127.0.0.1:5000";
const README_MONGO: &str = "mongodb://db.internal:27017/healthtracker";
/// The README marks this many blocks today: fewer means a marker was lost or mistyped. Raise it
/// when marking another block.
const MARKED_AT_LEAST: usize = 7;

/// Runs before the blocks. curl is wrapped: as the reader runs it, but an HTTP error (or another
/// status than a `# → NNN` comment states, passed in README_EXPECT) fails the command.
const PRELUDE: &str = r#"set -eEuo pipefail
curl() {
    if [[ -n "${README_EXPECT:-}" ]]; then
        local headers status
        headers=$(mktemp)
        command curl --show-error -D "$headers" "$@" || { rm -f "$headers"; return 1; }
        status=$(tr -d '\r' <"$headers" | awk '/^HTTP\//{s=$2} END{print s}')
        rm -f "$headers"
        if [[ "$status" != "$README_EXPECT" ]]; then
            echo "README: expected HTTP $README_EXPECT, got ${status:-no answer}" >&2
            return 1
        fi
    else
        command curl --show-error --fail-with-body "$@"
    fi
}
# The line that failed: the caller's when it failed inside the curl wrapper.
trap 'if [[ -n "${FUNCNAME[0]:-}" ]]; then l=${BASH_LINENO[0]}; else l=$LINENO; fi; echo "README_FAILED_AT_SCRIPT_LINE $l" >&2' ERR
"#;

/// A marked block: its first line's number in README.md, and its lines.
struct Block {
    line: usize,
    lines: Vec<String>,
}

impl Block {
    /// What it shows, for the list of examples run: its first comment, or its first command.
    fn title(&self) -> String {
        let first = self
            .lines
            .iter()
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_default();
        first.trim_start_matches('#').trim().chars().take(90).collect()
    }
}

fn readme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

fn runnable_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if line.starts_with("<!--") && line.contains("runnable") {
            assert_eq!(line, MARKER, "README.md:{}: a mistyped marker", i + 1);
            let fence = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
            assert!(
                fence == "```sh" || fence == "```bash",
                "README.md:{}: the marker must be right before a ```sh or ```bash fence",
                i + 1
            );
            let start = i + 2;
            let end = (start..lines.len())
                .find(|&j| lines[j].trim() == "```")
                .unwrap_or_else(|| panic!("README.md:{}: the block does not end", i + 2));
            blocks.push(Block {
                line: start + 1,
                lines: lines[start..end].iter().map(|l| (*l).to_owned()).collect(),
            });
            i = end;
        }
        i += 1;
    }
    blocks
}

/// The blocks as one bash script, and for each of its lines the README line it came from (0: the
/// harness's own). A `# → NNN` comment ending a command sets README_EXPECT for the curl that begins
/// it (the nearest line above starting with `curl`).
fn script(blocks: &[Block], origin: &str, mongo: Option<&str>) -> (String, Vec<usize>) {
    let expect = Regex::new(r"#\s*→\s*(\d{3})\b").expect("regex");
    let mut script = String::from(PRELUDE);
    let mut from: Vec<usize> = vec![0; PRELUDE.lines().count()];
    for block in blocks {
        let mut lines: Vec<String> = block
            .lines
            .iter()
            .map(|l| {
                let l = l.replace(README_ORIGIN, origin);
                match mongo {
                    Some(url) => l.replace(README_MONGO, url),
                    None => l,
                }
            })
            .collect();
        for end in 0..lines.len() {
            let Some(status) = expect.captures(&lines[end]).map(|c| c[1].to_owned()) else {
                continue;
            };
            // The command's first line: continuation lines and a quoted body may come between.
            let start = (0..=end)
                .rev()
                .take_while(|&j| j == end || !lines[j].trim().is_empty())
                .find(|&j| lines[j].trim_start().starts_with("curl "))
                .unwrap_or_else(|| {
                    panic!(
                        "README.md:{}: a `# → {status}` comment must end a curl command",
                        block.line + end
                    )
                });
            let command = lines[start].trim_start().to_owned();
            let indent = lines[start].len() - command.len();
            lines[start] = format!("{}README_EXPECT={status} {command}", &lines[start][..indent]);
        }
        script.push_str(&format!("echo '### README.md:{}' >&2\n", block.line));
        from.push(block.line);
        for (n, line) in lines.iter().enumerate() {
            script.push_str(line);
            script.push('\n');
            from.push(block.line + n);
        }
    }
    (script, from)
}

/// Whether `program args…` runs and succeeds here.
fn runs(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The binary serving as `cargo run --release` does (no command, no configuration), in `dir`.
struct Server {
    child: tokio::process::Child,
    origin: String,
    log: PathBuf,
}

impl Server {
    async fn start(dir: &Path, log_dir: &Path, ai: &FakeProvider) -> Self {
        let log = log_dir.join("server.log");
        // A port picked this way can be taken before the server binds it: retry.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            let file = std::fs::File::create(&log).expect("log");
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_healthtracker"))
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", dir)
                .env("PORT", port.to_string())
                .env("GROQ_API_KEY", FAKE_API_KEY)
                .env("AI_BASE_URL", &ai.base_url)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("log"))
                .stderr(file)
                .kill_on_drop(true)
                .spawn()
                .expect("spawn the server");
            let origin = format!("http://127.0.0.1:{port}");
            let client = http_client();
            for _ in 0..300 {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                let live = client.get(format!("{origin}/api/health/live")).send().await;
                if live.is_ok_and(|r| r.status().is_success()) {
                    return Self { child, origin, log };
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = child.kill().await;
        }
        panic!(
            "the server did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_runnable_readme_block_runs_against_a_real_server() {
    let readme = std::fs::read_to_string(readme_path()).expect("README.md");
    let mut blocks = runnable_blocks(&readme);
    assert!(
        blocks.len() >= MARKED_AT_LEAST,
        "README.md marks {} blocks runnable, fewer than the {MARKED_AT_LEAST} it had",
        blocks.len()
    );
    // The blocks' prerequisites, as README states them.
    for (program, args, why) in [
        ("bash", &["-c", "true"][..], "bash runs the blocks"),
        (
            "curl",
            &["--fail-with-body", "--version"][..],
            "the blocks use curl 7.76 or later",
        ),
        (
            "python3",
            &["-c", "import json"][..],
            "the blocks read tokens with python3",
        ),
    ] {
        if !runs(program, args) {
            skip_or_fail("readme", &format!("{program} is missing: {why}"));
            return;
        }
    }
    let mongo = if blocks.iter().any(|b| b.lines.iter().any(|l| l.contains(README_MONGO))) {
        if crate::mongo_server::available() {
            Some(Database::fresh(Backend::MongoDb))
        } else {
            // SKIP said by `available` (a failure under CI): the other blocks still run.
            blocks.retain(|b| !b.lines.iter().any(|l| l.contains(README_MONGO)));
            None
        }
    } else {
        None
    };

    let work = tempfile::tempdir().expect("temp dir");
    let logs = tempfile::tempdir().expect("temp dir");
    let ai = FakeProvider::start().await;
    let mut server = Server::start(work.path(), logs.path(), &ai).await;
    let (script, from) = script(&blocks, &server.origin, mongo.as_ref().map(|d| d.url.as_str()));
    let script_path = logs.path().join("readme.sh");
    std::fs::write(&script_path, &script).expect("write the script");

    eprintln!("README examples run ({}):", blocks.len());
    for block in &blocks {
        eprintln!("  README.md:{}  {}", block.line, block.title());
    }
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_healthtracker"))
        .parent()
        .expect("the binary's directory")
        .to_owned();
    let path = std::env::join_paths(
        std::iter::once(binary_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let run = tokio::process::Command::new("bash")
        .arg(&script_path)
        .env_clear()
        .env("PATH", path)
        .env("HOME", work.path())
        // The server's days are UTC (DEFAULT_TIMEZONE): "today" is the same day for `date +%F`.
        .env("TZ", "UTC")
        .current_dir(work.path())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the README blocks finish within 5 minutes")
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let line = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("README_FAILED_AT_SCRIPT_LINE "))
            .filter_map(|n| n.trim().parse::<usize>().ok())
            .next_back()
            .and_then(|n| from.get(n.saturating_sub(1)).copied())
            .unwrap_or(0);
        panic!(
            "a README block failed near README.md:{line} ({:?})\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
            output.status,
            server.log()
        );
    }
    // What the blocks leave behind is what they say they do.
    assert!(
        stdout.contains("Usage: healthtracker"),
        "`healthtracker --help` printed no usage:\n{stdout}"
    );
    let backups: Vec<_> = std::fs::read_dir(work.path().join("backups"))
        .expect("backup made the directory")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(backups, [format!("healthtracker-{today}.db")]);
    assert!(
        ai.calls() >= 3,
        "the AI examples reached the provider {} times",
        ai.calls()
    );
    if mongo.is_some() {
        assert!(stdout.contains("users copied 1"), "{stdout}");
    }
    let _ = server.child.kill().await;
}
