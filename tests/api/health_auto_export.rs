//! `POST /import/health-auto-export`: the app's REST payload mapped onto the days like the Apple
//! Health export, on both backends; the fixtures' figures are those their .md files list.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::apple_health::{CALIFORNIA, entries, on};
use crate::helpers::*;

const JSON: &str = "application/json";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/health-auto-export/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn counts(body: &Value) -> (Option<u64>, Option<u64>, Option<u64>) {
    (
        body["created"].as_u64(),
        body["updated"].as_u64(),
        body["unchanged"].as_u64(),
    )
}

async fn push(app: &TestApp, access: &str, query: &str, body: Vec<u8>) -> Value {
    json_body(
        app.import_health_auto_export(access, query, JSON, body).await,
        StatusCode::OK,
    )
    .await
}

api_test! {
    async fn the_daily_push_fills_each_day_by_the_mapping(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        let body = push(&app, &session.access, "", fixture("daily.json")).await;
        assert_eq!(body["status"], "success");
        assert_eq!(counts(&body), (Some(2), Some(0), Some(0)));
        assert_eq!((body["recordsRead"].as_u64(), body["recordsUsed"].as_u64()), (Some(16), Some(16)));
        assert_eq!(body["skippedTypes"], json!({}));
        assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("2024-06-01"), Some("2024-06-02")));

        let entries = entries(&app, &session.access).await;
        let first = on(&entries, "2024-06-01");
        assert_eq!(first["steps"], 9412);
        assert_eq!(first["activeEnergy"], 514, "2152.36 kJ");
        assert_eq!(first["calories"], 2140);
        assert_eq!(first["waterIntake"], 7.4, "1750 mL in cups");
        assert_eq!(first["weight"], 74.3, "163.8 lb in kg");
        assert_eq!(first["heartRate"], 73);
        assert_eq!(first["restingHeartRate"], 57);
        assert_eq!(first["bloodPressure"], json!({"systolic": 121, "diastolic": 79}));
        assert_eq!(first["sleep"], 7.36);
        assert_eq!(first["workouts"], true);
        let second = on(&entries, "2024-06-02");
        assert_eq!(second["steps"], 3187);
        assert_eq!(second["activeEnergy"], 168);
        assert_eq!(second["waterIntake"], 2.1);
        assert_eq!(second["heartRate"], 69);
        assert_eq!(second["restingHeartRate"], 58);
        assert_eq!(second["sleep"], 6.48);
        assert_eq!(second["workouts"], false);
    }
}

api_test! {
    async fn the_finer_push_gives_the_busier_device_merged_sleep_and_fluid_ounces(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        let body = push(&app, &session.access, "", fixture("finer.json")).await;
        assert_eq!(counts(&body), (Some(2), Some(0), Some(0)));
        assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("2024-06-02"), Some("2024-06-03")));
        let entries = entries(&app, &session.access).await;
        let day = on(&entries, "2024-06-02");
        assert_eq!(day["steps"], 1156, "the iPhone's, never phone + watch");
        assert_eq!(day["activeEnergy"], 13);
        assert_eq!(day["calories"], 1957);
        assert_eq!(day["waterIntake"], 3.0, "24 fl oz");
        assert_eq!(day["weight"], 74.9);
        assert_eq!(day["restingHeartRate"], 58);
        assert_eq!(day["bloodPressure"], json!({"systolic": 118, "diastolic": 77}));
        assert_eq!(day["heartRate"], 77);
        assert_eq!(day["sleep"], 6.5);
        assert_eq!(day["workouts"], true);
        assert_eq!(on(&entries, "2024-06-03")["steps"], 21);
    }
}

api_test! {
    async fn a_repeated_or_overlapping_push_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        push(&app, &session.access, "", fixture("daily.json")).await;
        let before = entries(&app, &session.access).await;
        for query in ["", "?onConflict=fill", "?onConflict=replace"] {
            let again = push(&app, &session.access, query, fixture("daily.json")).await;
            assert_eq!(counts(&again), (Some(0), Some(0), Some(2)), "{query}");
        }
        assert_eq!(entries(&app, &session.access).await, before, "not even updatedAt moved");
        // An overlapping push holding one of the days again, with the same points.
        let mut overlap: Value = serde_json::from_slice(&fixture("daily.json")).expect("fixture");
        for metric in overlap["data"]["metrics"].as_array_mut().expect("metrics") {
            if let Some(points) = metric["data"].as_array_mut() {
                points.retain(|p| p["date"].as_str().is_some_and(|d| d.starts_with("2024-06-02")));
            }
        }
        overlap["data"]["workouts"] = json!([]);
        let again = push(&app, &session.access, "?onConflict=replace", overlap.to_string().into_bytes()).await;
        assert_eq!(counts(&again), (Some(0), Some(0), Some(1)));
        assert_eq!(entries(&app, &session.access).await, before);
    }
}

