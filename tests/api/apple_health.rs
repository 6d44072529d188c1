//! `POST /import/apple-health`: the Health app's export, mapped onto the days, on both backends;
//! hostile files refused with nothing written.

use std::io::Write;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api_test;
use crate::helpers::*;

const XML: &str = "application/xml";
const ZIP: &str = "application/zip";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/apple-health/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn zipped(name: &str, content: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file(name, options).expect("zip entry");
        writer.write_all(content).expect("zip content");
        writer.finish().expect("zip written");
    }
    out.into_inner()
}

/// The fixtures of both device routes are written at -0700: their days are California's.
pub(crate) const CALIFORNIA: &str = "America/Los_Angeles";

pub(crate) async fn entries(app: &TestApp, access: &str) -> Vec<Value> {
    let response = app.list_entries(access, "?limit=366").await;
    let body = json_body(response, StatusCode::OK).await;
    body.as_array().cloned().unwrap_or_default()
}

pub(crate) fn on<'a>(entries: &'a [Value], day: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["date"].as_str().is_some_and(|d| d.starts_with(day)))
        .unwrap_or_else(|| panic!("no entry on {day}: {entries:?}"))
}

api_test! {
    async fn the_export_xml_fills_each_day_by_the_mapping(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        let response = app.import_apple_health(&session.access, "", XML, fixture("export.xml")).await;
        let body = json_body(response, StatusCode::OK).await;
        assert_eq!(body["status"], "success");
        assert_eq!((body["created"].as_u64(), body["updated"].as_u64(), body["unchanged"].as_u64()), (Some(2), Some(0), Some(0)));
        assert_eq!(body["recordsRead"], 28);
        assert_eq!(body["recordsUsed"], 24);
        assert_eq!(body["dropped"], 1);
        assert_eq!(body["skippedTypes"], json!({"ActivitySummary": 1, "HKQuantityTypeIdentifierFlightsClimbed": 1}));
        assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("2024-06-01"), Some("2024-06-02")));

        let entries = entries(&app, &session.access).await;
        let first = on(&entries, "2024-06-01");
        assert_eq!(first["steps"], 6500, "the watch's steps, never phone + watch");
        assert_eq!(first["sleep"], 7.5);
        assert_eq!(first["heartRate"], 66);
        assert_eq!(first["restingHeartRate"], 58);
        assert_eq!(first["weight"], 77.11);
        assert_eq!(first["bloodPressure"], json!({"systolic": 121, "diastolic": 78}));
        assert_eq!(first["activeEnergy"], 400);
        assert_eq!(first["calories"], 1650);
        assert_eq!(first["waterIntake"], 4.1);
        assert_eq!(first["workouts"], true);
        let second = on(&entries, "2024-06-02");
        assert_eq!(second["steps"], 9200);
        assert_eq!(second["heartRate"], 0, "250 bpm was dropped, the day kept");
        assert_eq!(second["workouts"], false);
    }
}

api_test! {
    async fn the_export_zip_imports_like_its_xml_and_a_second_import_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        let zip = zipped("apple_health_export/export.xml", &fixture("export.xml"));
        let first = json_body(app.import_apple_health(&session.access, "", ZIP, zip.clone()).await, StatusCode::OK).await;
        assert_eq!(first["created"], 2);
        let before = entries(&app, &session.access).await;
        for query in ["", "?onConflict=replace"] {
            let again = json_body(app.import_apple_health(&session.access, query, ZIP, zip.clone()).await, StatusCode::OK).await;
            assert_eq!((again["created"].as_u64(), again["updated"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(0), Some(2)), "{query}");
        }
        assert_eq!(entries(&app, &session.access).await, before, "not even updatedAt moved");
    }
}

