//! Body measurements (API.md "Body measurements and goals"): `weight`, `restingHeartRate`,
//! `bloodPressure` and `activeEnergy` on every route an entry goes through — their rules, `null` when
//! absent and to clear, partial updates, the dashboard, the exports (JSON and the CSV's appended
//! columns), the import, and the trends (weight's change, blood pressure as two series).

use chrono::{DateTime, Utc};
use healthtracker::domain::clock::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

const MEASUREMENTS: [&str; 4] = ["weight", "restingHeartRate", "bloodPressure", "activeEnergy"];

fn measured(date: &str) -> Value {
    json!({
        "date": date, "calories": 2000, "weight": 72.4, "restingHeartRate": "58",
        "bloodPressure": {"systolic": 118, "diastolic": "76"}, "activeEnergy": 450
    })
}

api_test!(
    async fn measurements_are_recorded_returned_everywhere_and_null_when_absent(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &measured("2026-11-20")).await;
        assert_eq!(entry["weight"], 72.4);
        assert_eq!(entry["restingHeartRate"], 58);
        assert_eq!(entry["bloodPressure"], json!({"systolic": 118, "diastolic": 76}));
        assert_eq!(entry["activeEnergy"], 450);
        let id = entry["id"].as_str().expect("an id");
        let fetched = json_body(app.get_entry(&session.access, id).await, StatusCode::OK).await;
        assert_eq!(fetched["data"], entry);
        let listed = json_body(app.list_entries(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(listed[0], entry);
        let root = json_body(app.list_entries_root(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(root["data"][0], entry);

        // Absent (and sent blank, as a form does) is null, never 0.
        let bare = app
            .created_entry(
                &session.access,
                &json!({"date": "2026-11-21", "weight": "", "bloodPressure": "", "activeEnergy": null}),
            )
            .await;
        for field in MEASUREMENTS {
            assert_eq!(bare[field], Value::Null, "{field} ({backend:?})");
        }
        assert_eq!(bare["calories"], 0, "the old fields keep their 0");

        let day = json_body(app.dashboard(&session.access, "?date=2026-11-20").await, StatusCode::OK).await;
        for body in [&day["data"], &day] {
            assert_eq!(body["weight"], 72.4);
            assert_eq!(body["bloodPressure"]["systolic"], 118);
        }
        let empty = json_body(app.dashboard(&session.access, "?date=2026-11-22").await, StatusCode::OK).await;
        for field in MEASUREMENTS {
            assert_eq!(empty["data"][field], Value::Null, "{field}");
        }
    }
);

api_test!(
    async fn each_measurement_is_checked_by_its_rule(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for (body, path) in [
            (json!({"weight": 19.9}), "weight"),
            (json!({"weight": "400.5"}), "weight"),
            (json!({"weight": "heavy"}), "weight"),
            (json!({"restingHeartRate": 19}), "restingHeartRate"),
            (json!({"restingHeartRate": 221}), "restingHeartRate"),
            (json!({"restingHeartRate": 58.5}), "restingHeartRate"),
            (json!({"activeEnergy": -1}), "activeEnergy"),
            (json!({"activeEnergy": 20001}), "activeEnergy"),
            (json!({"bloodPressure": "120/80"}), "bloodPressure"),
            (json!({"bloodPressure": {"systolic": 80, "diastolic": 80}}), "bloodPressure"),
            (json!({"bloodPressure": {"systolic": 120}}), "bloodPressure.diastolic"),
            (json!({"bloodPressure": {"systolic": 261, "diastolic": 80}}), "bloodPressure.systolic"),
            (json!({"bloodPressure": {"systolic": 120, "diastolic": 29}}), "bloodPressure.diastolic"),
        ] {
            let mut body = body;
            body["date"] = json!("2026-11-20");
            let refused = assert_invalid(app.create_entry(&session.access, &body).await).await;
            assert_eq!(refused["details"][0]["path"], path, "{body} ({backend:?})");
        }
        for (field, edge) in [
            ("weight", json!(20)),
            ("weight", json!(400)),
            ("restingHeartRate", json!(220)),
            ("activeEnergy", json!(0)),
            ("bloodPressure", json!({"systolic": 61, "diastolic": 60})),
        ] {
            let entry = app.created_entry(&session.access, &json!({"date": "2026-11-21", field: edge})).await;
            app.delete_entry(&session.access, entry["id"].as_str().expect("an id")).await;
        }
    }
);

api_test!(
    async fn updates_change_only_what_is_sent_and_null_clears_a_measurement(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &measured("2026-11-20")).await;
        let id = entry["id"].as_str().expect("an id");

        let updated = json_body(app.update_entry(&session.access, id, &json!({"weight": "71.9"})).await, StatusCode::OK).await;
        assert_eq!(updated["data"]["weight"], 71.9);
        assert_eq!(updated["data"]["bloodPressure"]["systolic"], 118);
        let updated = json_body(
            app.update_entry(&session.access, id, &json!({"bloodPressure": null, "restingHeartRate": null}))
                .await,
            StatusCode::OK,
        ).await;
        assert_eq!(updated["data"]["bloodPressure"], Value::Null);
        assert_eq!(updated["data"]["restingHeartRate"], Value::Null);
        assert_eq!(updated["data"]["weight"], 71.9);
        // `''` is absence: nothing changes; `null` of an old field is absence too.
        let updated = json_body(
            app.update_entry(&session.access, id, &json!({"weight": "", "calories": null})).await,
            StatusCode::OK,
        ).await;
        assert_eq!((updated["data"]["weight"].clone(), updated["data"]["calories"].clone()), (json!(71.9), json!(2000)));
        let stored = json_body(app.get_entry(&session.access, id).await, StatusCode::OK).await;
        assert_eq!(stored["data"], updated["data"]);
    }
);

api_test!(
    async fn exports_carry_the_measurements_and_an_import_brings_them_back(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        app.created_entry(&session.access, &measured("2026-11-20")).await;
        app.created_entry(&session.access, &json!({"date": "2026-11-21", "calories": 1500})).await;

        let csv = app.export(&session.access, "?format=csv").await.text().await.expect("CSV");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "date,calories,sleep,workouts,heartRate,steps,mood,waterIntake,notes,symptoms,foodIntake,\
             weight,restingHeartRate,bloodPressure,activeEnergy",
            "the old columns first, the new ones appended"
        );
        assert!(lines[1].ends_with(",72.4,58,118/76,450"), "{}", lines[1]);
        assert!(lines[2].ends_with(",,,,"), "{}", lines[2]);

        let export: Value = app.export(&session.access, "").await.json().await.expect("JSON export");
        assert_eq!(export["entries"][0]["bloodPressure"], json!({"systolic": 118, "diastolic": 76}));
        let other = app.signup().await;
        let imported = json_body(app.import(&other.access, "", &export).await, StatusCode::OK).await;
        assert_eq!(imported["created"], 2, "{imported}");
        let copied = json_body(app.list_entries(&other.access, "").await, StatusCode::OK).await;
        for field in MEASUREMENTS {
            assert_eq!(copied[1][field], export["entries"][0][field], "{field}");
            assert_eq!(copied[0][field], Value::Null, "{field}");
        }
    }
);

api_test!(
    async fn the_trends_follow_weight_and_blood_pressure(backend) {
        let clock = Clock::fixed(DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z").map(|t| t.with_timezone(&Utc)).expect("an instant"));
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let session = app.signup().await;
        for (day, weight, systolic, energy) in [
            ("2026-11-23", Some(80.0), Some(130), 300),
            ("2026-11-25", None, Some(120), 500),
            ("2026-11-27", Some(79.2), None, 0),
            ("2026-11-29", Some(78.6), Some(125), 400),
        ] {
            let mut body = json!({"date": day, "activeEnergy": energy});
            if let Some(weight) = weight {
                body["weight"] = json!(weight);
            }
            if let Some(systolic) = systolic {
                body["bloodPressure"] = json!({"systolic": systolic, "diastolic": systolic - 40});
            }
            app.created_entry(&session.access, &body).await;
        }
        let stats = json_body(
            app.stats(&session.access, "?from=2026-11-23&to=2026-11-29&bucket=week").await,
            StatusCode::OK,
        )
        .await;
        let week = &stats["data"][0];
        assert_eq!(
            week["weight"],
            json!({"avg": 79.27, "min": 78.6, "max": 80, "sum": 237.8, "first": 80, "last": 78.6, "change": -1.4}),
            "{backend:?}"
        );
        assert_eq!(week["bloodPressure"]["systolic"], json!({"avg": 125, "min": 120, "max": 130, "sum": 375}));
        assert_eq!(week["bloodPressure"]["diastolic"]["avg"], 85);
        assert_eq!(week["restingHeartRate"], json!({"avg": null, "min": null, "max": null, "sum": 0}));
        assert_eq!(week["activeEnergy"]["sum"], 1200);
        assert_eq!(week["activeEnergy"]["avg"], 400, "0 is not a measurement");
        let days = json_body(
            app.stats(&session.access, "?from=2026-11-23&to=2026-11-24&bucket=day").await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(days["data"][1]["weight"]["change"], Value::Null, "no weight that day");
        assert_eq!(days["data"][0]["weight"]["change"], 0);
    }
);

/// The old backend's documents have none of the new fields: they read as `null`, and an update of
/// another field leaves them absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_backends_documents_have_no_measurements() {
    if !crate::mongo_server::available() {
        return;
    }
    let app = TestApp::spawn(Backend::MongoDb).await;
    let session = app.signup().await;
    let db = app.database.mongo_db().await;
    let user = mongodb::bson::oid::ObjectId::parse_str(&session.user_id).expect("an ObjectId");
    let id = mongodb::bson::oid::ObjectId::new();
    let date = mongodb::bson::DateTime::parse_rfc3339_str("2026-11-19T23:00:00Z").expect("a date");
    db.collection::<mongodb::bson::Document>("entries")
        .insert_one(mongodb::bson::doc! {"_id": id, "user": user, "date": date, "calories": 1800, "sleep": 7, "__v": 0})
        .await
        .expect("an old document");
    let entry = json_body(app.get_entry(&session.access, &id.to_hex()).await, StatusCode::OK).await;
    for field in MEASUREMENTS {
        assert_eq!(entry["data"][field], Value::Null, "{field}");
    }
    let updated = json_body(
        app.update_entry(&session.access, &id.to_hex(), &json!({"weight": 70}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["data"]["weight"], 70);
    assert_eq!(updated["data"]["calories"], 1800);
    assert_eq!(updated["data"]["date"], "2026-11-20T00:00:00.000Z");
}
