//! The user's data as a file: the JSON and CSV export, and importing an export (of this or another
//! account, or the old backend's documents).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

fn every_field(date: &str) -> Value {
    json!({
        "date": date, "calories": 2100, "sleep": 7.5, "workouts": true, "heartRate": 61, "steps": 9876,
        "foodIntake": [{"meal": "breakfast", "food": "Oats, with \"honey\"", "calories": 350}, {"meal": "dinner", "food": "Fish & chips", "calories": 900}],
        "symptoms": ["headache", "=HYPERLINK(\"http://evil.example\")"], "mood": "excellent", "waterIntake": 2.25,
        "notes": "line one\nline two, with a comma"
    })
}

async fn export_json(app: &TestApp, access: &str) -> Value {
    let response = app.export(access, "").await;
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"healthtracker-export-") && disposition.ends_with(".json\""),
        "{disposition}"
    );
    json_body(response, StatusCode::OK).await
}

api_test!(
    async fn the_json_export_holds_the_profile_and_every_entry_oldest_first(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let other = app.signup().await;
        app.created_entry(&other.access, &json!({"date": "2026-11-02"})).await;
        let newer = app.created_entry(&session.access, &every_field("2026-11-03")).await;
        let older = app.created_entry(&session.access, &json!({"date": "2026-10-30", "notes": "older"})).await;

        let export = export_json(&app, &session.access).await;
        assert_eq!(export["format"], "healthtracker-export");
        assert_eq!(export["version"], 1);
        assert!(export["exportedAt"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(export["user"]["id"], session.user_id.as_str());
        assert_eq!(export["user"]["email"], session.email.as_str());
        assert_eq!(export["user"]["timezone"], "UTC");
        // Every entry in its API shape, oldest first, nobody else's.
        assert_eq!(export["entries"], json!([older, newer]));
        // An account with no entries exports an empty list.
        let empty = export_json(&app, &app.signup().await.access).await;
        assert_eq!(empty["entries"], json!([]));
    }
);

api_test!(
    async fn an_export_imported_into_another_account_round_trips_every_field(backend) {
        let app = TestApp::spawn(backend).await;
        let source = app.signup().await;
        for day in ["2026-11-01", "2026-11-02", "2026-11-03"] {
            app.created_entry(&source.access, &every_field(day)).await;
        }
        let export = export_json(&app, &source.access).await;
        let target = app.signup().await;
        let body = json_body(app.import(&target.access, "", &export).await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "created": 3, "updated": 0, "skipped": 0, "errors": []}));
        let imported = export_json(&app, &target.access).await;
        let strip = |entries: &Value| -> Vec<Value> {
            entries.as_array().into_iter().flatten().map(|e| {
                let mut e = e.clone();
                for key in ["_id", "id", "user", "createdAt", "updatedAt"] {
                    e.as_object_mut().map(|o| o.remove(key));
                }
                e
            }).collect()
        };
        assert_eq!(strip(&imported["entries"]), strip(&export["entries"]));
        // Ids, owner and timestamps come from this server, not the file.
        for entry in imported["entries"].as_array().into_iter().flatten() {
            assert_eq!(entry["user"], target.user_id.as_str());
            assert!(!export["entries"].as_array().into_iter().flatten().any(|e| e["_id"] == entry["_id"]));
        }
        // Importing it again: every day is already there.
        let body = json_body(app.import(&target.access, "", &export).await, StatusCode::OK).await;
        assert_eq!((body["created"].as_u64(), body["skipped"].as_u64()), (Some(0), Some(3)));
    }
);

