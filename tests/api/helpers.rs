//! `TestApp`: the real application, spawned on a random port with its own fresh database, driven over
//! HTTP. One typed helper per route.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use healthtracker::config::Settings;
use healthtracker::domain::clock::Clock;
use healthtracker::startup::Application;
use healthtracker::storage::Storage;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// The JWT secret every test app signs with, so tests can mint their own tokens (legacy, expired,
/// forged) to present to it.
pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const PASSWORD: &str = "Secret123";

/// The storage backend a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MongoDb,
}

/// Where a test app keeps its data: one fresh database per app.
pub struct Database {
    pub url: String,
    pub sqlite_path: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    /// A MongoDB database of this test's own, dropped with it.
    pub mongo: bool,
}

impl Database {
    pub fn fresh(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("data").join("healthtracker.db");
                Self {
                    url: format!("sqlite://{}", path.display()),
                    sqlite_path: Some(path),
                    _dir: Some(dir),
                    mongo: false,
                }
            }
            Backend::MongoDb => {
                let base = crate::mongo_server::base_uri().expect("a MongoDB server (the test checks before)");
                Self::mongo_at(&base)
            }
        }
    }

    /// An existing SQLite file (a backup, a copy's target).
    pub fn sqlite_file(path: PathBuf) -> Self {
        Self {
            url: format!("sqlite://{}", path.display()),
            sqlite_path: Some(path),
            _dir: None,
            mongo: false,
        }
    }

    /// A fresh database on the MongoDB server at `base_uri`.
    pub fn mongo_at(base_uri: &str) -> Self {
        Self {
            url: crate::mongo_server::with_database(base_uri, &format!("ht_test_{}", hex_id())),
            sqlite_path: None,
            _dir: None,
            mongo: true,
        }
    }

    /// The test's database through the driver, for fixtures and to look at raw documents.
    pub async fn mongo_db(&self) -> mongodb::Database {
        let client = mongodb::Client::with_uri_str(&self.url).await.expect("MongoDB client");
        client.default_database().expect("database name in the URL")
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if self.mongo {
            crate::mongo_server::drop_database(self.url.clone());
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub store: Arc<dyn Storage>,
    pub database: Arc<Database>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A connected MCP client (see [`TestApp::mcp_client`]).
pub type McpClient = rmcp::service::RunningService<rmcp::RoleClient, rmcp::model::ClientConfig>;

/// A registered user and their tokens.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

pub struct TestAppBuilder {
    backend: Backend,
    vars: HashMap<String, String>,
    database: Option<Arc<Database>>,
    clock: Clock,
}

impl TestAppBuilder {
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Points the AI routes at a fake provider.
    pub fn ai(self, provider: &crate::fake_ai::FakeProvider) -> Self {
        self.env("GROQ_API_KEY", crate::fake_ai::FAKE_API_KEY)
            .env("AI_BASE_URL", &provider.base_url)
            .env("AI_TIMEOUT_SECS", "5")
    }

    /// Turns on async jobs against `redis` (with the in-process worker).
    pub fn async_jobs(self, redis: &TestRedis) -> Self {
        self.env("ENABLE_ASYNC_JOBS", "true")
            .env("REDIS_URL", &redis.url)
            .env("REDIS_KEY_PREFIX", &redis.prefix)
    }

    /// Decides "today" with `clock` (a fixed clock the test moves) instead of the system's.
    pub fn clock(mut self, clock: &Clock) -> Self {
        self.clock = clock.clone();
        self
    }

    /// Shares another app's database (several instances behind one database).
    pub fn database(mut self, database: Arc<Database>) -> Self {
        self.database = Some(database);
        self
    }

    pub async fn spawn(self) -> TestApp {
        init_test_logging();
        let database = self.database.unwrap_or_else(|| Arc::new(Database::fresh(self.backend)));
        let mut vars: HashMap<String, String> = [
            ("APP_ENV", "test"),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("JWT_SECRET", TEST_JWT_SECRET),
            ("LOG_LEVEL", "info"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        vars.insert("DATABASE_URL".into(), database.url.clone());
        vars.extend(self.vars);
        let settings = Settings::from_lookup(&move |k| vars.get(k).cloned()).expect("valid test settings");

        let app = Application::build_with_clock(settings, self.clock)
            .await
            .expect("application builds");
        let port = app.port();
        let store = Arc::clone(&app.state().store);
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client,
            store,
            database,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }
}

/// An HTTP client for a server the test runs as a process (a `TestApp` has its own).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().expect("HTTP client")
}

/// Logs from the app under test go to the test output only with `TEST_LOG=1`. Called before a
/// test captures logs, too (see [`OpenInterest`]).
pub fn init_test_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The HTTP clients use rustls; the server installs the same provider when it builds its AI client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if std::env::var_os("TEST_LOG").is_some() {
            // The writer lives as long as the test process.
            std::mem::forget(healthtracker::telemetry::init(
                "debug",
                healthtracker::config::LogFormat::Pretty,
            ));
        } else {
            let _ = tracing::subscriber::set_global_default(OpenInterest);
        }
    });
}

