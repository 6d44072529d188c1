//! `/entries`: every field rule, every route's success and errors, and per-user isolation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

fn full_entry(date: &str) -> Value {
    json!({
        "date": date,
        "calories": 2100,
        "sleep": 7.5,
        "workouts": true,
        "foodIntake": [
            {"meal": "breakfast", "food": "Oats", "calories": 350},
            {"meal": "dinner", "food": "Fish & chips", "calories": 900}
        ],
        "heartRate": 62,
        "steps": 10432,
        "symptoms": ["headache"],
        "mood": "good",
        "waterIntake": 2.5,
        "notes": "Felt fine"
    })
}

api_test!(
    async fn create_returns_the_whole_entry(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = json_body(app.create_entry(&session.access, &full_entry("2026-11-20")).await, StatusCode::CREATED).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["message"], "Entry created successfully");
        let entry = &body["data"];
        assert_eq!(entry["_id"], entry["id"]);
        assert_eq!(entry["id"].as_str().map(str::len), Some(24));
        assert_eq!(entry["user"], session.user_id.as_str());
        assert_eq!(entry["date"], "2026-11-20T00:00:00.000Z");
        assert_eq!(entry["calories"], 2100);
        assert_eq!(entry["sleep"], 7.5);
        assert_eq!(entry["workouts"], true);
        assert_eq!(entry["foodIntake"][1], json!({"meal": "dinner", "food": "Fish & chips", "calories": 900}));
        assert_eq!(entry["heartRate"], 62);
        assert_eq!(entry["steps"], 10432);
        assert_eq!(entry["symptoms"], json!(["headache"]));
        assert_eq!(entry["mood"], "good");
        assert_eq!(entry["waterIntake"], 2.5);
        assert_eq!(entry["notes"], "Felt fine");
        assert!(entry["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(entry["createdAt"], entry["updatedAt"]);
    }
);

api_test!(
    async fn create_fills_defaults(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &json!({"date": "2026-11-21"})).await;
        for (field, default) in [
            ("calories", json!(0)),
            ("sleep", json!(0)),
            ("workouts", json!(false)),
            ("foodIntake", json!([])),
            ("heartRate", json!(0)),
            ("steps", json!(0)),
            ("symptoms", json!([])),
            ("mood", json!("neutral")),
            ("waterIntake", json!(0)),
            ("notes", json!("")),
        ] {
            assert_eq!(entry[field], default, "{field}");
        }
    }
);

api_test!(
    async fn what_the_existing_frontend_form_sends_is_accepted(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        // Numbers as strings, blanks for empty inputs, `sleepHours`, symptoms as labels.
        let entry = app
            .created_entry(
                &session.access,
                &json!({
                    "date": "2026-11-22", "calories": "1800", "sleepHours": "6.5", "workouts": "true",
                    "heartRate": "", "steps": "8000", "waterIntake": "", "mood": "neutral",
                    "symptoms": ["Fatigue", "Headache"], "notes": "", "foodIntake": []
                }),
            )
            .await;
        assert_eq!(entry["calories"], 1800);
        assert_eq!(entry["sleep"], 6.5);
        assert_eq!(entry["workouts"], true);
        assert_eq!(entry["heartRate"], 0);
        assert_eq!(entry["steps"], 8000);
        assert_eq!(entry["waterIntake"], 0);
        assert_eq!(entry["symptoms"], json!(["Fatigue", "Headache"]));
        // And it is answered under the name it was sent as, too (API.md "Entries").
        assert_eq!(entry["sleepHours"], 6.5);
    }
);

api_test!(
    async fn create_lists_every_failing_field(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let response = app
            .create_entry(
                &session.access,
                &json!({
                    "calories": 10001, "sleep": "25", "workouts": "maybe",
                    "foodIntake": [{"meal": "brunch", "food": "", "calories": 5001}, {"meal": "lunch", "food": "ok", "calories": 1.5}],
                    "heartRate": 221, "steps": -1, "symptoms": [""], "mood": "ecstatic", "waterIntake": 101,
                    "notes": "x".repeat(1001)
                }),
            )
            .await;
        let body = assert_invalid(response).await;
        assert_eq!(
            detail_paths(&body),
            [
                "calories",
                "sleep",
                "workouts",
                "foodIntake[0].meal",
                "foodIntake[0].food",
                "foodIntake[0].calories",
                "foodIntake[1].calories",
                "heartRate",
                "steps",
                "symptoms[0]",
                "mood",
                "waterIntake",
                "notes",
                "date"
            ]
        );
        let first = &body["details"][0];
        assert_eq!(first["value"], 10001);
        assert!(first["msg"].as_str().is_some_and(|m| m.contains("10000")));
    }
);

