//! The web app in a real browser: the server (TestApp, a fresh SQLite file) and a fake AI provider
//! are started here; `scenario.mjs` drives Debian's Chromium through Playwright against them (a
//! person's first day: register, log, dashboard, history, edit, trends, coach, sessions, export,
//! log out and in, phone width) and leaves a screenshot of each page in target/browser-screenshots.
//!
//! `cargo test --test browser`. Needs Node, `npm ci` in tests/browser (playwright-core) and Chromium
//! (`apt-get install chromium`; or CHROMIUM=/path); without them the test prints SKIP, and under
//! `CI=true` it fails (`.ci/run` installs them). Only this test uses Node: the app itself is served
//! from the binary.

#[allow(dead_code)]
#[path = "../api/fake_ai.rs"]
mod fake_ai;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/mongo_server.rs"]
mod mongo_server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fake_ai::{Behaviour, FakeProvider};
use helpers::{Backend, TestApp, skip_or_fail};

const TEST: &str = "browser::a_persons_first_day";

/// What the scenario needs, or why it cannot run.
fn tools(root: &Path) -> Result<(PathBuf, PathBuf), String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    let playwright = root.join("tests/browser/node_modules/playwright-core/package.json");
    if !playwright.exists() {
        return Err("playwright-core is not installed (run `npm ci` in tests/browser)".into());
    }
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if !chromium.exists() {
        return Err(format!(
            "Chromium is not at {} (apt-get install chromium)",
            chromium.display()
        ));
    }
    Ok((root.join("tests/browser/scenario.mjs"), chromium))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_first_day() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (scenario, chromium) = match tools(&root) {
        Ok(found) => found,
        Err(reason) => return skip_or_fail(TEST, &reason),
    };
    let provider = FakeProvider::start().await;
    // The chat streams word by word, slowly enough to be seen doing so; then plain answers.
    provider.then([Behaviour::StreamSlowly(Duration::from_millis(150))]);
    let app = TestApp::builder(Backend::Sqlite).ai(&provider).spawn().await;
    let screenshots = root.join("target/browser-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);

    let mut command = Command::new("node");
    command
        .arg(&scenario)
        .current_dir(root.join("tests/browser"))
        .env("BASE_URL", &app.address)
        .env("SCREENSHOTS", &screenshots)
        .env("CHROMIUM", &chromium);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the scenario's thread")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the browser scenario failed:\n{stdout}\n{stderr}"
    );
    assert!(provider.calls() >= 2, "the coach answered through the fake provider");
}
