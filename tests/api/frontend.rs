//! The existing React frontend against this server (issue 24, API.md "Entries"): the shapes its
//! pages read — the bare array of `GET /api/entries` (its history calls `.map` on the body), the
//! dashboard's figures at the top level with `sleepHours`, `sleepHours` on every entry — and a
//! validation `message` that says which rule failed (its forms show nothing else). The root mount
//! keeps the upgraded backend's envelope for scripts written against it.

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

/// What the frontend's "Add entry" form posts: numbers as strings, `''` for blanks, `sleepHours`.
fn form_entry(date: &str) -> Value {
    json!({
        "date": date, "calories": "2150", "sleepHours": "7.5", "steps": "8432", "heartRate": "",
        "mood": "good", "waterIntake": "6", "symptoms": ["Fatigue"], "notes": "Felt fine"
    })
}

api_test!(
    async fn the_frontends_pages_read_real_figures(backend) {
        let app = TestApp::spawn(backend).await;
        // Register as its register page does: it keeps `user` and `token`.
        let email = format!("front-{}@example.com", hex_id());
        let body = json_body(
            app.register(&json!({"name": "Front End", "email": email, "password": "Front-end-42"})).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(body["user"]["email"], email.as_str());
        let token = body["token"].as_str().expect("token").to_owned();

        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        app.created_entry(&token, &form_entry(&today)).await;

        // Dashboard.jsx: `response.data.calories`, `.sleepHours`, `.steps`, `.heartRate`, `.mood`,
        // `.waterIntake` — at the top level, and the same figures in `data`.
        let summary = json_body(app.dashboard(&token, "").await, StatusCode::OK).await;
        assert_eq!(summary["status"], "success");
        for (field, value) in [
            ("calories", json!(2150)),
            ("sleepHours", json!(7.5)),
            ("sleep", json!(7.5)),
            ("steps", json!(8432)),
            ("heartRate", json!(0)),
            ("mood", json!("good")),
            ("waterIntake", json!(6)),
            ("symptoms", json!(["Fatigue"])),
            ("workouts", json!(0)),
        ] {
            assert_eq!(summary[field], value, "top-level {field}: {summary}");
            assert_eq!(summary["data"][field], value, "data.{field}: {summary}");
        }
        assert_eq!(summary["date"], format!("{today}T00:00:00.000Z"));

        // History.jsx: `response.data.map(entry => … entry.sleepHours …)`.
        let list = json_body(app.list_entries(&token, "").await, StatusCode::OK).await;
        let entries = list.as_array().expect("GET /api/entries is a bare array");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["sleepHours"], 7.5);
        assert_eq!(entries[0]["sleep"], 7.5);
        assert_eq!(entries[0]["id"], entries[0]["_id"]);
        assert_eq!(entries[0]["symptoms"], json!(["Fatigue"]));
    }
);

api_test!(
    async fn the_list_is_an_array_under_api_and_the_envelope_at_the_root(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for day in ["2026-03-01", "2026-03-02", "2026-03-03"] {
            app.created_entry(&session.access, &json!({"date": day, "sleep": 8})).await;
        }
        let bare = json_body(app.list_entries(&session.access, "?limit=2").await, StatusCode::OK).await;
        let root = json_body(app.list_entries_root(&session.access, "?limit=2").await, StatusCode::OK).await;
        assert_eq!(bare.as_array().map(Vec::len), Some(2), "{bare}");
        assert_eq!(bare[0]["date"], "2026-03-03T00:00:00.000Z");
        assert_eq!(
            root.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["status".to_owned(), "count".to_owned(), "data".to_owned()])
        );
        assert_eq!((root["status"].clone(), root["count"].clone()), (json!("success"), json!(2)));
        assert_eq!(root["data"], bare, "the same page in both shapes");
        // A trailing slash is the same route under each mount.
        let slash = app.get("/api/entries/?limit=2").bearer_auth(&session.access).send().await.expect("request");
        assert_eq!(json_body(slash, StatusCode::OK).await, bare);
        let slash = app.get("/entries/?limit=2").bearer_auth(&session.access).send().await.expect("request");
        assert_eq!(json_body(slash, StatusCode::OK).await, root);

        // Each shape has its own validator, and each revalidates to 304.
        for path in ["/api/entries?limit=2", "/entries?limit=2"] {
            let first = app.get(path).bearer_auth(&session.access).send().await.expect("request");
            let tag = first.headers()[ETAG].clone();
            let again = app
                .get(path)
                .bearer_auth(&session.access)
                .header(IF_NONE_MATCH, tag)
                .send()
                .await
                .expect("request");
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        }
        let tag = |path: &'static str| {
            let request = app.get(path).bearer_auth(&session.access);
            async move { request.send().await.expect("request").headers()[ETAG].clone() }
        };
        assert_ne!(tag("/api/entries").await, tag("/entries").await);

        // Errors are the envelope under both mounts.
        assert_invalid(app.list_entries(&session.access, "?limit=0").await).await;
        assert_invalid(app.list_entries_root(&session.access, "?limit=0").await).await;
        let response = app.get("/api/entries").send().await.expect("request");
        assert_error(response, StatusCode::UNAUTHORIZED, "No token provided").await;
    }
);