api_test!(
    async fn boundaries_are_inclusive(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let max = json!({
            "date": "2026-01-01", "calories": 10000, "sleep": 24, "heartRate": 220, "steps": 200000, "waterIntake": 100,
            "notes": "n".repeat(1000), "symptoms": vec!["s".repeat(100); 10],
            "foodIntake": vec![json!({"meal": "snack", "food": "f".repeat(200), "calories": 5000}); 50]
        });
        let entry = app.created_entry(&session.access, &max).await;
        assert_eq!(entry["foodIntake"].as_array().map(Vec::len), Some(50));
        let min = json!({"date": "2026-01-02", "calories": 0, "sleep": 0, "heartRate": 0, "steps": 0, "waterIntake": 0});
        app.created_entry(&session.access, &min).await;

        let over = json!({"date": "2026-01-03", "symptoms": vec!["s"; 11], "foodIntake": vec![json!({"meal": "snack", "food": "f"}); 51]});
        let body = assert_invalid(app.create_entry(&session.access, &over).await).await;
        assert_eq!(detail_paths(&body), ["foodIntake", "symptoms"]);
    }
);

api_test!(
    async fn integer_fields_refuse_fractions_and_junk(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for (field, value) in [
            ("calories", json!(100.5)),
            ("calories", json!("12abc")),
            ("heartRate", json!("70.2")),
            ("steps", json!(true)),
            ("steps", json!([1])),
            ("sleep", json!("NaN")),
            ("date", json!("2026-02-30")),
            ("date", json!(20261128)),
            ("mood", json!(3)),
            ("foodIntake", json!("eggs")),
            ("symptoms", json!("headache")),
            ("notes", json!({"a": 1})),
        ] {
            let mut body = json!({"date": "2026-11-01"});
            body[field] = value.clone();
            let response = app.create_entry(&session.access, &body).await;
            let body = assert_invalid(response).await;
            assert_eq!(detail_paths(&body), [field], "{field} = {value}");
        }
    }
);

api_test!(
    async fn free_text_is_sanitized(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app
            .created_entry(
                &session.access,
                &json!({
                    "date": "2026-11-23",
                    "foodIntake": [{"meal": "lunch", "food": "<b>Soup</b><script>alert('x')</script>", "calories": 200}],
                    "symptoms": ["  <i>cough</i> ", "<img src=x onerror=alert(1)>sneeze"],
                    "notes": "<style>p{}</style><p>Fine &amp; well</p> 3 < 4"
                }),
            )
            .await;
        assert_eq!(entry["foodIntake"][0]["food"], "Soup");
        assert_eq!(entry["symptoms"], json!(["cough", "sneeze"]));
        assert_eq!(entry["notes"], "Fine & well 3 < 4");

        // Text that is only markup is empty after sanitizing, so it fails the length rule.
        let response = app
            .create_entry(&session.access, &json!({"date": "2026-11-24", "foodIntake": [{"meal": "lunch", "food": "<script>x</script>"}]}))
            .await;
        let body = assert_invalid(response).await;
        assert_eq!(detail_paths(&body), ["foodIntake[0].food"]);
    }
);

/// `text` HTML-escaped `rounds` times (`<` → `&lt;` → `&amp;lt;` …).
fn html_escaped(text: &str, rounds: usize) -> String {
    (0..rounds).fold(text.to_owned(), |text, _| {
        text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    })
}