api_test! {
    async fn fill_keeps_what_the_person_typed_and_replace_overwrites(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        app.created_entry(&session.access, &json!({"date": "2024-06-01", "steps": 4000, "notes": "typed", "mood": "good"})).await;
        let body = json_body(app.import_apple_health(&session.access, "?onConflict=fill", XML, fixture("export.xml")).await, StatusCode::OK).await;
        assert_eq!((body["created"].as_u64(), body["updated"].as_u64()), (Some(1), Some(1)));
        let entries_now = entries(&app, &session.access).await;
        let day = on(&entries_now, "2024-06-01");
        assert_eq!(day["steps"], 4000, "what the person typed wins");
        assert_eq!(day["sleep"], 7.5, "a missing field is filled");
        assert_eq!((day["notes"].as_str(), day["mood"].as_str()), (Some("typed"), Some("good")));

        let body = json_body(app.import_apple_health(&session.access, "?onConflict=replace", XML, fixture("export.xml")).await, StatusCode::OK).await;
        assert_eq!((body["updated"].as_u64(), body["unchanged"].as_u64()), (Some(1), Some(1)));
        let entries_now = entries(&app, &session.access).await;
        let day = on(&entries_now, "2024-06-01");
        assert_eq!(day["steps"], 6500, "the device's figure overwrites");
        assert_eq!(day["notes"], "typed", "fields the device has not are kept");

        let response = app.import_apple_health(&session.access, "?onConflict=skip", XML, fixture("export.xml")).await;
        assert_eq!(detail_paths(&assert_invalid(response).await), vec!["onConflict".to_owned()]);
    }
}

api_test! {
    async fn the_users_time_zone_decides_the_day(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in("Europe/Paris").await;
        let body = json_body(app.import_apple_health(&session.access, "", XML, fixture("export.xml")).await, StatusCode::OK).await;
        // 2024-06-02 23:30 -0700 is 08:30 on the 3rd in Paris.
        assert_eq!(body["to"], "2024-06-03");
        let entries = entries(&app, &session.access).await;
        assert_eq!(on(&entries, "2024-06-03")["steps"], 1200);
    }
}

// Each hostile file is a clear 400 and leaves the account as it was.
api_test! {
    async fn hostile_files_are_refused_and_nothing_is_written(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup_in(CALIFORNIA).await;
        app.created_entry(&session.access, &json!({"date": "2024-06-01", "steps": 4000})).await;
        let before = entries(&app, &session.access).await;
        let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
            ("billion laughs", XML, fixture("billion-laughs.xml"), "entity"),
            ("external entity", XML, fixture("external-entity.xml"), "entity"),
            ("truncated", XML, fixture("truncated.xml"), "truncated"),
            ("zip bomb", ZIP, zipped("export.xml", &vec![b' '; 16 << 20]), "ratio"),
            ("zip without export.xml", ZIP, zipped("apple_health_export/export_cda.xml", b"<ClinicalDocument/>"), "no export.xml"),
            ("not an export", XML, b"<rss version=\"2.0\"/>".to_vec(), "Not an Apple Health export"),
            ("broken zip", ZIP, b"PK\x03\x04 and then nothing".to_vec(), "zip"),
        ];
        for (name, content_type, bytes, says) in cases {
            let response = app.import_apple_health(&session.access, "?onConflict=replace", content_type, bytes).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
            let body: Value = response.json().await.expect("error body");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.to_lowercase().contains(&says.to_lowercase()), "{name}: {message}");
            assert_eq!(entries(&app, &session.access).await, before, "{name} wrote something");
        }
    }
}