api_test!(
    async fn every_entry_document_carries_sleep_hours(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let created = app.created_entry(&session.access, &json!({"date": "2026-04-01", "sleep": "6.25"})).await;
        assert_eq!((created["sleep"].clone(), created["sleepHours"].clone()), (json!(6.25), json!(6.25)));
        let id = created["id"].as_str().expect("id").to_owned();

        let fetched = json_body(app.get_entry(&session.access, &id).await, StatusCode::OK).await;
        assert_eq!(fetched["data"]["sleepHours"], 6.25);
        // Changed through either name, both names follow.
        let updated = json_body(app.update_entry(&session.access, &id, &json!({"sleepHours": 9})).await, StatusCode::OK).await;
        assert_eq!((updated["data"]["sleep"].clone(), updated["data"]["sleepHours"].clone()), (json!(9), json!(9)));
        let updated = json_body(app.update_entry(&session.access, &id, &json!({"sleep": 5.5})).await, StatusCode::OK).await;
        assert_eq!(updated["data"]["sleepHours"], 5.5);

        let listed = json_body(app.list_entries(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(listed[0]["sleepHours"], 5.5);
        let listed = json_body(app.list_entries_root(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(listed["data"][0]["sleepHours"], 5.5);
        assert_eq!(listed["data"][0], updated["data"], "the listed document is the one answered");

        // The export writes entries in their API shape, and imports back.
        let export = json_body(app.export(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(export["entries"][0]["sleepHours"], 5.5);
        let other = app.signup().await;
        let imported = json_body(app.import(&other.access, "", &export).await, StatusCode::OK).await;
        assert_eq!(imported["created"], 1, "{imported}");
        let listed = json_body(app.list_entries(&other.access, "").await, StatusCode::OK).await;
        assert_eq!((listed[0]["sleep"].clone(), listed[0]["sleepHours"].clone()), (json!(5.5), json!(5.5)));
    }
);

api_test!(
    async fn a_validation_message_names_the_first_failing_rule(backend) {
        let app = TestApp::spawn(backend).await;
        // The register page shows only `message`: it must say why the password was refused.
        for (password, message) in [
            ("Password1", "Password is too easy to guess (a common password, word, name or pattern); choose a less predictable one"),
            ("abc", "Password must be between 6 and 128 characters"),
            (
                "lowercase1",
                "Password must contain at least one uppercase letter, one lowercase letter, and one number (or be a passphrase of at least 12 characters)",
            ),
        ] {
            let response = app
                .register(&json!({"name": "Pat", "email": format!("p-{}@example.com", hex_id()), "password": password}))
                .await;
            let body = assert_error(response, StatusCode::BAD_REQUEST, message).await;
            assert_eq!(detail_paths(&body), ["password"], "{body}");
            assert!(body["details"][0].get("value").is_none(), "a password is never echoed: {body}");
        }

        // Several failures: the first one is the message, every one is still in `details`.
        let session = app.signup().await;
        let response = app
            .create_entry(&session.access, &json!({"date": "2026-05-01", "calories": 10001, "sleep": 25, "mood": "meh"}))
            .await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "Calories must be an integer between 0 and 10000").await;
        assert_eq!(detail_paths(&body), ["calories", "sleep", "mood"]);
        assert_eq!(body["details"][0]["value"], 10001);

        // Under the root mount too, and for query parameters.
        let response = app
            .post("/entries")
            .bearer_auth(&session.access)
            .json(&json!({"calories": 5}))
            .send()
            .await
            .expect("request");
        assert_error(response, StatusCode::BAD_REQUEST, "Date is required").await;
        let body = assert_invalid(app.list_entries_root(&session.access, "?limit=ten").await).await;
        assert_eq!(body["message"], "limit must be an integer between 1 and 366");
    }
);

/// An SQLite file written before entry documents carried `sleepHours` (their stored documents lack
/// it): the migration gives each one the field, with the stored number copied as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_documents_from_before_get_sleep_hours_when_migrated() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    for (day, sleep) in [
        ("2026-06-01", json!(7.3)),
        ("2026-06-02", json!(8)),
        ("2026-06-03", json!(0.1)),
    ] {
        app.created_entry(
            &session.access,
            &json!({"date": day, "sleep": sleep, "notes": "é \"quoted\" <3"}),
        )
        .await;
    }
    let before = json_body(app.list_entries(&session.access, "").await, StatusCode::OK).await;
    let database = std::sync::Arc::clone(&app.database);
    app.stop().await.expect("server stops");

    let path = database.sqlite_path.clone().expect("an SQLite file");
    {
        let connection = rusqlite::Connection::open(&path).expect("open the database");
        // Documents as an earlier version stored them: without `sleepHours`, in another format.
        let old = connection
            .execute(
                "UPDATE entries SET document = json_remove(document, '$.sleepHours'), document_format = NULL",
                [],
            )
            .expect("documents as an earlier version stored them");
        assert_eq!(old, 3);
    }

    let restarted = TestApp::builder(Backend::Sqlite).database(database).spawn().await;
    let after = json_body(restarted.list_entries(&session.access, "").await, StatusCode::OK).await;
    assert_eq!(after, before);
    let rows: Vec<String> = {
        let connection = rusqlite::Connection::open(&path).expect("open the database");
        let mut statement = connection
            .prepare("SELECT document FROM entries ORDER BY day")
            .expect("query");
        statement
            .query_map([], |row| row.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("documents")
    };
    // Byte for byte what the server renders now (no number re-formatted, nothing else touched).
    for (row, entry) in rows.iter().zip(after.as_array().expect("array").iter().rev()) {
        let fetched = json_body(
            restarted
                .get_entry(&session.access, entry["id"].as_str().expect("id"))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(row, &serde_json::to_string(&fetched["data"]).expect("JSON"));
        assert!(row.ends_with(&format!(",\"sleepHours\":{}}}", entry["sleep"])), "{row}");
    }
}