api_test!(
    async fn skip_keeps_and_replace_overwrites_the_days_the_account_has(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let kept = app.created_entry(&session.access, &json!({"date": "2026-11-01", "calories": 1000})).await;
        let document = json!({"format": "healthtracker-export", "version": 1, "entries": [
            {"date": "2026-11-01", "calories": 2000}, {"date": "2026-11-02", "calories": 3000}
        ]});
        let body = json_body(app.import(&session.access, "?onConflict=skip", &document).await, StatusCode::OK).await;
        assert_eq!((body["created"].as_u64(), body["updated"].as_u64(), body["skipped"].as_u64()), (Some(1), Some(0), Some(1)));
        let day = |list: &Value, date: &str| list["data"].as_array().into_iter().flatten().find(|e| e["date"].as_str().is_some_and(|d| d.starts_with(date))).cloned().unwrap_or_default();
        let list = json_body(app.list_entries_root(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(day(&list, "2026-11-01")["calories"], 1000);

        let document = json!({"format": "healthtracker-export", "version": 1, "entries": [{"date": "2026-11-01", "calories": 2500}]});
        let body = json_body(app.import(&session.access, "?onConflict=replace", &document).await, StatusCode::OK).await;
        assert_eq!((body["created"].as_u64(), body["updated"].as_u64(), body["skipped"].as_u64()), (Some(0), Some(1), Some(0)));
        let list = json_body(app.list_entries_root(&session.access, "").await, StatusCode::OK).await;
        let replaced = day(&list, "2026-11-01");
        assert_eq!(replaced["calories"], 2500);
        // The entry keeps its id and creation time; its fields are the file's (defaults where absent).
        assert_eq!((replaced["_id"].clone(), replaced["createdAt"].clone()), (kept["_id"].clone(), kept["createdAt"].clone()));
        let fetched = json_body(app.get_entry(&session.access, kept["_id"].as_str().unwrap_or_default()).await, StatusCode::OK).await;
        assert_eq!(fetched["data"], replaced);
    }
);

api_test!(
    async fn invalid_entries_are_listed_by_index_and_the_rest_imported(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let document = json!({"format": "healthtracker-export", "version": 1, "entries": [
            {"date": "2026-11-01", "calories": 1800, "_id": "507f1f77bcf86cd799439011", "user": "507f1f77bcf86cd799439012"},
            {"date": "2026-11-02", "calories": 99999, "mood": "ecstatic"},
            {"calories": 5},
            {"date": "2026-11-01", "steps": 10},
            "not an entry",
        ]});
        let body = json_body(app.import(&session.access, "", &document).await, StatusCode::OK).await;
        assert_eq!(body["created"], 1);
        let errors: Vec<(u64, Value, Vec<String>)> = body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| (e["index"].as_u64().unwrap_or(99), e["date"].clone(), detail_paths(&json!({"details": e["details"]}))))
            .collect();
        assert_eq!(
            errors,
            [
                (1, json!("2026-11-02"), vec!["calories".to_owned(), "mood".to_owned()]),
                (2, Value::Null, vec!["date".to_owned()]),
                (3, json!("2026-11-01"), vec!["date".to_owned()]),
                (4, Value::Null, vec!["date".to_owned()]),
            ]
        );
        let list = json_body(app.list_entries_root(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(list["count"], 1);
        assert_ne!(list["data"][0]["_id"], "507f1f77bcf86cd799439011");
    }
);

api_test!(
    async fn a_body_that_is_not_an_export_document_is_a_400(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for (body, paths) in [
            (json!({"entries": []}), vec!["format", "version"]),
            (json!({"format": "healthtracker-export", "version": 2, "entries": []}), vec!["version"]),
            (json!({"format": "healthtracker-export", "version": 1}), vec!["entries"]),
            (json!({"format": "healthtracker-export", "version": 1, "entries": {"a": 1}}), vec!["entries"]),
            (json!([]), vec![""]),
        ] {
            let response = app.import(&session.access, "", &body).await;
            let error = assert_invalid(response).await;
            assert_eq!(detail_paths(&error), paths, "{body}");
        }
        let error = assert_invalid(
            app.import(&session.access, "?onConflict=merge", &json!({"format": "healthtracker-export", "version": 1, "entries": []})).await)
        .await;
        assert_eq!(detail_paths(&error), ["onConflict"]);
        let error = assert_invalid(app.export(&session.access, "?format=xml").await).await;
        assert_eq!(detail_paths(&error), ["format"]);
    }
);

api_test!(
    async fn the_old_backends_documents_import_where_they_differ(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        // As `mongoexport` writes the old backend's entries: extended JSON, local midnight, `__v`,
        // Mongoose ids in the food items, fields missing, the old `sleepHours`.
        let document = json!({"format": "healthtracker-export", "version": 1, "entries": [
            {"_id": {"$oid": "507f1f77bcf86cd799439011"}, "user": {"$oid": "507f1f77bcf86cd799439012"},
             "date": {"$date": "2026-11-27T23:00:00.000Z"}, "calories": {"$numberInt": "2100"},
             "sleepHours": {"$numberDouble": "7.5"}, "workouts": true,
             "foodIntake": [{"_id": {"$oid": "507f1f77bcf86cd799439013"}, "meal": "lunch", "food": "Soup", "calories": {"$numberLong": "300"}}],
             "createdAt": {"$date": {"$numberLong": "1764284400000"}}, "__v": {"$numberInt": "0"}},
            {"date": "2026-11-29T05:00:00.000Z", "mood": "good"}
        ]});
        let body = json_body(app.import(&session.access, "", &document).await, StatusCode::OK).await;
        assert_eq!((body["created"].as_u64(), body["errors"].clone()), (Some(2), json!([])));
        let export = export_json(&app, &session.access).await;
        let entries = export["entries"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries[0]["date"], "2026-11-28T00:00:00.000Z", "a local midnight is its day");
        assert_eq!((entries[0]["calories"].clone(), entries[0]["sleep"].clone()), (json!(2100), json!(7.5)));
        assert_eq!(entries[0]["foodIntake"], json!([{"meal": "lunch", "food": "Soup", "calories": 300}]));
        assert_eq!(entries[1]["date"], "2026-11-29T00:00:00.000Z");
        assert_eq!(entries[1]["mood"], "good");
    }
);

api_test!(
    async fn the_csv_export_quotes_by_rfc_4180_and_neutralises_formulas(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        app.created_entry(&session.access, &every_field("2026-11-03")).await;
        app.created_entry(&session.access, &json!({"date": "2026-11-01", "notes": "-1 day", "symptoms": ["@team"]})).await;
        let response = app.export(&session.access, "?format=csv").await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let text = response.text().await.unwrap_or_default();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        // The columns spreadsheets already have, then the body measurements appended (API.md).
        assert_eq!(
            header,
            [
                "date", "calories", "sleep", "workouts", "heartRate", "steps", "mood", "waterIntake", "notes", "symptoms", "foodIntake",
                "weight", "restingHeartRate", "bloodPressure", "activeEnergy"
            ]
        );
        let rows: Vec<Vec<String>> = reader.records().map(|r| r.expect("record").iter().map(str::to_owned).collect()).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], ["2026-11-01", "0", "0", "false", "0", "0", "neutral", "0", "'-1 day", "'@team", "", "", "", "", ""]);
        assert_eq!(
            rows[1],
            [
                "2026-11-03", "2100", "7.5", "true", "61", "9876", "excellent", "2.25",
                "line one\nline two, with a comma",
                "headache; =HYPERLINK(\"http://evil.example\")",
                "breakfast:Oats, with \"honey\":350; dinner:Fish & chips:900",
                "", "", "", "",
            ]
        );
        // Quoting is RFC 4180: embedded quotes doubled, fields with commas/newlines quoted, CRLF.
        assert!(text.contains("\"breakfast:Oats, with \"\"honey\"\":350; dinner:Fish & chips:900\""), "{text}");
        assert!(text.contains("\r\n"));
    }
);

#[tokio::test]
async fn a_ten_year_account_exports_and_imports_in_one_request_each() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    let start = chrono::NaiveDate::from_ymd_opt(2016, 1, 1).expect("date");
    let entries: Vec<Value> = (0..3650)
        .map(|n| {
            let mut entry = every_field(&(start + chrono::Days::new(n)).format("%Y-%m-%d").to_string());
            entry["steps"] = json!(n);
            entry
        })
        .collect();
    let document = json!({"format": "healthtracker-export", "version": 1, "entries": entries});
    assert!(
        document.to_string().len() < 10 * 1024 * 1024,
        "within the default body limit"
    );
    let body = json_body(app.import(&session.access, "", &document).await, StatusCode::OK).await;
    assert_eq!(
        (body["created"].as_u64(), body["errors"].clone()),
        (Some(3650), json!([]))
    );
    let export = export_json(&app, &session.access).await;
    let exported = export["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(exported.len(), 3650);
    assert_eq!(exported[0]["date"], "2016-01-01T00:00:00.000Z");
    assert_eq!(exported[3649]["steps"], 3649);
}

/// SQLite only, as the ten-year test above: the MongoDB stand-in takes over ten seconds for a bulk
/// insert of this size, and its driver gives up on it. The cap itself is checked on both backends
/// below.
#[tokio::test]
async fn an_export_of_more_than_4000_days_imports_back() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    let start = chrono::NaiveDate::from_ymd_opt(2010, 1, 1).expect("date");
    let days: Vec<Value> = (0..4_500)
        .map(|n| json!({"date": (start + chrono::Days::new(n)).format("%Y-%m-%d").to_string(), "steps": n}))
        .collect();
    for chunk in days.chunks(1_500) {
        let document = json!({"format": "healthtracker-export", "version": 1, "entries": chunk});
        let body = json_body(app.import(&session.access, "", &document).await, StatusCode::OK).await;
        assert_eq!(body["created"].as_u64(), Some(chunk.len() as u64), "{body}");
    }
    let export = export_json(&app, &session.access).await;
    assert!(
        export.to_string().len() < 10 * 1024 * 1024,
        "within the default body limit"
    );
    let other = app.signup().await;
    let body = json_body(app.import(&other.access, "", &export).await, StatusCode::OK).await;
    assert_eq!(
        (body["created"].as_u64(), body["errors"].clone()),
        (Some(4_500), json!([]))
    );
}

