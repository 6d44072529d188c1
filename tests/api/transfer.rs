//! Moving an installation (`healthtracker copy-data`) from SQLite to the MongoDB-wire server and
//! back, and an online backup of the embedded store (`healthtracker backup`), through the real binary.

use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use healthtracker::domain::coach::{HistoryMessage, Role};
use healthtracker::domain::ids::UserId;
use healthtracker::domain::user::{Email, User, UserName};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn healthtracker(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_healthtracker"))
        .args(&args)
        // Nothing of the test process's environment (or a .env) decides what these commands do.
        .env_remove("DATABASE_URL")
        .env_remove("MONGO_URI")
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .expect("run healthtracker")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn copy_data(from: &Database, to: &Database, merge: bool) -> Output {
    let mut args = vec!["copy-data", "--from", from.url.as_str(), "--to", to.url.as_str()];
    if merge {
        args.push("--merge");
    }
    healthtracker(&args).await
}

fn user_id(session: &Session) -> UserId {
    UserId::parse(&session.user_id).expect("a user id")
}

/// What must survive each move.
struct Installation {
    alice: Session,
    bob: Session,
    legacy_email: String,
    /// Logged out on the source: refused everywhere after.
    logged_out_access: String,
    /// Alice's personal access token (issue 21): moves with her, as a hash.
    alice_personal: String,
    alice_entries: Value,
    bob_entries: Value,
    alice_goals: Value,
}

async fn entries_of(app: &TestApp, access: &str) -> Value {
    json_body(app.list_entries_root(access, "?limit=366").await, StatusCode::OK).await["data"].clone()
}

async fn populate(app: &TestApp) -> Installation {
    let (alice, bob) = (app.signup().await, app.signup().await);
    json_body(
        app.update_me(&alice.access, &json!({"timezone": "Asia/Kolkata"})).await,
        StatusCode::OK,
    )
    .await;
    for day in ["2026-11-01", "2026-11-02", "2026-11-30"] {
        app.created_entry(
            &alice.access,
            &json!({"date": day, "calories": 2100, "sleep": 7.5, "workouts": true, "heartRate": 61, "steps": 9876,
                    "waterIntake": 6, "mood": "excellent", "symptoms": ["headache", "tired"], "notes": "every field, \"quoted\"",
                    "foodIntake": [{"meal": "breakfast", "food": "Oats", "calories": 300}, {"meal": "snack", "food": "Apple", "calories": 80}]}),
        )
        .await;
    }
    // The body measurements and goals (issue 20) move too.
    app.created_entry(
        &alice.access,
        &json!({"date": "2026-11-03", "weight": 71.4, "restingHeartRate": 55,
                "bloodPressure": {"systolic": 118, "diastolic": 76}, "activeEnergy": 420}),
    )
    .await;
    let goals = json!({"steps": {"min": 8000}, "weight": {"max": 70}, "sleep": {"min": 7, "max": 9}});
    json_body(app.put_goals(&alice.access, &goals).await, StatusCode::OK).await;
    app.created_entry(&bob.access, &json!({"date": "2026-10-10", "calories": 1500}))
        .await;
    // An account of the old backend: a bcrypt hash, no time zone.
    let legacy_email = format!("old-{}@example.com", hex_id());
    let now = Utc::now();
    let legacy = User {
        id: UserId::new(),
        name: UserName::from_stored("Old Timer".to_owned()),
        email: Email::from_stored(legacy_email.clone()),
        password_hash: bcrypt::hash(PASSWORD, 4).expect("bcrypt"),
        timezone: None,
        created_at: now,
        updated_at: now,
    };
    app.store.insert_user(&legacy).await.expect("legacy user");
    // A second login of Alice's, logged out: its access token is refused from then on.
    let second = json_body(app.login(&alice.email, PASSWORD).await, StatusCode::OK).await;
    let logged_out_access = second["accessToken"].as_str().unwrap_or_default().to_owned();
    let refresh = second["refreshToken"].as_str().unwrap_or_default().to_owned();
    let out = app
        .logout(&logged_out_access, Some(&json!({"refreshToken": refresh})))
        .await;
    assert_eq!(out.status(), StatusCode::OK);
    let history = [
        ("How do I sleep better?", Role::User),
        ("A regular bedtime.", Role::Assistant),
    ]
    .map(|(c, role)| HistoryMessage {
        role,
        content: c.to_owned(),
        created_at: now,
    });
    app.store
        .append_ai_messages(user_id(&alice), &history, 200)
        .await
        .expect("history");
    let personal = app
        .created_token(&alice.access, &json!({"name": "script", "scopes": ["entries:read"]}))
        .await;
    Installation {
        alice_personal: personal["token"].as_str().unwrap_or_default().to_owned(),
        alice_entries: entries_of(app, &alice.access).await,
        bob_entries: entries_of(app, &bob.access).await,
        alice_goals: json_body(app.goals(&alice.access).await, StatusCode::OK).await["data"].clone(),
        alice,
        bob,
        legacy_email,
        logged_out_access,
    }
}

/// Everyone signs in with their password, old tokens work (or stay refused), nothing changed.
/// Returns Alice's refresh token after a rotation on this installation.
async fn assert_moved(app: &TestApp, before: &Installation, alice_refresh: &str) -> String {
    for email in [&before.alice.email, &before.bob.email, &before.legacy_email] {
        let response = app.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{email} cannot log in");
    }
    // The access tokens of the source work here: same secret, their login came along.
    assert_eq!(entries_of(app, &before.alice.access).await, before.alice_entries);
    assert_eq!(entries_of(app, &before.bob.access).await, before.bob_entries);
    let with_token = app
        .get("/entries?limit=366")
        .bearer_auth(&before.alice_personal)
        .send()
        .await
        .expect("request");
    assert_eq!(
        json_body(with_token, StatusCode::OK).await["data"],
        before.alice_entries,
        "the personal token did not move"
    );
    let goals = json_body(app.goals(&before.alice.access).await, StatusCode::OK).await;
    assert_eq!(goals["data"], before.alice_goals, "the goals did not move");
    assert_ne!(before.alice_goals, json!({}));
    let me = json_body(app.me(&before.alice.access).await, StatusCode::OK).await;
    assert_eq!(me["user"]["timezone"], "Asia/Kolkata", "{me}");
    let refused = app.list_entries(&before.logged_out_access, "").await;
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "a logged-out token came back to life"
    );
    let history = json_body(app.ai_history(&before.alice.access, "").await, StatusCode::OK).await;
    assert_eq!(history["count"], 2);
    assert_eq!(history["data"][1]["content"], "A regular bedtime.");
    let refreshed = json_body(
        app.refresh(&json!({"refreshToken": alice_refresh})).await,
        StatusCode::OK,
    )
    .await;
    refreshed["refreshToken"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_mongodb_and_back_with_everyone_still_signed_in() {
    if !crate::mongo_server::available() {
        return;
    }
    let source = TestApp::spawn(Backend::Sqlite).await;
    let before = populate(&source).await;
    let source_counts = source.store.collection_counts().await.expect("counts");

    // SQLite → MongoDB, while the source keeps serving.
    let mongo = Arc::new(Database::fresh(Backend::MongoDb));
    let copied = copy_data(&source.database, &mongo, false).await;
    assert!(
        copied.status.success(),
        "{}\n{}",
        text(&copied.stdout),
        text(&copied.stderr)
    );
    let table = text(&copied.stdout);
    assert!(table.contains("entries") && table.contains("users copied 3"), "{table}");
    let on_mongo = TestApp::builder(Backend::MongoDb)
        .database(Arc::clone(&mongo))
        .spawn()
        .await;
    assert_eq!(on_mongo.store.collection_counts().await.expect("counts"), source_counts);
    let refresh = assert_moved(&on_mongo, &before, &before.alice.refresh).await;
    on_mongo.stop().await.expect("stop");

    // And back: MongoDB → a new SQLite file.
    let sqlite = Arc::new(Database::fresh(Backend::Sqlite));
    let back = copy_data(&mongo, &sqlite, false).await;
    assert!(back.status.success(), "{}\n{}", text(&back.stdout), text(&back.stderr));
    let on_sqlite = TestApp::builder(Backend::Sqlite)
        .database(Arc::clone(&sqlite))
        .spawn()
        .await;
    let refresh = assert_moved(&on_sqlite, &before, &refresh).await;
    assert!(!refresh.is_empty());
    let counts = on_sqlite.store.collection_counts().await.expect("counts");
    on_sqlite.stop().await.expect("stop");

    // A target with users is refused without --merge, and nothing is written to it.
    let refused = copy_data(&source.database, &sqlite, false).await;
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(
        message.contains("already holds") && message.contains("--merge"),
        "{message}"
    );

    // With --merge, twice: the first adds nothing the target lacks (it has it all), the second
    // neither; both succeed and the counts stay.
    for run in 1..=2 {
        let merged = copy_data(&source.database, &sqlite, true).await;
        let out = text(&merged.stdout);
        assert!(merged.status.success(), "run {run}: {out}\n{}", text(&merged.stderr));
        assert!(
            out.contains("users copied 0, merged 3, refused 0; entries copied 0"),
            "run {run}: {out}"
        );
    }
    let reopened = TestApp::builder(Backend::Sqlite)
        .database(Arc::clone(&sqlite))
        .spawn()
        .await;
    assert_eq!(reopened.store.collection_counts().await.expect("counts"), counts);
    reopened.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_adds_what_the_target_lacks_and_nothing_twice() {
    let source = TestApp::spawn(Backend::Sqlite).await;
    let first = source.signup().await;
    source
        .created_entry(&first.access, &json!({"date": "2026-11-01", "calories": 1}))
        .await;
    let target = Arc::new(Database::fresh(Backend::Sqlite));
    assert!(copy_data(&source.database, &target, false).await.status.success());
    // The source grows: a new day of the same user, a new user.
    source
        .created_entry(&first.access, &json!({"date": "2026-11-02", "calories": 2}))
        .await;
    let second = source.signup().await;
    source
        .created_entry(&second.access, &json!({"date": "2026-11-03", "calories": 3}))
        .await;
    let merged = copy_data(&source.database, &target, true).await;
    let out = text(&merged.stdout);
    assert!(merged.status.success(), "{out}");
    assert!(
        out.contains("users copied 1, merged 1, refused 0; entries copied 2"),
        "{out}"
    );
    let again = text(&copy_data(&source.database, &target, true).await.stdout);
    assert!(
        again.contains("users copied 0, merged 2, refused 0; entries copied 0"),
        "{again}"
    );
    let app = TestApp::builder(Backend::Sqlite)
        .database(Arc::clone(&target))
        .spawn()
        .await;
    assert_eq!(entries_of(&app, &first.access).await.as_array().map(Vec::len), Some(2));
    assert_eq!(
        app.store.collection_counts().await.expect("counts"),
        source.store.collection_counts().await.expect("counts")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused_with_a_clear_message() {
    let missing = healthtracker(&["copy-data", "--from", "sqlite:///tmp/x.db"]).await;
    assert_eq!(missing.status.code(), Some(2));
    // Named with the usage (clap's wording).
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains("--to <DATABASE_URL>") && stderr.contains("Usage: healthtracker copy-data"),
        "{stderr}"
    );
    let secret = "mysql://user:hunter2@db/x";
    let bad = healthtracker(&["copy-data", "--from", secret, "--to", "sqlite:///tmp/y.db"]).await;
    assert_eq!(bad.status.code(), Some(2));
    let stderr = text(&bad.stderr);
    assert!(
        stderr.contains("--from is not a database URL") && !stderr.contains("hunter2"),
        "{stderr}"
    );
    let mongo_backup = healthtracker(&["backup", "--from", "mongodb://127.0.0.1:1/x", "--to", "/tmp/b.db"]).await;
    assert_eq!(mongo_backup.status.code(), Some(2));
    assert!(text(&mongo_backup.stderr).contains("mongodump"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_is_verified_and_holds_every_acknowledged_entry() {
    let app = Arc::new(TestApp::spawn(Backend::Sqlite).await);
    let session = app.signup().await;
    // A writer that keeps creating entries, one day after another, noting each one acknowledged.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, acknowledged, stop, access) = (
            Arc::clone(&app),
            Arc::clone(&acknowledged),
            Arc::clone(&stop),
            session.access.clone(),
        );
        tokio::spawn(async move {
            let start = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");
            for n in 0..100_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let day = (start + chrono::Days::new(n)).format("%Y-%m-%d").to_string();
                let body = json!({"date": day, "calories": n, "notes": "x".repeat(500)});
                let created = app.created_entry(&access, &body).await;
                if let Some(id) = created["_id"].as_str() {
                    acknowledged.lock().expect("lock").push(id.to_owned());
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let acknowledged_before: Vec<String> = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged_before.len() > 20, "the writer is writing");

    let dir = tempfile::tempdir().expect("temp dir");
    let backup_path = dir.path().join("nightly").join("healthtracker-backup.db");
    let source_path = app.database.sqlite_path.clone().expect("a SQLite app");
    let source_url = format!("sqlite://{}", source_path.display());
    let backup_arg = backup_path.display().to_string();
    let output = healthtracker(&["backup", "--from", &source_url, "--to", &backup_arg]).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("integrity ok"), "{stdout}");
    // No partial file is left beside it.
    let names: Vec<String> = std::fs::read_dir(backup_path.parent().expect("dir"))
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names, ["healthtracker-backup.db"]);

    let backup = rusqlite::Connection::open(&backup_path).expect("open the backup");
    let integrity: String = backup
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(integrity, "ok");
    let mut in_backup = backup
        .prepare("SELECT id FROM entries WHERE user_id = ?1")
        .expect("query");
    let ids: std::collections::HashSet<String> = in_backup
        .query_map([&session.user_id], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("ids");
    let missing: Vec<&String> = acknowledged_before.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged entries missing from the backup",
        missing.len()
    );
    // Every write ended with a 201 before the writer stopped, so whatever the snapshot holds was
    // acknowledged too: nothing half-written, nothing invented.
    let all: std::collections::HashSet<String> = acknowledged.lock().expect("lock").iter().cloned().collect();
    let unknown = ids.iter().filter(|id| !all.contains(*id)).count();
    assert_eq!(unknown, 0, "the backup holds entries that were never acknowledged");

    // Restoring is copying the file into place: a server on it serves the same account.
    let restored_dir = tempfile::tempdir().expect("temp dir");
    let restored_path = restored_dir.path().join("healthtracker.db");
    std::fs::copy(&backup_path, &restored_path).expect("restore");
    let restored = TestApp::builder(Backend::Sqlite)
        .database(Arc::new(Database::sqlite_file(restored_path)))
        .spawn()
        .await;
    let response = restored.login(&session.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let listed = json_body(
        restored.list_entries_root(&session.access, "?limit=5").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["count"], 5);
}

/// A copy keeps who is an administrator, who is disabled, and every two-factor login (its secret,
/// its last accepted code, its unused recovery codes): on SQLite and on MongoDB as the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_keeps_roles_disabled_accounts_and_two_factor_login() {
    use crate::security_helpers::*;
    let (clock, start) = step_clock();
    let source = TestApp::builder(Backend::Sqlite).clock(&clock).spawn().await;
    let admin = source.admin().await;
    let (secret, codes) = source.enable_two_factor(&admin, start).await;
    let disabled = source.signup().await;
    let response = source.admin_disable(&admin.access, &disabled.user_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    // A recovery code used before the copy stays used.
    let challenge = source.challenge(&admin.email).await;
    let response = source
        .login_2fa(&json!({ "challengeToken": challenge, "recoveryCode": codes[0] }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let mut targets = vec![Backend::Sqlite];
    if crate::mongo_server::available() {
        targets.push(Backend::MongoDb);
    }
    for backend in targets {
        let database = Arc::new(Database::fresh(backend));
        let output = copy_data(&source.database, &database, false).await;
        assert!(output.status.success(), "{backend:?}: {}", text(&output.stderr));
        let target = TestApp::builder(backend).clock(&clock).database(database).spawn().await;
        let response = target.login(&disabled.email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{backend:?}");
        // The code accepted at setup stays accepted once; the next step's works.
        let challenge = target.challenge(&admin.email).await;
        let response = target
            .login_2fa(&json!({ "challengeToken": challenge, "code": code_at(&secret, start) }))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{backend:?}: a replay");
        let response = target
            .login_2fa(&json!({ "challengeToken": challenge, "recoveryCode": codes[0] }))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{backend:?}: a used recovery code"
        );
        let body = json_body(
            target
                .login_2fa(&json!({ "challengeToken": challenge, "recoveryCode": codes[1] }))
                .await,
            StatusCode::OK,
        )
        .await;
        let access = body["accessToken"].as_str().expect("access");
        let response = target.admin_users(access, "").await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}: still an administrator");
    }
}
