//! `GET /export?format=fhir`: the FHIR R4 Bundle, checked here and by a FHIR validator
//! (scripts/fhir-validate: fhir.resources' R4 models and the R4 rules they leave out).

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

/// Runs scripts/fhir-validate on `bundle`: `Some(true)` valid, `Some(false)` refused (its report
/// printed), `None` when the validator cannot run here (no Python or no package index; a failure
/// under CI).
fn validate(bundle: &str) -> Option<bool> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("export.fhir.json");
    std::fs::write(&file, bundle).expect("write the export");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fhir-validate");
    let output = Command::new("bash").arg(script).arg(&file).output().expect("run bash");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("fhir-validate: {report}");
    match output.status.code() {
        Some(0) => Some(true),
        Some(1) => Some(false),
        _ => {
            assert!(!in_ci(), "the FHIR validator did not run: {report}");
            eprintln!("SKIP (the FHIR validator could not run here)");
            None
        }
    }
}

async fn fhir_export(app: &TestApp, access: &str, path: &str) -> (String, Value) {
    let response = app.get(path).bearer_auth(access).send().await.expect("export request");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/fhir+json");
    assert_eq!(header("cache-control"), "no-store");
    let disposition = header("content-disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"healthtracker-export-")
            && disposition.ends_with(".fhir.json\""),
        "{disposition}"
    );
    let text = response.text().await.expect("the whole export");
    let bundle = serde_json::from_str(&text).expect("JSON");
    (text, bundle)
}

fn coded(bundle: &Value) -> Vec<(String, String, Value)> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .skip(1)
        .map(|e| {
            let r = &e["resource"];
            let code = r["code"]["coding"][0]["code"].as_str().unwrap_or_default().to_owned();
            let day = r["effectiveDateTime"].as_str().unwrap_or_default().to_owned();
            let value = if r["component"].is_array() {
                json!([
                    r["component"][0]["valueQuantity"]["value"],
                    r["component"][1]["valueQuantity"]["value"]
                ])
            } else {
                r["valueQuantity"]["value"].clone()
            };
            (day, code, value)
        })
        .collect()
}

api_test!(
    async fn the_fhir_export_is_a_valid_r4_bundle_of_the_patient_and_each_recorded_value(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let other = app.signup().await;
        app.created_entry(&other.access, &json!({"date": "2026-11-02", "steps": 5})).await;
        app.created_entry(&session.access, &json!({
            "date": "2026-11-03", "calories": 2100, "sleep": 7.5, "heartRate": 61, "steps": 9876, "waterIntake": 2.25,
            "weight": 72.4, "restingHeartRate": 58, "bloodPressure": {"systolic": 118, "diastolic": 76},
            "activeEnergy": 450, "mood": "good", "notes": "not clinical data"
        })).await;
        // Nothing measured but the steps: one Observation (the zeros the old backend stored for an
        // unrecorded field are not measurements).
        app.created_entry(&session.access, &json!({"date": "2026-10-30", "steps": 3000})).await;

        let (text, bundle) = fhir_export(&app, &session.access, "/api/export?format=fhir").await;
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "collection");
        let patient = &bundle["entry"][0];
        assert_eq!(patient["resource"]["resourceType"], "Patient");
        assert_eq!(patient["resource"]["id"], session.user_id.as_str());
        assert!(!text.contains(session.email.as_str()), "the e-mail stays out");
        assert_eq!(
            coded(&bundle),
            [
                ("2026-10-30".into(), "41950-7".into(), json!(3000)),
                ("2026-11-03".into(), "9052-2".into(), json!(2100)),
                ("2026-11-03".into(), "93832-4".into(), json!(7.5)),
                ("2026-11-03".into(), "8867-4".into(), json!(61)),
                ("2026-11-03".into(), "41950-7".into(), json!(9876)),
                ("2026-11-03".into(), "29463-7".into(), json!(72.4)),
                ("2026-11-03".into(), "40443-4".into(), json!(58)),
                ("2026-11-03".into(), "41979-6".into(), json!(450)),
                ("2026-11-03".into(), "85354-9".into(), json!([118, 76])),
            ]
        );
        // Every Observation's subject is the Patient's fullUrl.
        for entry in bundle["entry"].as_array().into_iter().flatten().skip(1) {
            assert_eq!(entry["resource"]["subject"]["reference"], patient["fullUrl"]);
            assert_eq!(entry["resource"]["status"], "final");
        }
        // The same at the root mount.
        let (_, root) = fhir_export(&app, &session.access, "/export?format=fhir").await;
        assert_eq!(coded(&root), coded(&bundle));

        if validate(&text) == Some(true) {
            // The validator refuses what breaks the rules: a reference leading nowhere, an element R4 has not.
            let mut broken = bundle.clone();
            broken["entry"][1]["resource"]["subject"]["reference"] = json!("urn:uuid:00000000-0000-0000-0000-000000000000");
            assert_eq!(validate(&broken.to_string()), Some(false));
            let mut broken = bundle.clone();
            broken["entry"][1]["resource"]["valueInteger64"] = json!(1);
            assert_eq!(validate(&broken.to_string()), Some(false));
        } else {
            assert!(!in_ci(), "the FHIR export is not a valid R4 Bundle");
        }

        // An account with no entries: the Patient alone.
        let (text, empty) = fhir_export(&app, &app.signup().await.access, "/api/export?format=fhir").await;
        assert_eq!(empty["entry"].as_array().map(Vec::len), Some(1));
        assert_ne!(validate(&text), Some(false));
        // An unknown format names the three.
        let response = app.export(&session.access, "?format=xml").await;
        let body = json_body(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["message"], "format must be json, csv or fhir");
    }
);
