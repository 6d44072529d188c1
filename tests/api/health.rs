//! Health probes.

use reqwest::StatusCode;

use crate::api_test;
use crate::helpers::*;

api_test!(
    async fn health_reports_every_service(backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/api/health", "/health"] {
            let body = json_body(app.get(path).send().await.expect("health"), StatusCode::OK).await;
            assert_eq!(body["status"], "success");
            assert_eq!(body["message"], "Server is running");
            assert!(body["timestamp"].as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()));
            assert!(body["uptime"].as_f64().is_some_and(|u| u >= 0.0));
            assert_eq!(body["services"]["database"], "connected");
            assert_eq!(body["services"]["redis"], "not-configured");
            assert_eq!(body["services"]["ai"], "not-configured");
            assert_eq!(body["environment"], "test");
            assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        }
    }
);

api_test!(
    async fn liveness_needs_no_dependency(backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/api/health/live", "/health/live"] {
            let body = json_body(app.get(path).send().await.expect("live"), StatusCode::OK).await;
            assert_eq!(body["status"], "success");
        }
    }
);

#[tokio::test]
async fn health_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let path = app.database.sqlite_path.clone().expect("sqlite path");
    let dir = path.parent().expect("data dir").to_owned();
    std::fs::remove_dir_all(&dir).expect("remove data dir");

    let body = json_body(app.health().await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["services"]["database"], "disconnected");
    assert_eq!(body["status"], "error");
    for field in ["timestamp", "uptime", "environment", "version"] {
        assert!(body.get(field).is_some(), "{field} missing from the 503 body");
    }
    // Liveness does not depend on the database.
    assert_eq!(app.health_live().await.status(), StatusCode::OK);
}
