//! A user's own requests racing each other: writes in flight while the account is deleted, and a
//! refresh in flight while its login is ended. Each is tried many times; no trial may end in a 5xx,
//! an orphaned row, or a token that still works.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

/// The user's entries still in the database (by owner, whether or not the account exists).
async fn entries_left(app: &TestApp, user: &str) -> u64 {
    if let Some(path) = &app.database.sqlite_path {
        let connection = rusqlite::Connection::open(path).expect("open the database");
        let count: i64 = connection
            .query_row("SELECT count(*) FROM entries WHERE user_id = ?1", [user], |r| r.get(0))
            .expect("count");
        return count as u64;
    }
    let id = mongodb::bson::oid::ObjectId::parse_str(user).expect("object id");
    app.database
        .mongo_db()
        .await
        .collection::<mongodb::bson::Document>("entries")
        .count_documents(mongodb::bson::doc! {"user": id})
        .await
        .expect("count")
}

fn day(n: u64) -> String {
    let first = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("a day");
    (first + chrono::Days::new(n)).format("%Y-%m-%d").to_string()
}

/// Posts entries (and, for writer 0, imports) for `session` until `stop`; every status seen.
async fn write_until(
    app: Arc<TestApp>,
    session: Session,
    writer: u64,
    stop: Arc<AtomicBool>,
) -> Vec<(String, StatusCode)> {
    let mut seen = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let base = writer * 10_000 + n * 20;
        n += 1;
        if writer == 0 {
            let entries: Vec<Value> = (0..20).map(|i| json!({"date": day(base + i), "steps": i})).collect();
            let document = json!({"format": "healthtracker-export", "version": 1, "entries": entries});
            let response = app.import(&session.access, "", &document).await;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            seen.push((format!("import: {text}"), status));
        } else {
            let response = app.create_entry(&session.access, &json!({"date": day(base)})).await;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            seen.push((format!("POST /entries: {text}"), status));
        }
    }
    seen
}

api_test!(
    async fn writes_racing_the_deletion_of_their_account_answer_401_and_leave_nothing(backend) {
        let app = Arc::new(TestApp::spawn(backend).await);
        let mut answers = Vec::new();
        for _trial in 0..6 {
            let session = app.signup().await;
            let stop = Arc::new(AtomicBool::new(false));
            let writers: Vec<_> = (0..6)
                .map(|writer| tokio::spawn(write_until(Arc::clone(&app), session.clone(), writer, Arc::clone(&stop))))
                .collect();
            tokio::time::sleep(Duration::from_millis(30)).await;
            json_body(app.delete_me(&session.access, PASSWORD).await, StatusCode::OK).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            stop.store(true, Ordering::Relaxed);
            for writer in writers {
                answers.extend(writer.await.expect("writer"));
            }
            assert_eq!(entries_left(&app, &session.user_id).await, 0, "orphaned entries after the deletion");
        }
        for (what, status) in &answers {
            assert!(
                [StatusCode::OK, StatusCode::CREATED, StatusCode::UNAUTHORIZED].contains(status),
                "{status} for {what}"
            );
        }
        assert!(answers.iter().any(|(_, s)| *s == StatusCode::UNAUTHORIZED), "no write came late");
        assert!(answers.iter().any(|(_, s)| *s == StatusCode::CREATED), "no write came early");
    }
);

/// After a refresh raced the end of its login: whatever it handed out is refused, again and again.
async fn assert_nothing_works(app: &TestApp, refreshed: reqwest::Response, old_refresh: &str) {
    let status = refreshed.status();
    let body: Value = refreshed.json().await.unwrap_or_default();
    assert_error_status(app.refresh(&json!({"refreshToken": old_refresh})).await).await;
    match status {
        StatusCode::OK => {
            let access = body["accessToken"].as_str().unwrap_or_default();
            let refresh = body["refreshToken"].as_str().unwrap_or_default().to_owned();
            assert_error_status(app.me(access).await).await;
            for _ in 0..3 {
                assert_error_status(app.refresh(&json!({"refreshToken": refresh})).await).await;
            }
        }
        StatusCode::UNAUTHORIZED => {}
        other => panic!("the racing refresh answered {other}: {body}"),
    }
}

async fn assert_error_status(response: reqwest::Response) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a token handed out by a refresh that lost the race works: {text}"
    );
}

const TRIALS: usize = 16;

api_test!(
    async fn a_refresh_racing_logout_everywhere_hands_out_nothing_that_works(backend) {
        let app = TestApp::builder(backend).env("RATE_LIMIT_MAX_REQUESTS", "100000").spawn().await;
        let session = app.signup().await;
        for _trial in 0..TRIALS {
            let login = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
            let (access, refresh) = (
                login["accessToken"].as_str().unwrap_or_default(),
                login["refreshToken"].as_str().unwrap_or_default(),
            );
            let body = json!({"refreshToken": refresh});
            let (refreshed, ended) = tokio::join!(
                app.refresh(&body),
                app.logout_all(access)
            );
            json_body(ended, StatusCode::OK).await;
            assert_nothing_works(&app, refreshed, refresh).await;
        }
    }
);

api_test!(
    async fn a_refresh_racing_the_end_of_its_session_hands_out_nothing_that_works(backend) {
        let app = TestApp::builder(backend).env("RATE_LIMIT_MAX_REQUESTS", "100000").spawn().await;
        let manager = app.signup().await;
        for _trial in 0..TRIALS {
            let login = json_body(app.login(&manager.email, PASSWORD).await, StatusCode::OK).await;
            let (access, refresh) = (
                login["accessToken"].as_str().unwrap_or_default(),
                login["refreshToken"].as_str().unwrap_or_default(),
            );
            let sid = claims(access)["sid"].as_str().unwrap_or_default().to_owned();
            let body = json!({"refreshToken": refresh});
            let (refreshed, ended) = tokio::join!(
                app.refresh(&body),
                app.end_session(&manager.access, &sid)
            );
            json_body(ended, StatusCode::OK).await;
            assert_nothing_works(&app, refreshed, refresh).await;
        }
        // The login that ended the others is untouched.
        json_body(app.me(&manager.access).await, StatusCode::OK).await;
    }
);
