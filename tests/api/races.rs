//! A user's own requests racing each other: writes in flight while the account is deleted. Each is
//! tried many times; no trial may end in a 5xx or an orphaned row.

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