api_test!(
    async fn an_import_holds_one_entry_per_256_bytes_of_the_body_limit_as_documented(backend) {
        // More entries than any export within the limit holds, stated in the OpenAPI document.
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let cap = 10 * 1024 * 1024 / 256;
        let empty: Vec<Value> = (0..=cap).map(|_| json!({})).collect();
        let document = json!({"format": "healthtracker-export", "version": 1, "entries": empty});
        let body = json_body(app.import(&session.access, "", &document).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["details"][0]["path"], "entries", "{body}");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("40960")), "{body}");
        let openapi = json_body(app.get("/api/openapi.json").send().await.expect("openapi"), StatusCode::OK).await;
        let entries = &openapi["components"]["schemas"]["ImportDocument"]["properties"]["entries"];
        assert_eq!(entries["maxItems"], cap, "{entries}");
        let import = &openapi["paths"]["/import"]["post"];
        assert!(import["description"].as_str().is_some_and(|d| d.contains("BODY_LIMIT") && d.contains("40,960")), "{import}");

        // It follows the configured limit.
        let app = TestApp::builder(backend).env("BODY_LIMIT", "1mb").spawn().await;
        let session = app.signup().await;
        let entries: Vec<Value> = (0..=4_096).map(|_| json!({})).collect();
        let document = json!({"format": "healthtracker-export", "version": 1, "entries": entries});
        let body = json_body(app.import(&session.access, "", &document).await, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().is_some_and(|m| m.contains("4096 ")), "{body}");
        let entries: Vec<Value> = (0..4_096).map(|n| json!({"date": "2026-01-01", "notes": format!("{n}")})).collect();
        let document = json!({"format": "healthtracker-export", "version": 1, "entries": entries});
        let body = json_body(app.import(&session.access, "", &document).await, StatusCode::OK).await;
        assert_eq!((body["created"].as_u64(), body["errors"].as_array().map(Vec::len)), (Some(1), Some(4_095)));
    }
);