api_test! {
    async fn other_media_types_and_callers_without_a_token_are_refused(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let response = app.import_apple_health(&session.access, "", "application/json", b"{}".to_vec()).await;
        assert_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/zip or application/xml").await;
        let response = app.import_apple_health("", "", XML, fixture("export.xml")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(entries(&app, &session.access).await.is_empty());
    }
}

/// Sends a POST with `head` (everything but the body) and streams up to 2 GiB of body, as a
/// client would, while reading the answer; returns the status line and how much body was sent.
async fn post_endlessly(app: &TestApp, head: String, chunked: bool) -> (String, u64) {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let sender = tokio::spawn(async move {
        let mut sent = 0u64;
        if write.write_all(head.as_bytes()).await.is_err() {
            return sent;
        }
        let chunk = vec![b'<'; 64 * 1024];
        while sent < (2u64 << 30) {
            let written = if chunked {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                write.write_all(&framed).await
            } else {
                write.write_all(&chunk).await
            };
            if written.is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read_head = async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_head)
        .await
        .expect("an answer within 30 s");
    drop(read);
    let sent = tokio::time::timeout(Duration::from_secs(30), sender)
        .await
        .expect("the sender stops once the server closes")
        .unwrap_or(0);
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (status_line, sent)
}

api_test! {
    async fn a_2_gb_body_past_the_limit_is_413_without_being_read(backend) {
        let app = TestApp::builder(backend).env("DEVICE_IMPORT_LIMIT", "1mb").spawn().await;
        let session = app.signup_in(CALIFORNIA).await;
        let head = |framing: &str| {
            format!(
                "POST /api/import/apple-health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/zip\r\n{framing}\r\n",
                session.access
            )
        };
        // Declared: refused before a byte of the body is read.
        let (status, sent) = post_endlessly(&app, head("Content-Length: 2147483648\r\n"), false).await;
        assert!(status.contains(" 413 "), "{status}");
        assert!(sent < 1 << 30, "the server read {sent} bytes");
        // Chunked: refused once the body passes the limit.
        let (status, sent) = post_endlessly(&app, head("Transfer-Encoding: chunked\r\n"), true).await;
        assert!(status.contains(" 413 "), "{status}");
        assert!(sent < 1 << 30, "the server read {sent} bytes");
        assert!(entries(&app, &session.access).await.is_empty());
        // Within the limit, the route works.
        let response = app.import_apple_health(&session.access, "", XML, fixture("export.xml")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

api_test! {
    async fn every_other_route_keeps_the_10_mb_body_limit(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let big = format!("{{\"date\":\"2024-06-01\",\"notes\":\"{}\"}}", "x".repeat(11 << 20));
        let response = app
            .post("/api/entries")
            .bearer_auth(&session.access)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(big)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_is_documented_with_both_request_content_types() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = json_body(
        app.get("/api/openapi.json").send().await.expect("openapi"),
        StatusCode::OK,
    )
    .await;
    let operation = &doc["paths"]["/import/apple-health"]["post"];
    let content = &operation["requestBody"]["content"];
    for media in [ZIP, XML] {
        assert_eq!(
            content[media]["schema"]["$ref"], "#/components/schemas/AppleHealthFile",
            "{media}"
        );
    }
    assert_eq!(doc["components"]["schemas"]["AppleHealthFile"]["format"], "binary");
    assert_eq!(
        operation["responses"]["415"]["content"]["application/json"]["example"]["message"],
        "Content-Type must be application/zip or application/xml"
    );
    for status in ["200", "400", "401", "413", "415"] {
        assert!(operation["responses"][status].is_object(), "{status}: {operation}");
    }
    assert!(operation["parameters"].to_string().contains("onConflict"));
}

/// `POST /api/import/apple-health` with `body` streamed (chunked, as a phone's upload arrives).
fn upload(app: &TestApp, access: &str, body: reqwest::Body) -> reqwest::RequestBuilder {
    app.post("/api/import/apple-health")
        .bearer_auth(access)
        .header(reqwest::header::CONTENT_TYPE, XML)
        .body(body)
}

/// The upload of `file` whose body arrives in ten pieces `pause` apart, as over a slow phone link.
async fn import_slowly(app: &TestApp, access: &str, file: Vec<u8>, pause: Duration) -> reqwest::Response {
    use futures_util::StreamExt as _;
    let pieces: Vec<Vec<u8>> = file.chunks(file.len().div_ceil(10)).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(pieces).then(move |piece| async move {
        tokio::time::sleep(pause).await;
        Ok::<_, std::io::Error>(piece)
    });
    upload(app, access, reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("apple health import request")
}

/// An upload of `file`, in its own task, that sends the first half and stalls until the returned
/// sender fires (or is dropped); then half a second for the server to take it up.
async fn stalled_upload(
    app: &TestApp,
    access: &str,
    file: &[u8],
) -> (
    tokio::task::JoinHandle<reqwest::Response>,
    tokio::sync::oneshot::Sender<()>,
) {
    use futures_util::StreamExt as _;
    let (go_on, resume) = tokio::sync::oneshot::channel::<()>();
    let (head, rest) = file.split_at(file.len() / 2);
    let (head, rest) = (head.to_vec(), rest.to_vec());
    let stalled = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(
        futures_util::stream::once(async move {
            let _ = resume.await;
            Ok(rest)
        }),
    );
    let request = upload(app, access, reqwest::Body::wrap_stream(stalled));
    let task = tokio::spawn(async move { request.send().await.expect("stalled upload") });
    tokio::time::sleep(Duration::from_millis(500)).await;
    (task, go_on)
}

api_test! {
    async fn a_slow_upload_has_its_own_deadline_not_the_request_timeout(backend) {
        // A phone's export takes minutes to arrive over a slow link: REQUEST_TIMEOUT_SECS (1 s
        // here) would cut it off; the route's own DEVICE_IMPORT_TIMEOUT_SECS does not.
        let app = TestApp::builder(backend)
            .env("REQUEST_TIMEOUT_SECS", "1")
            .env("DEVICE_IMPORT_TIMEOUT_SECS", "30")
            .spawn()
            .await;
        let session = app.signup_in(CALIFORNIA).await;
        let response = import_slowly(&app, &session.access, fixture("export.xml"), Duration::from_millis(250)).await;
        let body = json_body(response, StatusCode::OK).await;
        assert_eq!(body["created"], 2, "{body}");
        assert_eq!(entries(&app, &session.access).await.len(), 2);
    }
}

api_test! {
    async fn an_upload_past_its_deadline_is_503_and_writes_nothing(backend) {
        let app = TestApp::builder(backend)
            .env("DEVICE_IMPORT_TIMEOUT_SECS", "1")
            .spawn()
            .await;
        let session = app.signup_in(CALIFORNIA).await;
        let response = import_slowly(&app, &session.access, fixture("export.xml"), Duration::from_millis(250)).await;
        assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "Request timed out").await;
        assert!(entries(&app, &session.access).await.is_empty());
    }
}

api_test! {
    async fn uploads_past_device_import_max_uploads_wait_for_one_to_end(backend) {
        // Each upload may spool DEVICE_IMPORT_LIMIT to disk: one at a time here. The first sends
        // half its file and stalls; the second waits, unread, until the first is done.
        let app = TestApp::builder(backend)
            .env("DEVICE_IMPORT_MAX_UPLOADS", "1")
            .env("DEVICE_IMPORT_TIMEOUT_SECS", "30")
            .spawn()
            .await;
        let (first, second) = (app.signup_in(CALIFORNIA).await, app.signup_in(CALIFORNIA).await);
        let file = fixture("export.xml");
        let (first_upload, go_on) = stalled_upload(&app, &first.access, &file).await;

        let whole = futures_util::stream::iter([Ok::<_, std::io::Error>(file.clone())]);
        let request = upload(&app, &second.access, reqwest::Body::wrap_stream(whole));
        let second_upload = tokio::spawn(async move { request.send().await.expect("second upload") });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!second_upload.is_finished(), "the second upload was answered while the first held the only permit");

        let _ = go_on.send(());
        for task in [first_upload, second_upload] {
            let response = task.await.expect("upload task");
            json_body(response, StatusCode::OK).await;
        }
        assert_eq!(entries(&app, &second.access).await.len(), 2);
    }
}

api_test! {
    async fn one_account_uploads_one_file_at_a_time(backend) {
        // So one account cannot hold every DEVICE_IMPORT_MAX_UPLOADS permit with stalled uploads.
        let app = TestApp::builder(backend)
            .env("DEVICE_IMPORT_TIMEOUT_SECS", "30")
            .spawn()
            .await;
        let session = app.signup_in(CALIFORNIA).await;
        let file = fixture("export.xml");
        let (first_upload, go_on) = stalled_upload(&app, &session.access, &file).await;

        let response = app.import_apple_health(&session.access, "", XML, file.clone()).await;
        assert_error(
            response,
            StatusCode::CONFLICT,
            "An Apple Health import of this account is under way: wait for it to finish",
        )
        .await;
        // Another account is not held up.
        let other = app.signup_in(CALIFORNIA).await;
        json_body(app.import_apple_health(&other.access, "", XML, file.clone()).await, StatusCode::OK).await;

        let _ = go_on.send(());
        let first = json_body(first_upload.await.expect("upload task"), StatusCode::OK).await;
        assert_eq!(first["created"], 2);
        let again = json_body(app.import_apple_health(&session.access, "", XML, file).await, StatusCode::OK).await;
        assert_eq!(again["unchanged"], 2);
    }
}