/// A global subscriber that records nothing and keeps every callsite's interest open. Without a
/// global one, tracing-core may settle a callsite's interest with the *registering thread's*
/// default while only one scoped dispatcher is alive (its `has_just_one` shortcut): a test
/// thread without a subscriber then turns the callsite off for the test capturing logs on
/// another thread, and the capture misses lines (seen as a rare failure of the logging tests).
struct OpenInterest;

impl tracing::Subscriber for OpenInterest {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            vars: HashMap::new(),
            database: None,
            clock: Clock::system(),
        }
    }

    pub async fn spawn(backend: Backend) -> TestApp {
        Self::builder(backend).spawn().await
    }

    /// Stops accepting, waits for in-flight requests, and reports how the server ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    // --- auth -------------------------------------------------------------------------------

    pub async fn register(&self, body: &Value) -> Response {
        self.post("/api/auth/register")
            .json(body)
            .send()
            .await
            .expect("register request")
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/api/auth/login")
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    /// A login as a client behind a proxy at `ip` (the app must run with `TRUST_PROXY=true`).
    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> Response {
        self.post("/api/auth/login")
            .header("x-forwarded-for", ip)
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    pub async fn refresh(&self, body: &Value) -> Response {
        self.post("/api/auth/refresh")
            .json(body)
            .send()
            .await
            .expect("refresh request")
    }

    pub async fn logout(&self, access: &str, body: Option<&Value>) -> Response {
        let request = self.post("/api/auth/logout").bearer_auth(access);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        request.send().await.expect("logout request")
    }

    // --- account -------------------------------------------------------------------------------

    pub async fn me(&self, access: &str) -> Response {
        self.get("/api/auth/me")
            .bearer_auth(access)
            .send()
            .await
            .expect("me request")
    }

    pub async fn update_me(&self, access: &str, body: &Value) -> Response {
        self.request(Method::PATCH, "/api/auth/me")
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .expect("update me request")
    }

    pub async fn delete_me(&self, access: &str, password: &str) -> Response {
        self.request(Method::DELETE, "/api/auth/me")
            .bearer_auth(access)
            .json(&json!({ "password": password }))
            .send()
            .await
            .expect("delete me request")
    }

    pub async fn change_password(&self, access: &str, current: &str, new: &str) -> Response {
        self.post("/api/auth/change-password")
            .bearer_auth(access)
            .json(&json!({ "currentPassword": current, "newPassword": new }))
            .send()
            .await
            .expect("change password request")
    }

    pub async fn sessions(&self, access: &str) -> Response {
        self.get("/api/auth/sessions")
            .bearer_auth(access)
            .send()
            .await
            .expect("sessions request")
    }

    pub async fn end_session(&self, access: &str, id: &str) -> Response {
        self.request(Method::DELETE, &format!("/api/auth/sessions/{id}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("end session request")
    }

    pub async fn logout_all(&self, access: &str) -> Response {
        self.post("/api/auth/logout-all")
            .bearer_auth(access)
            .send()
            .await
            .expect("logout-all request")
    }

    pub async fn export(&self, access: &str, query: &str) -> Response {
        self.get(&format!("/api/export{query}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("export request")
    }

    pub async fn import(&self, access: &str, query: &str, body: &Value) -> Response {
        self.post(&format!("/api/import{query}"))
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .expect("import request")
    }

    /// `POST /api/import/apple-health` with `body` as `content_type`.
    pub async fn import_apple_health(&self, access: &str, query: &str, content_type: &str, body: Vec<u8>) -> Response {
        self.post(&format!("/api/import/apple-health{query}"))
            .bearer_auth(access)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("apple health import request")
    }

    /// `POST /api/import/health-auto-export` with `body` as `content_type`.
    pub async fn import_health_auto_export(
        &self,
        access: &str,
        query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        self.post(&format!("/api/import/health-auto-export{query}"))
            .bearer_auth(access)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("health auto export request")
    }

    /// Registers a new user with a unique e-mail and returns their session.
    pub async fn signup(&self) -> Session {
        let email = format!("user-{}@example.com", hex_id());
        let response = self
            .register(&json!({ "name": "Test User", "email": email, "password": PASSWORD }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("register body");
        Session {
            user_id: body["userId"].as_str().expect("userId").to_owned(),
            email,
            access: body["accessToken"].as_str().expect("accessToken").to_owned(),
            refresh: body["refreshToken"].as_str().expect("refreshToken").to_owned(),
        }
    }

    /// A new user living in `zone` (an IANA name): their days are that zone's.
    pub async fn signup_in(&self, zone: &str) -> Session {
        let session = self.signup().await;
        let body = json_body(
            self.update_me(&session.access, &json!({ "timezone": zone })).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(body["user"]["timezone"], zone);
        session
    }

    // --- MCP --------------------------------------------------------------------------------

    /// One raw JSON-RPC message to `POST {path}` (`/mcp` or `/api/mcp`), as the transport sends it.
    pub async fn mcp_post(&self, path: &str, access: Option<&str>, message: &Value) -> Response {
        let mut request = self
            .post(path)
            .header("accept", "application/json, text/event-stream")
            .json(message);
        if let Some(access) = access {
            request = request.bearer_auth(access);
        }
        request.send().await.expect("MCP request")
    }

    /// The official Rust SDK's MCP client over Streamable HTTP at `path`, initialized with
    /// `version`; the token, when given, as `Authorization: Bearer`.
    pub async fn mcp_client(
        &self,
        path: &str,
        access: Option<&str>,
        version: rmcp::model::ProtocolVersion,
    ) -> Result<McpClient, rmcp::service::ClientInitializeError> {
        use rmcp::ServiceExt;
        use rmcp::transport::StreamableHttpClientTransport;
        use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url(path));
        if let Some(access) = access {
            config = config.auth_header(access);
        }
        let transport = StreamableHttpClientTransport::with_client(self.client.clone(), config);
        let info = rmcp::model::ClientConfig::new(
            rmcp::model::ClientCapabilities::default(),
            rmcp::model::Implementation::new("healthtracker-tests", "0.0.0"),
        )
        .with_protocol_version(version);
        info.serve(transport).await
    }

    // --- entries ----------------------------------------------------------------------------

    pub async fn list_entries(&self, access: &str, query: &str) -> Response {
        self.get(&format!("/api/entries{query}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("list request")
    }

    /// `GET /entries` at the root mount (the envelope; `/api` answers the bare array).
    pub async fn list_entries_root(&self, access: &str, query: &str) -> Response {
        self.get(&format!("/entries{query}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("list request")
    }

    pub async fn dashboard(&self, access: &str, query: &str) -> Response {
        self.get(&format!("/api/entries/dashboard/summary{query}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("dashboard request")
    }

    pub async fn stats(&self, access: &str, query: &str) -> Response {
        self.get(&format!("/api/entries/stats{query}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("stats request")
    }

    pub async fn goals(&self, access: &str) -> Response {
        self.get("/api/goals")
            .bearer_auth(access)
            .send()
            .await
            .expect("goals request")
    }

    pub async fn put_goals(&self, access: &str, body: &Value) -> Response {
        self.request(Method::PUT, "/api/goals")
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .expect("goals request")
    }

    pub async fn create_entry(&self, access: &str, body: &Value) -> Response {
        self.post("/api/entries")
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .expect("create request")
    }

    /// Creates an entry that must succeed and returns its `data`.
    pub async fn created_entry(&self, access: &str, body: &Value) -> Value {
        let response = self.create_entry(access, body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating {body}");
        let mut body: Value = response.json().await.expect("create body");
        body["data"].take()
    }

    pub async fn get_entry(&self, access: &str, id: &str) -> Response {
        self.get(&format!("/api/entries/{id}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("get request")
    }

    pub async fn update_entry(&self, access: &str, id: &str, body: &Value) -> Response {
        self.request(Method::PUT, &format!("/api/entries/{id}"))
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .expect("update request")
    }

    pub async fn delete_entry(&self, access: &str, id: &str) -> Response {
        self.request(Method::DELETE, &format!("/api/entries/{id}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("delete request")
    }

    // --- ai ---------------------------------------------------------------------------------

    pub async fn chat(&self, access: &str, message: &str) -> Response {
        self.post("/api/ai/chat")
            .bearer_auth(access)
            .json(&json!({ "message": message }))
            .send()
            .await
            .expect("chat request")
    }

    /// A chat asked for as server-sent events.
    pub async fn chat_stream(&self, access: &str, message: &str) -> Response {
        self.post("/api/ai/chat")
            .bearer_auth(access)
            .header("accept", "text/event-stream")
            .json(&json!({ "message": message }))
            .send()
            .await
            .expect("chat request")
    }

    pub async fn ai_history(&self, access: &str, query: &str) -> Response {
        self.get(&format!("/api/ai/history{query}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("history request")
    }

    pub async fn clear_ai_history(&self, access: &str) -> Response {
        self.request(Method::DELETE, "/api/ai/history")
            .bearer_auth(access)
            .send()
            .await
            .expect("history request")
    }

    pub async fn weekly_report(&self, access: &str) -> Response {
        self.post("/api/ai/weekly-report")
            .bearer_auth(access)
            .json(&json!({}))
            .send()
            .await
            .expect("report request")
    }

    pub async fn job_status(&self, access: &str, job_id: &str) -> Response {
        self.get(&format!("/api/ai/job-status/{job_id}"))
            .bearer_auth(access)
            .send()
            .await
            .expect("job status request")
    }

    /// Polls a job until it is completed or failed (or `timeout` passes) and returns its `job`.
    pub async fn wait_for_job(&self, access: &str, job_id: &str, timeout: std::time::Duration) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let body = json_body(self.job_status(access, job_id).await, StatusCode::OK).await;
            let state = body["job"]["state"].as_str().unwrap_or_default().to_owned();
            if state == "completed" || state == "failed" || std::time::Instant::now() > deadline {
                return body["job"].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    // --- health -----------------------------------------------------------------------------

    pub async fn health(&self) -> Response {
        self.get("/api/health").send().await.expect("health request")
    }

    pub async fn health_live(&self) -> Response {
        self.get("/api/health/live").send().await.expect("live request")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// True when running under CI, where a missing service is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips a test whose service is missing: a clear SKIP line by hand, a failure under `CI=true`.
pub fn skip_or_fail(test: &str, reason: &str) {
    if in_ci() {
        panic!("{test}: {reason} (CI=true: a missing service is a failure, not a skip)");
    }
    eprintln!("SKIP ({test}): {reason}");
}

/// A Redis for one test: a unique key prefix (so tests run in parallel) on the shared server.
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    /// The Redis at `TEST_REDIS_URL` (default 127.0.0.1:6379), or `None` after [`skip_or_fail`].
    pub async fn shared(test: &str) -> Option<Self> {
        let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        if !redis_answers(&url).await {
            skip_or_fail(test, &format!("Redis is not reachable at {url}"));
            return None;
        }
        Some(Self {
            url,
            prefix: format!("httest-{}", hex_id()),
        })
    }

    pub fn on(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: format!("httest-{}", hex_id()),
        }
    }

    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url.as_str()).expect("redis url");
        client
            .get_multiplexed_async_connection()
            .await
            .expect("redis connection")
    }

    /// Deletes every key of this test.
    pub async fn cleanup(&self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut connection)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query_async(&mut connection).await;
        }
    }
}

pub async fn redis_answers(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let attempt = async {
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING").query_async::<String>(&mut connection).await.ok()
    };
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), attempt).await,
        Ok(Some(_))
    )
}

/// A redis-server of the test's own on a free port, which the test can stop and start again.
pub struct OwnRedis {
    pub port: u16,
    child: Option<std::process::Child>,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    /// `None` (after [`skip_or_fail`]) when `redis-server` is not installed.
    pub async fn start(test: &str) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let mut redis = Self {
            port,
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        if let Err(reason) = redis.launch().await {
            skip_or_fail(test, &reason);
            return None;
        }
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) -> Result<(), String> {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
        self.child = Some(child);
        for _ in 0..100 {
            if redis_answers(&self.url()).await {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err("redis-server did not start".to_owned())
    }

    /// Kills the server (no goodbye, as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await.expect("redis-server restarts");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A unique hex string for e-mails and names.
pub fn hex_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Reads a response as JSON, asserting the status and the JSON content type every answer must have.
pub async fn json_body(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("response body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?} for {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Asserts an error answer: status, envelope and message.
pub async fn assert_error(response: Response, status: StatusCode, message: &str) -> Value {
    let body = json_body(response, status).await;
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["message"], message, "{body}");
    body
}

/// Asserts a validation error: 400, the envelope, every failing field in `details`, and a `message`
/// that names the first of them (what a client that shows only `message` tells its user).
pub async fn assert_invalid(response: Response) -> Value {
    let body = json_body(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["status"], "error", "{body}");
    let first = &body["details"][0]["msg"];
    assert!(first.as_str().is_some_and(|m| !m.is_empty()), "no details: {body}");
    assert_eq!(
        body["message"], *first,
        "the message names the first failing rule: {body}"
    );
    body
}

/// The `path`s of a validation error's `details`.
pub fn detail_paths(body: &Value) -> Vec<String> {
    body["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .filter_map(|d| d["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes a JWT's claims without checking the signature (to inspect what the server minted).
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("JWT payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Signs arbitrary claims with HS256 and `secret`.
pub fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signing")
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Declares an HTTP test that runs once per storage backend: `<name>::sqlite` and `<name>::mongodb`.
#[macro_export]
macro_rules! api_test {
    ($(#[$attr:meta])* async fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::helpers::Backend) $body

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mongodb() {
                if $crate::mongo_server::available() {
                    run($crate::helpers::Backend::MongoDb).await
                }
            }
        }
    };
}
