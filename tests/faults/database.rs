//! The database failing under the server: made unwritable (`chattr +i`, which holds even for root,
//! where permission bits do not), its directory moved away and back, its directory deleted.
//! Expected: JSON 503 "Database unavailable" (and /api/health 503) instead of 500s or panics, no
//! write acknowledged that was not stored, no corrupted rows, and recovery without a restart when
//! the failure is undone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, json_body, skip_or_fail};

fn entry(day: &str) -> Value {
    json!({ "date": day, "calories": 1500, "notes": "fault test" })
}

/// Polls until `status` returns `target` (at most `limit`). On the way it may only see `passing`
/// (the answer before the change took effect) or 503: a 500, or anything else, fails at once.
async fn settles_on<F, Fut>(limit: Duration, what: &str, passing: u16, target: u16, mut status: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let deadline = Instant::now() + limit;
    loop {
        let seen = status().await;
        if seen == target {
            return;
        }
        assert!([passing, 503].contains(&seen), "{what}: answered {seen} on the way");
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn integrity(path: &Path) -> String {
    let connection = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database read-only");
    connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity check")
}

async fn days_listed(app: &TestApp, token: &str) -> Vec<String> {
    let body = json_body(app.list_entries_root(token, "?limit=366").await, StatusCode::OK).await;
    let mut days: Vec<String> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["date"].as_str().unwrap_or_default()[..10].to_owned())
        .collect();
    days.sort();
    days
}

async fn status_of(response: reqwest::Response) -> u16 {
    response.status().as_u16()
}

/// Undoes `chattr +i` even when the test fails, so the temporary directory can be removed.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: &[PathBuf]) -> Result<Self, String> {
        let guard = Self(paths.to_vec());
        for path in paths {
            let output = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .output()
                .map_err(|e| format!("cannot run chattr: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "chattr +i {} failed: {}",
                    path.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
        Ok(guard)
    }

    fn clear(&mut self) {
        for path in self.0.drain(..) {
            let _ = std::process::Command::new("chattr").arg("-i").arg(&path).status();
        }
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        self.clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_database_answers_503_and_recovers_without_restart() {
    crate::process::install_crypto_provider();
    let test = "an_unwritable_database_answers_503_and_recovers_without_restart";
    let app = TestApp::spawn(Backend::Sqlite).await;
    let db = app.database.sqlite_path.clone().expect("sqlite path");
    let session = app.signup().await;
    for day in ["2026-01-01", "2026-01-02", "2026-01-03"] {
        app.created_entry(&session.access, &entry(day)).await;
    }

    // The database and its write-ahead log (where SQLite writes first) refuse every write.
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    let mut immutable = match Immutable::set(&[db.clone(), wal]) {
        Ok(guard) => guard,
        Err(reason) => {
            skip_or_fail(test, &reason);
            return;
        }
    };
    for day in ["2026-02-01", "2026-02-02", "2026-02-03"] {
        let response = app.create_entry(&session.access, &entry(day)).await;
        let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "Database unavailable").await;
        assert!(body["errorId"].is_string(), "{body}");
    }
    let response = app
        .register(&json!({ "name": "New User", "email": "new@example.com", "password": "Secret123" }))
        .await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "Database unavailable").await;
    // Reads still work (a read-only database is degraded, not gone); the probe reports the outage.
    assert_eq!(
        days_listed(&app, &session.access).await,
        ["2026-01-01", "2026-01-02", "2026-01-03"]
    );
    let health = json_body(app.health().await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(health["services"]["database"], "disconnected", "{health}");
    assert_eq!(app.health_live().await.status(), StatusCode::OK);

    immutable.clear();
    settles_on(Duration::from_secs(5), "writes work again", 201, 201, || async {
        status_of(app.create_entry(&session.access, &entry("2026-03-01")).await).await
    })
    .await;
    json_body(app.health().await, StatusCode::OK).await;
    assert_eq!(
        days_listed(&app, &session.access).await,
        ["2026-01-01", "2026-01-02", "2026-01-03", "2026-03-01"],
        "nothing refused was stored, nothing acknowledged was lost"
    );
    assert_eq!(integrity(&db).await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_directory_moved_away_answers_503_and_recovers_when_it_is_back() {
    crate::process::install_crypto_provider();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let db = app.database.sqlite_path.clone().expect("sqlite path");
    let dir = db.parent().expect("data dir").to_owned();
    let away = dir.with_file_name("data-away");
    let session = app.signup().await;
    for day in ["2026-01-01", "2026-01-02"] {
        app.created_entry(&session.access, &entry(day)).await;
    }

    std::fs::rename(&dir, &away).expect("move the directory away");
    // The very next write is refused: never acknowledged into a file that is no longer there.
    let response = app.create_entry(&session.access, &entry("2026-02-01")).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "Database unavailable").await;
    settles_on(Duration::from_secs(3), "reads answer 503", 200, 503, || async {
        status_of(app.list_entries(&session.access, "").await).await
    })
    .await;
    assert_error(
        app.list_entries(&session.access, "").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
    )
    .await;
    assert_error(
        app.login(&session.email, "Secret123").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
    )
    .await;
    let health = json_body(app.health().await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(health["services"]["database"], "disconnected", "{health}");
    assert_eq!(app.health_live().await.status(), StatusCode::OK);

    std::fs::rename(&away, &dir).expect("move the directory back");
    settles_on(Duration::from_secs(3), "the database is back", 503, 200, || async {
        status_of(app.health().await).await
    })
    .await;
    app.created_entry(&session.access, &entry("2026-03-01")).await;
    assert_eq!(
        days_listed(&app, &session.access).await,
        ["2026-01-01", "2026-01-02", "2026-03-01"]
    );
    assert_eq!(integrity(&db).await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_database_directory_refuses_writes_with_503_instead_of_losing_them() {
    crate::process::install_crypto_provider();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let db = app.database.sqlite_path.clone().expect("sqlite path");
    let session = app.signup().await;
    app.created_entry(&session.access, &entry("2026-01-01")).await;

    std::fs::remove_dir_all(db.parent().expect("data dir")).expect("remove the directory");
    // SQLite would go on writing into the deleted file, and every acknowledged write would be lost.
    for day in ["2026-02-01", "2026-02-02"] {
        let response = app.create_entry(&session.access, &entry(day)).await;
        assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "Database unavailable").await;
    }
    settles_on(Duration::from_secs(3), "reads answer 503", 200, 503, || async {
        status_of(app.list_entries(&session.access, "").await).await
    })
    .await;
    let health = json_body(app.health().await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(health["services"]["database"], "disconnected", "{health}");
    assert_eq!(app.health_live().await.status(), StatusCode::OK);

    // An empty directory where the old one was is not the database back: still 503 (the data is
    // gone; a restart opens a new, empty database).
    std::fs::create_dir_all(db.parent().expect("data dir")).expect("recreate the directory");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let response = app.create_entry(&session.access, &entry("2026-02-03")).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "Database unavailable").await;
    let health = json_body(app.health().await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(health["services"]["database"], "disconnected", "{health}");
}