api_test!(
    async fn markup_escaped_many_times_is_not_stored_as_a_tag(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for rounds in 1..=6 {
            // Within each field's length cap at six rounds (a symptom is at most 100 characters).
            let food = html_escaped(&format!("<script>alert({rounds})</script>Soup"), rounds);
            let symptom = |text: &str| html_escaped(&format!("{text}<script>"), rounds);
            let notes = |text: &str| html_escaped(&format!("<script>alert({rounds})</script>{text}<img src=x onerror=alert(1)>"), rounds);
            let date = format!("2026-10-0{rounds}");
            let created = app
                .created_entry(
                    &session.access,
                    &json!({
                        "date": date,
                        "foodIntake": [{"meal": "lunch", "food": food, "calories": 200}],
                        "symptoms": [symptom("cough")],
                        "notes": notes("Fine")
                    }),
                )
                .await;
            let id = created["id"].as_str().unwrap_or_default().to_owned();
            let served = json_body(app.get_entry(&session.access, &id).await, StatusCode::OK).await;
            let listed = json_body(app.list_entries(&session.access, "").await, StatusCode::OK).await;
            for entry in [&created, &served["data"]] {
                assert_eq!(entry["foodIntake"][0]["food"], "Soup", "{rounds} rounds: {entry}");
                assert_eq!(entry["symptoms"], json!(["cough"]), "{rounds} rounds: {entry}");
                assert_eq!(entry["notes"], "Fine", "{rounds} rounds: {entry}");
            }
            for text in [created.to_string(), served.to_string(), listed.to_string()] {
                assert!(!text.to_lowercase().contains("<script") && !text.contains("<img"), "{rounds} rounds: {text}");
            }
            // An update takes the same path.
            let body = json!({"notes": notes("Better"), "symptoms": [symptom("sneeze")]});
            let updated = json_body(app.update_entry(&session.access, &id, &body).await, StatusCode::OK).await;
            assert_eq!(updated["data"]["notes"], "Better", "{rounds} rounds: {updated}");
            assert_eq!(updated["data"]["symptoms"], json!(["sneeze"]), "{rounds} rounds: {updated}");
        }
    }
);

api_test!(
    async fn dates_are_utc_calendar_days(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &json!({"date": "2026-11-10T23:30:00-05:00"})).await;
        assert_eq!(entry["date"], "2026-11-11T00:00:00.000Z");
        // Another time on the same UTC day is the same day.
        let response = app.create_entry(&session.access, &json!({"date": "2026-11-11T08:00:00.000Z"})).await;
        assert_error(response, StatusCode::CONFLICT, "Entry already exists for this date").await;
    }
);

api_test!(
    async fn one_entry_per_day_per_user(backend) {
        let app = TestApp::spawn(backend).await;
        let ada = app.signup().await;
        let bob = app.signup().await;
        app.created_entry(&ada.access, &json!({"date": "2026-11-12"})).await;
        assert_error(app.create_entry(&ada.access, &json!({"date": "2026-11-12"})).await, StatusCode::CONFLICT, "Entry already exists for this date")
            .await;
        // The same day is free for someone else.
        app.created_entry(&bob.access, &json!({"date": "2026-11-12"})).await;
    }
);

api_test!(
    async fn mass_assignment_is_ignored(backend) {
        let app = TestApp::spawn(backend).await;
        let ada = app.signup().await;
        let bob = app.signup().await;
        let entry = app
            .created_entry(
                &ada.access,
                &json!({
                    "date": "2026-11-13", "user": bob.user_id, "_id": "507f1f77bcf86cd799439011", "id": "507f1f77bcf86cd799439011",
                    "createdAt": "2000-01-01T00:00:00.000Z", "updatedAt": "2000-01-01T00:00:00.000Z", "__v": 7, "isAdmin": true
                }),
            )
            .await;
        assert_eq!(entry["user"], ada.user_id.as_str());
        assert_ne!(entry["_id"], "507f1f77bcf86cd799439011");
        assert_ne!(entry["createdAt"], "2000-01-01T00:00:00.000Z");
        assert!(entry.get("isAdmin").is_none() && entry.get("__v").is_none());
        let id = entry["id"].as_str().unwrap_or_default();

        // The old PUT let a caller move an entry to another account.
        let response = app.update_entry(&ada.access, id, &json!({"user": bob.user_id, "createdAt": "2000-01-01T00:00:00.000Z", "calories": 5})).await;
        let updated = json_body(response, StatusCode::OK).await;
        assert_eq!(updated["data"]["user"], ada.user_id.as_str());
        assert_eq!(updated["data"]["createdAt"], entry["createdAt"]);
        assert_eq!(updated["data"]["calories"], 5);
        let bobs = json_body(app.list_entries(&bob.access, "").await, StatusCode::OK).await;
        assert_eq!(bobs, json!([]));
    }
);

