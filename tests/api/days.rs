//! Calendar days at their edges: only days of the years 0001–9999 (after a timestamp is placed in
//! the user's zone) enter, wherever a day enters; a row an older version stored outside them is
//! still served (and `migrate` reports it); and every route places a timestamp the same way — only
//! `Z`/`+00:00` at exactly UTC midnight is the API's own form of a day.

use chrono::{NaiveDate, SecondsFormat};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

/// Why a day is refused (the answer's `message`: the first failing rule, in words).
const DATE_RULE: &str = "Date must be a valid date (YYYY-MM-DD or ISO 8601) from 0001-01-01 to 9999-12-31";

fn import_document(entries: Value) -> Value {
    json!({"format": "healthtracker-export", "version": 1, "entries": entries})
}

/// The `index`es of an import answer's `errors`.
fn error_indexes(body: &Value) -> Vec<u64> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["index"].as_u64()).collect())
        .unwrap_or_default()
}

api_test!(
    async fn a_day_outside_years_1_to_9999_is_refused_wherever_a_day_enters(backend) {
        let app = TestApp::spawn(backend).await;
        let utc = app.signup().await;
        let kiritimati = app.signup_in("Pacific/Kiritimati").await;
        for (session, date) in [
            // 23:30 UTC on 31 December of year 0, and 00:30 UTC on 1 January 10000.
            (&utc, "0000-01-01T00:30:00+01:00"),
            (&utc, "9999-12-31T23:30:00-01:00"),
            (&utc, "0000-06-01"),
            (&utc, "0000-06-01T00:00:00.000Z"),
            // Still 9999 in UTC, already 10000 at UTC+14.
            (&kiritimati, "9999-12-31T12:00:00Z"),
        ] {
            let body = assert_error(app.create_entry(&session.access, &json!({"date": date})).await, StatusCode::BAD_REQUEST, DATE_RULE).await;
            assert_eq!(detail_paths(&body), ["date"], "{date}: {body}");
        }
        // The first and the last day are days like any other.
        let first = app.created_entry(&utc.access, &json!({"date": "0001-01-01"})).await;
        assert_eq!(first["date"], "0001-01-01T00:00:00.000Z");
        let last = app.created_entry(&utc.access, &json!({"date": "9999-12-31T23:30:00Z"})).await;
        assert_eq!(last["date"], "9999-12-31T00:00:00.000Z");
        let last = app.created_entry(&kiritimati.access, &json!({"date": "9999-12-31T09:59:59Z"})).await;
        assert_eq!(last["date"], "9999-12-31T00:00:00.000Z");

        // An update cannot move a day there.
        let entry = app.created_entry(&utc.access, &json!({"date": "2026-01-15"})).await;
        let id = entry["id"].as_str().unwrap_or_default();
        for date in ["0000-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "0000-12-31"] {
            let body = assert_error(app.update_entry(&utc.access, id, &json!({"date": date})).await, StatusCode::BAD_REQUEST, DATE_RULE).await;
            assert_eq!(detail_paths(&body), ["date"], "{date}: {body}");
        }
        // Nor an import: those entries are listed as refused, the rest imported.
        let body = json_body(
            app.import(
                &utc.access,
                "",
                &import_document(json!([
                    {"date": "0000-01-01T00:30:00+01:00"},
                    {"date": "9999-12-31T23:30:00-01:00"},
                    // The old backend's local midnight of 31 December, year 0.
                    {"date": {"$date": "0000-12-30T23:00:00.000Z"}},
                    {"date": {"$date": {"$numberLong": "253402300800000"}}},
                    {"date": "2026-02-01"},
                ])),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!((body["created"].as_u64(), error_indexes(&body)), (Some(1), vec![0, 1, 2, 3]), "{body}");

        // Nor a query parameter.
        for (path, parameter) in [
            ("/api/entries?from=0000-12-01", "from"),
            ("/api/entries?to=0000-12-31", "to"),
            ("/api/entries/stats?from=0000-12-01&to=0001-01-31", "from"),
            ("/api/entries/stats?to=0000-12-31", "to"),
            ("/api/entries/dashboard/summary?date=0000-01-01", "date"),
        ] {
            let response = app.get(path).bearer_auth(&utc.access).send().await.expect("request");
            let message = format!("{parameter} must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31");
            let body = assert_error(response, StatusCode::BAD_REQUEST, &message).await;
            assert_eq!(detail_paths(&body), [parameter], "{path}: {body}");
        }
        // Ranges at the edges are answered, never stretched past them.
        for query in [
            "?from=9999-01-01&to=9999-12-31&bucket=month",
            "?from=9990-01-01&to=9999-12-31&bucket=week",
            "?from=0001-01-01&to=0001-12-31&bucket=week",
            "?to=0001-01-10&bucket=day",
        ] {
            let body = json_body(app.stats(&utc.access, query).await, StatusCode::OK).await;
            let buckets = body["data"].as_array().cloned().unwrap_or_default();
            assert!(!buckets.is_empty(), "{query}: {body}");
            for bucket in &buckets {
                for edge in ["start", "end"] {
                    let day = bucket[edge].as_str().unwrap_or_default();
                    assert!(("0001-01-01"..="9999-12-31").contains(&day) && day.len() == 10, "{query}: {bucket}");
                }
            }
        }
        let body = json_body(app.stats(&utc.access, "?to=0001-01-10&bucket=day").await, StatusCode::OK).await;
        assert_eq!(body["from"], "0001-01-01", "{body}");
        assert_eq!(body["data"][0]["daysLogged"], 1, "{body}");
    }
);

/// Moves an entry to `date` directly in the database, as a version of this server that let such
/// days in would have stored it (SQLite: the `day` column and the stored document; MongoDB: the
/// BSON date). `false` when the database cannot hold such a date: the MongoDB stand-in (mongoeco)
/// keeps dates as Python `datetime`s, years 1–9999 only, and refuses the write (a real MongoDB
/// holds any BSON date).
async fn store_as_an_older_version_did(app: &TestApp, id: &str, date: NaiveDate) -> bool {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    if let Some(path) = &app.database.sqlite_path {
        let connection = rusqlite::Connection::open(path).expect("open the database");
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        let changed = connection
            .execute(
                "UPDATE entries SET day = ?1, document = json_set(document, '$.date', ?2) WHERE id = ?3",
                rusqlite::params![
                    date.format("%Y-%m-%d").to_string(),
                    midnight.to_rfc3339_opts(SecondsFormat::Millis, true),
                    id
                ],
            )
            .expect("update");
        assert_eq!(changed, 1);
        return true;
    }
    let db = app.database.mongo_db().await;
    let done = db
        .collection::<mongodb::bson::Document>("entries")
        .update_one(
            mongodb::bson::doc! {"_id": mongodb::bson::oid::ObjectId::parse_str(id).expect("id")},
            mongodb::bson::doc! {"$set": {"date": mongodb::bson::DateTime::from_millis(midnight.timestamp_millis())}},
        )
        .await;
    match done {
        Ok(done) => {
            assert_eq!(done.matched_count, 1);
            true
        }
        Err(error) if error.to_string().contains("out of range") && crate::mongo_server::is_stand_in() => false,
        Err(error) => panic!("storing {date}: {error}"),
    }
}

/// `healthtracker migrate` on `url`: whether it succeeded, and what it wrote.
async fn run_migrate(url: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_healthtracker"))
        .arg("migrate")
        .current_dir(dir.path()) // no .env from the checkout
        .env("DATABASE_URL", url)
        .env_remove("MONGO_URI")
        .env("APP_ENV", "test")
        .env("LOG_FORMAT", "pretty")
        .env("LOG_LEVEL", "info")
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run healthtracker migrate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

api_test!(
    async fn a_day_outside_the_years_stored_by_an_older_version_is_served_and_reported(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let access = session.access.as_str();
        let before = NaiveDate::from_ymd_opt(-1, 12, 31).expect("year -1");
        let after = NaiveDate::from_ymd_opt(10000, 1, 1).expect("year 10000");
        let year_zero = NaiveDate::from_ymd_opt(0, 6, 1).expect("year 0");
        let mut odd = Vec::new();
        for (n, date) in [before, after, year_zero].into_iter().enumerate() {
            let entry = app.created_entry(access, &json!({"date": format!("2026-01-0{}", n + 1), "calories": 100})).await;
            let id = entry["id"].as_str().unwrap_or_default().to_owned();
            if !store_as_an_older_version_did(&app, &id, date).await {
                eprintln!(
                    "NOTE (days::a_day_outside_the_years_stored_by_an_older_version_is_served_and_reported): the \
                     MongoDB stand-in cannot hold a date of year {}; such documents are read in \
                     storage::mongo::documents::tests::dates_outside_the_years_still_read, and this test runs \
                     whole against a real MongoDB (TEST_MONGO_URI)",
                    date.format("%Y")
                );
                return;
            }
            odd.push((id, date));
        }
        let fine = app.created_entry(access, &json!({"date": "2026-03-01", "workouts": true})).await;

        // Every read survives them.
        json_body(app.stats(access, "").await, StatusCode::OK).await;
        json_body(app.stats(access, "?from=2026-01-01&to=2026-12-31&bucket=month").await, StatusCode::OK).await;
        json_body(app.dashboard(access, "?date=2026-03-01").await, StatusCode::OK).await;
        let listed = json_body(app.list_entries(access, "").await, StatusCode::OK).await;
        let listed: Vec<&str> = listed.as_array().into_iter().flatten().filter_map(|e| e["id"].as_str()).collect();
        for (id, date) in &odd {
            assert!(listed.contains(&id.as_str()), "{date} hidden from the list: {listed:?}");
            let body = json_body(app.get_entry(access, id).await, StatusCode::OK).await;
            assert_eq!(body["data"]["calories"], 100, "{date}: {body}");
            assert!(body["data"]["date"].as_str().is_some_and(|d| d.ends_with("T00:00:00.000Z")), "{date}: {body}");
            let body = json_body(app.update_entry(access, id, &json!({"calories": 200})).await, StatusCode::OK).await;
            assert_eq!(body["data"]["calories"], 200, "{date}: {body}");
            json_body(app.get_entry(access, id).await, StatusCode::OK).await;
        }
        let export = app.export(access, "").await;
        assert_eq!(export.status(), StatusCode::OK);
        let export: Value = serde_json::from_str(&export.text().await.expect("the whole export")).expect("JSON");
        assert_eq!(export["entries"].as_array().map(Vec::len), Some(4), "{export}");
        let csv = app.export(access, "?format=csv").await;
        assert_eq!(csv.status(), StatusCode::OK);
        let csv = csv.text().await.expect("the whole export");
        assert_eq!(csv.lines().count(), 5, "{csv}");

        // `migrate` names each of them (and not the entry that is fine), and still succeeds.
        let (ok, output) = run_migrate(&app.database.url).await;
        assert!(ok, "{output}");
        for (id, date) in &odd {
            assert!(output.contains(id.as_str()), "{id} ({date}) missing from:\n{output}");
        }
        assert!(!output.contains(fine["id"].as_str().unwrap_or("?")), "{output}");
        assert!(output.contains(&session.user_id), "{output}");

        // The way out: move it to a real day (or delete it).
        let (first, _) = &odd[0];
        let body = json_body(app.update_entry(access, first, &json!({"date": "2026-02-01"})).await, StatusCode::OK).await;
        assert_eq!(body["data"]["date"], "2026-02-01T00:00:00.000Z");
        let (second, _) = &odd[1];
        json_body(app.delete_entry(access, second).await, StatusCode::OK).await;
        let listed = json_body(app.list_entries(access, "").await, StatusCode::OK).await;
        assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    }
);

api_test!(
    async fn only_utc_midnight_in_z_or_plus_zero_is_the_apis_own_form_of_a_day(backend) {
        let app = TestApp::spawn(backend).await;
        let new_york = app.signup_in("America/New_York").await;
        for (sent, stored) in [
            // 19:00 in New York is midnight UTC: still the 15th there.
            ("2026-01-15T19:00:00-05:00", "2026-01-15"),
            // The API's own form of a day is that day.
            ("2026-02-01T00:00:00Z", "2026-02-01"),
            ("2026-02-03T00:00:00.000+00:00", "2026-02-03"),
            // RFC 3339's "offset unknown" and any other offset: placed in the user's zone.
            ("2026-02-06T00:00:00-00:00", "2026-02-05"),
            ("2026-02-09T01:00:00+01:00", "2026-02-08"),
            ("2026-02-12T05:30:00+05:30", "2026-02-11"),
        ] {
            let entry = app.created_entry(&new_york.access, &json!({"date": sent})).await;
            assert_eq!(entry["date"], format!("{stored}T00:00:00.000Z"), "{sent}");
        }
        // PUT places it the same way.
        let entry = app.created_entry(&new_york.access, &json!({"date": "2026-04-01"})).await;
        let id = entry["id"].as_str().unwrap_or_default();
        let moved = json_body(
            app.update_entry(&new_york.access, id, &json!({"date": "2026-04-20T19:00:00-05:00"})).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(moved["data"]["date"], "2026-04-20T00:00:00.000Z");
    }
);

api_test!(
    async fn an_import_places_a_timestamp_where_post_entries_does(backend) {
        let app = TestApp::spawn(backend).await;
        for (zone, sent, day) in [
            ("UTC", "2026-06-01T20:00:00Z", "2026-06-01"),
            ("America/New_York", "2026-11-30T23:30:00-05:00", "2026-11-30"),
            ("America/New_York", "2026-01-15T19:00:00-05:00", "2026-01-15"),
            ("Asia/Kolkata", "2026-07-01T20:00:00Z", "2026-07-02"),
            // What an export writes: the day's own form.
            ("America/New_York", "2026-08-01T00:00:00.000Z", "2026-08-01"),
            ("Pacific/Kiritimati", "2026-08-01T00:00:00.000Z", "2026-08-01"),
        ] {
            let posted = app.created_entry(&app.signup_in(zone).await.access, &json!({"date": sent})).await;
            let importer = app.signup_in(zone).await;
            let body = json_body(
                app.import(&importer.access, "", &import_document(json!([{"date": sent}]))).await,
                StatusCode::OK,
            )
            .await;
            assert_eq!(body["created"], 1, "{body}");
            let listed = json_body(app.list_entries(&importer.access, "").await, StatusCode::OK).await;
            let expected = format!("{day}T00:00:00.000Z");
            assert_eq!((posted["date"].as_str(), listed[0]["date"].as_str()), (Some(expected.as_str()), Some(expected.as_str())), "{zone} {sent}");
        }
        // The old backend's `{"$date": …}` values keep the nearest-midnight rule: it stored the
        // server's local midnight.
        let importer = app.signup_in("America/New_York").await;
        let body = json_body(
            app.import(
                &importer.access,
                "",
                &import_document(json!([
                    {"date": {"$date": "2026-11-27T23:00:00.000Z"}},
                    {"date": {"$date": {"$numberLong": "1796450400000"}}},
                ])),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(body["created"], 2, "{body}");
        let listed = json_body(app.list_entries(&importer.access, "").await, StatusCode::OK).await;
        let days: Vec<&str> = listed.as_array().into_iter().flatten().filter_map(|e| e["date"].as_str()).collect();
        // 1796450400000 ms is 2026-12-05T06:00:00Z: local midnight at UTC-6.
        assert_eq!(days, ["2026-12-05T00:00:00.000Z", "2026-11-28T00:00:00.000Z"]);
    }
);