api_test! {
    async fn fill_keeps_what_the_person_typed_and_replace_overwrites(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        app.created_entry(&session.access, &json!({"date": "2024-06-01", "steps": 4000, "weight": 80, "notes": "typed"})).await;
        let body = push(&app, &session.access, "?onConflict=fill", fixture("daily.json")).await;
        assert_eq!(counts(&body), (Some(1), Some(1), Some(0)));
        let now = entries(&app, &session.access).await;
        let day = on(&now, "2024-06-01");
        assert_eq!((day["steps"].as_f64(), day["weight"].as_f64()), (Some(4000.0), Some(80.0)), "what the person typed wins");
        assert_eq!(day["sleep"], 7.36, "a missing field is filled");
        assert_eq!(day["notes"], "typed");

        let body = push(&app, &session.access, "?onConflict=replace", fixture("daily.json")).await;
        assert_eq!(counts(&body), (Some(0), Some(1), Some(1)));
        let now = entries(&app, &session.access).await;
        let day = on(&now, "2024-06-01");
        assert_eq!((day["steps"].as_f64(), day["weight"].as_f64()), (Some(9412.0), Some(74.3)));
        assert_eq!(day["notes"], "typed", "the fields the device has no figure for stay");
    }
}

/// A push of today so far: one step point in UTC at local midnight (a daily point).
fn today_push(steps: u64) -> Vec<u8> {
    let today = chrono::Utc::now().format("%Y-%m-%d 00:00:00 +0000").to_string();
    json!({"data": {"metrics": [{"name": "step_count", "units": "count", "data": [
        {"date": today, "qty": steps, "source": "iPhone"}]}]}})
    .to_string()
    .into_bytes()
}

api_test! {
    async fn fill_leaves_today_for_a_later_push_and_replace_follows_it(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = push(&app, &session.access, "", today_push(500)).await;
        assert_eq!(counts(&body), (Some(0), Some(0), Some(0)));
        assert_eq!(body["recordsUsed"], 1);
        assert_eq!(body["to"], Value::Null);
        assert!(entries(&app, &session.access).await.is_empty(), "a partial day is not a day's figure");
        let body = push(&app, &session.access, "?onConflict=replace", today_push(500)).await;
        assert_eq!(counts(&body), (Some(1), Some(0), Some(0)));
        let body = push(&app, &session.access, "?onConflict=replace", today_push(4200)).await;
        assert_eq!(counts(&body), (Some(0), Some(1), Some(0)));
        let now = entries(&app, &session.access).await;
        assert_eq!(now.first().map(|e| e["steps"].clone()), Some(json!(4200)));
    }
}

api_test! {
    async fn other_metrics_are_counted_in_skipped_types(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        let payload = json!({"data": {"metrics": [
            {"name": "flights_climbed", "units": "count", "data": [
                {"date": "2024-06-01 00:00:00 -0700", "qty": 12, "source": "iPhone"},
                {"date": "2024-06-02 00:00:00 -0700", "qty": 9, "source": "iPhone"}]},
            {"name": "step_count", "units": "count", "data": [
                {"date": "2024-06-01 00:00:00 -0700", "qty": 8000, "source": "iPhone"}]}
        ]}});
        let body = push(&app, &session.access, "", payload.to_string().into_bytes()).await;
        assert_eq!(body["skippedTypes"], json!({"flights_climbed": 2}));
        assert_eq!((body["recordsRead"].as_u64(), body["recordsUsed"].as_u64()), (Some(3), Some(1)));
        assert_eq!(counts(&body), (Some(1), Some(0), Some(0)));
    }
}

api_test! {
    async fn a_bad_payload_is_400_and_writes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        let mut truncated = fixture("daily.json");
        truncated.truncate(truncated.len() / 2);
        for (what, body) in [
            ("malformed", b"{\"data\": {\"metrics\": [".to_vec()),
            ("truncated", truncated),
            ("empty", Vec::new()),
            ("not the shape", b"{\"metrics\": []}".to_vec()),
            ("data not an object", b"{\"data\": [1, 2]}".to_vec()),
            ("metrics not a list", b"{\"data\": {\"metrics\": {\"name\": \"step_count\"}}}".to_vec()),
        ] {
            let response = app.import_health_auto_export(&session.access, "", JSON, body).await;
            let error = json_body(response, StatusCode::BAD_REQUEST).await;
            assert_eq!(error["status"], "error", "{what}");
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.starts_with("Not a Health Auto Export payload"), "{what}: {message}");
        }
        let response = app.import_health_auto_export(&session.access, "?onConflict=merge", JSON, fixture("daily.json")).await;
        assert_eq!(detail_paths(&assert_invalid(response).await), vec!["onConflict".to_owned()]);
        let response = app.import_health_auto_export(&session.access, "", "text/plain", fixture("daily.json")).await;
        assert_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json").await;
        let response = app.import_health_auto_export("not-a-token", "", JSON, fixture("daily.json")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(entries(&app, &session.access).await.is_empty());
    }
}

api_test! {
    async fn a_push_over_the_body_limit_is_413_and_writes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        let point = r#"{"date": "2024-06-01 08:00:00 -0700", "qty": 1, "source": "iPhone"},"#;
        let mut body = String::from(r#"{"data": {"metrics": [{"name": "step_count", "units": "count", "data": ["#);
        while body.len() <= 10 * 1024 * 1024 {
            body.push_str(point);
        }
        body.push_str(r#"{"date": "2024-06-01 08:00:00 -0700", "qty": 1}]}]}}"#);
        let response = app.import_health_auto_export(&session.access, "", JSON, body.into_bytes()).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(entries(&app, &session.access).await.is_empty());
    }
}