api_test!(
    async fn list_is_newest_first_and_capped_at_30(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        // Created out of order on purpose.
        let mut days: Vec<u32> = (1..=35).collect();
        days.reverse();
        days.swap(0, 17);
        for day in &days {
            let date = format!("2026-10-{:02}", day.min(&31));
            let date = if *day > 31 { format!("2026-11-{:02}", day - 31) } else { date };
            app.created_entry(&session.access, &json!({"date": date, "steps": day})).await;
        }
        // Under /api the bare array (API.md "Entries"); at the root the envelope around the same page.
        let body = json_body(app.list_entries(&session.access, "").await, StatusCode::OK).await;
        let data = body.as_array().cloned().expect("a bare array under /api");
        assert_eq!(data.len(), 30);
        let root = json_body(app.list_entries_root(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(root["status"], "success");
        assert_eq!(root["count"], 30);
        assert_eq!(root["data"], body);
        assert_eq!(data[0]["date"], "2026-11-04T00:00:00.000Z");
        assert_eq!(data[29]["date"], "2026-10-06T00:00:00.000Z");
        let dates: Vec<&str> = data.iter().filter_map(|e| e["date"].as_str()).collect();
        let mut sorted = dates.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(dates, sorted);
    }
);

api_test!(
    async fn list_filters_by_range_and_limit(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for day in 1..=10 {
            app.created_entry(&session.access, &json!({"date": format!("2026-09-{day:02}")})).await;
        }
        let count = |body: &Value| body.as_array().map(Vec::len);
        let body = json_body(app.list_entries(&session.access, "?from=2026-09-03&to=2026-09-07").await, StatusCode::OK).await;
        assert_eq!(count(&body), Some(5));
        assert_eq!(body[0]["date"], "2026-09-07T00:00:00.000Z");
        assert_eq!(body[4]["date"], "2026-09-03T00:00:00.000Z");
        let body = json_body(app.list_entries(&session.access, "?limit=3").await, StatusCode::OK).await;
        assert_eq!(count(&body), Some(3));
        assert_eq!(body[0]["date"], "2026-09-10T00:00:00.000Z");
        let body = json_body(app.list_entries(&session.access, "?from=2026-09-09").await, StatusCode::OK).await;
        assert_eq!(count(&body), Some(2));
        let body = json_body(app.list_entries(&session.access, "?to=2026-09-02&limit=366").await, StatusCode::OK).await;
        assert_eq!(count(&body), Some(2));
        // The root mount applies the same query.
        let body = json_body(app.list_entries_root(&session.access, "?from=2026-09-03&to=2026-09-07").await, StatusCode::OK).await;
        assert_eq!(body["count"], 5);
        assert_eq!(body["data"][4]["date"], "2026-09-03T00:00:00.000Z");
    }
);

api_test!(
    async fn list_refuses_a_bad_query(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for (query, path) in [
            ("?limit=0", "limit"),
            ("?limit=367", "limit"),
            ("?limit=ten", "limit"),
            ("?from=2026-13-01", "from"),
            ("?to=yesterday", "to"),
        ] {
            let body = assert_invalid(app.list_entries(&session.access, query).await).await;
            assert_eq!(detail_paths(&body), [path], "{query}");
        }
        // An inverted range is not an error: it holds no day, so no entry, even where entries exist.
        for day in ["2026-09-01", "2026-09-05", "2026-09-10"] {
            json_body(app.create_entry(&session.access, &json!({"date": day})).await, StatusCode::CREATED).await;
        }
        let body = json_body(app.list_entries(&session.access, "?from=2026-09-10&to=2026-09-01").await, StatusCode::OK).await;
        assert_eq!(body, json!([]));
        let body = json_body(app.list_entries_root(&session.access, "?from=2026-09-10&to=2026-09-01").await, StatusCode::OK).await;
        assert_eq!((body["count"].clone(), body["data"].clone()), (json!(0), json!([])));
        let body = json_body(app.list_entries(&session.access, "?from=2026-09-01&to=2026-09-10").await, StatusCode::OK).await;
        assert_eq!(body.as_array().map(Vec::len), Some(3), "the same days the right way round");
    }
);

api_test!(
    async fn dashboard_summary_for_today_and_a_given_day(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let empty = json_body(app.dashboard(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(empty["status"], "success");
        let data = &empty["data"];
        for (field, zero) in [
            ("calories", json!(0)),
            ("sleep", json!(0)),
            ("workouts", json!(0)),
            ("heartRate", json!(0)),
            ("steps", json!(0)),
            ("symptoms", json!([])),
            ("mood", json!("neutral")),
            ("waterIntake", json!(0)),
            ("foodIntake", json!([])),
        ] {
            assert_eq!(data[field], zero, "{field}");
        }

        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        app.created_entry(&session.access, &full_entry(&today)).await;
        let body = json_body(app.dashboard(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(body["data"]["calories"], 2100);
        assert_eq!(body["data"]["workouts"], 1);
        assert_eq!(body["data"]["mood"], "good");
        assert_eq!(body["data"]["foodIntake"].as_array().map(Vec::len), Some(2));

        app.created_entry(&session.access, &json!({"date": "2026-01-15", "steps": 1234})).await;
        let body = json_body(app.dashboard(&session.access, "?date=2026-01-15").await, StatusCode::OK).await;
        assert_eq!(body["data"]["steps"], 1234);
        assert_eq!(body["data"]["workouts"], 0);

        let body = assert_invalid(app.dashboard(&session.access, "?date=15/01/2026").await).await;
        assert_eq!(detail_paths(&body), ["date"]);
    }
);

api_test!(
    async fn update_changes_only_the_fields_sent(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &full_entry("2026-11-01")).await;
        let id = entry["id"].as_str().unwrap_or_default();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let response = app.update_entry(&session.access, id, &json!({"steps": "12000", "mood": "excellent", "notes": ""})).await;
        let body = json_body(response, StatusCode::OK).await;
        assert_eq!(body["message"], "Entry updated successfully");
        let updated = &body["data"];
        assert_eq!(updated["steps"], 12000);
        assert_eq!(updated["mood"], "excellent");
        for unchanged in ["calories", "sleep", "foodIntake", "symptoms", "notes", "date", "createdAt", "user"] {
            assert_eq!(updated[unchanged], entry[unchanged], "{unchanged}");
        }
        assert_ne!(updated["updatedAt"], entry["updatedAt"]);
        // And it is stored.
        let stored = json_body(app.get_entry(&session.access, id).await, StatusCode::OK).await;
        assert_eq!(&stored["data"], updated);
        // No date needed, unlike the old PUT.
        json_body(app.update_entry(&session.access, id, &json!({})).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn update_can_move_an_entry_to_a_free_day_only(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let first = app.created_entry(&session.access, &json!({"date": "2026-11-02"})).await;
        app.created_entry(&session.access, &json!({"date": "2026-11-03"})).await;
        let id = first["id"].as_str().unwrap_or_default();
        let response = app.update_entry(&session.access, id, &json!({"date": "2026-11-03"})).await;
        assert_error(response, StatusCode::CONFLICT, "Entry already exists for this date").await;
        let moved = json_body(app.update_entry(&session.access, id, &json!({"date": "2026-11-04"})).await, StatusCode::OK).await;
        assert_eq!(moved["data"]["date"], "2026-11-04T00:00:00.000Z");
        // Setting the day it already has is not a conflict.
        json_body(app.update_entry(&session.access, id, &json!({"date": "2026-11-04T12:00:00Z"})).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn update_errors(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &json!({"date": "2026-11-05"})).await;
        let id = entry["id"].as_str().unwrap_or_default();

        let body = assert_invalid(app.update_entry(&session.access, "not-an-id", &json!({})).await)
            .await;
        assert_eq!(detail_paths(&body), ["id"]);
        let body = assert_invalid(app.update_entry(&session.access, id, &json!({"calories": -5, "mood": "meh"})).await)
            .await;
        assert_eq!(detail_paths(&body), ["calories", "mood"]);
        let missing = "507f1f77bcf86cd799439011";
        assert_error(app.update_entry(&session.access, missing, &json!({"steps": 1})).await, StatusCode::NOT_FOUND, "Entry not found").await;
    }
);

api_test!(
    async fn another_users_entry_is_a_404_everywhere(backend) {
        let app = TestApp::spawn(backend).await;
        let ada = app.signup().await;
        let mallory = app.signup().await;
        let entry = app.created_entry(&ada.access, &full_entry("2026-11-06")).await;
        let id = entry["id"].as_str().unwrap_or_default();

        assert_error(app.get_entry(&mallory.access, id).await, StatusCode::NOT_FOUND, "Entry not found").await;
        assert_error(app.update_entry(&mallory.access, id, &json!({"calories": 1})).await, StatusCode::NOT_FOUND, "Entry not found").await;
        assert_error(app.delete_entry(&mallory.access, id).await, StatusCode::NOT_FOUND, "Entry not found").await;
        let listed = json_body(app.list_entries(&mallory.access, "").await, StatusCode::OK).await;
        assert_eq!(listed, json!([]));
        let listed = json_body(app.list_entries_root(&mallory.access, "").await, StatusCode::OK).await;
        assert_eq!(listed["count"], 0);
        let summary = json_body(app.dashboard(&mallory.access, "?date=2026-11-06").await, StatusCode::OK).await;
        assert_eq!(summary["data"]["calories"], 0);

        // Untouched for its owner.
        let stored = json_body(app.get_entry(&ada.access, id).await, StatusCode::OK).await;
        assert_eq!(stored["data"]["calories"], 2100);
    }
);

api_test!(
    async fn delete_removes_the_entry(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &json!({"date": "2026-11-07"})).await;
        let id = entry["id"].as_str().unwrap_or_default();
        let body = json_body(app.delete_entry(&session.access, id).await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "Entry deleted successfully"}));
        assert_error(app.delete_entry(&session.access, id).await, StatusCode::NOT_FOUND, "Entry not found").await;
        assert_error(app.get_entry(&session.access, id).await, StatusCode::NOT_FOUND, "Entry not found").await;
        let body = assert_invalid(app.delete_entry(&session.access, "xyz").await).await;
        assert_eq!(detail_paths(&body), ["id"]);
        // The day is free again.
        app.created_entry(&session.access, &json!({"date": "2026-11-07"})).await;
    }
);

api_test!(
    async fn entry_routes_require_a_token(backend) {
        let app = TestApp::spawn(backend).await;
        let id = "507f1f77bcf86cd799439011";
        for (method, path) in [
            (reqwest::Method::GET, "/api/entries".to_owned()),
            (reqwest::Method::POST, "/api/entries".to_owned()),
            (reqwest::Method::GET, "/api/entries/dashboard/summary".to_owned()),
            (reqwest::Method::PUT, format!("/api/entries/{id}")),
            (reqwest::Method::DELETE, format!("/api/entries/{id}")),
        ] {
            let response = app.request(method.clone(), &path).json(&json!({})).send().await.expect("request");
            assert_error(response, StatusCode::UNAUTHORIZED, "No token provided").await;
        }
    }
);

api_test!(
    /// Each PUT changes only what it sent, atomically: many concurrent updates of different fields
    /// of one entry all land (a read-change-write in the handler lost some of them).
    async fn concurrent_partial_updates_never_lose_a_field(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for round in 0..3 {
            let entry = app
                .created_entry(&session.access, &json!({"date": format!("2026-10-0{}", round + 1)}))
                .await;
            let id = entry["_id"].as_str().expect("an id").to_owned();
            let changes = [
                json!({"calories": 1234 + round}),
                json!({"sleep": 6.5}),
                json!({"workouts": true}),
                json!({"heartRate": 61}),
                json!({"steps": 8765}),
                json!({"symptoms": ["cough"]}),
                json!({"mood": "excellent"}),
                json!({"waterIntake": 3.5}),
                json!({"notes": "all of them"}),
                json!({"foodIntake": [{"meal": "lunch", "food": "Soup", "calories": 300}]}),
            ];
            let updates = changes.iter().map(|body| app.update_entry(&session.access, &id, body));
            for response in futures::future::join_all(updates).await {
                assert_eq!(response.status(), StatusCode::OK);
            }
            let stored = json_body(app.get_entry(&session.access, &id).await, StatusCode::OK).await;
            let stored = &stored["data"];
            for body in &changes {
                for (field, value) in body.as_object().expect("an object") {
                    assert_eq!(&stored[field], value, "{field} was lost (round {round}, {backend:?})");
                }
            }
        }
    }
);
