//! Soak: minutes of mixed traffic on every route from a few concurrent clients, a share of it invalid
//! or hostile (oversized and malformed bodies, bad tokens, injection strings, unicode edge cases).
//! Asserts zero 5xx, a JSON body on every answer, flat memory, and every created entry readable at
//! the end. `SOAK_SECS` sets the length (default 120).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_ai::{FAKE_API_KEY, FakeProvider};
use crate::helpers::{PASSWORD, TEST_JWT_SECRET, hex_id, now_secs, sign};
use crate::process::ServerProcess;

const CLIENTS: usize = 4;
/// Small, so oversized bodies are cheap to send many times.
const BODY_LIMIT: usize = 64 * 1024;

const NASTY: &[&str] = &[
    "'; DROP TABLE entries; --",
    "\" OR 1=1 --",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}}${7*7}",
    "../../../../etc/passwd",
    "\u{0000}nul\u{0000}",
    "\u{202e}override\u{202d}",
    "e\u{301}\u{301}\u{301}\u{301}",
    "👩‍👩‍👧‍👦🏳️‍🌈",
    "\u{feff}bom",
    "\u{200b}\u{200c}\u{200d}",
    "𝕳𝖊𝖆𝖑𝖙𝖍",
    "%00%27%22",
    "$where: sleep(1000)",
];

/// One client's life: its user, its entries, its tally.
struct Client {
    base: String,
    http: reqwest::Client,
    email: String,
    access: String,
    refresh: String,
    /// Entries it created and did not delete: id → day.
    entries: HashMap<String, String>,
    next_day: u64,
    worker: u64,
    statuses: HashMap<u16, u64>,
    failures: Vec<String>,
}

impl Client {
    fn request(
        &self,
        http: &reqwest::Client,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Body,
    ) -> reqwest::RequestBuilder {
        let mut request = http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        match body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Raw(content_type, bytes) => request.header("content-type", *content_type).body(bytes.clone()),
        }
    }

    async fn call(
        &mut self,
        label: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Body,
    ) -> Option<Value> {
        let first = self
            .request(&self.http, method.clone(), path, token, &body)
            .send()
            .await;
        // Every request gets an answer on the connection it was sent on: the server marks the
        // answers after which a connection cannot be reused (`Connection: close`), so a client
        // never sends into a closing connection.
        let response = match first {
            Ok(response) => response,
            Err(error) => {
                self.failures.push(format!("{label}: no response: {error:?}"));
                return None;
            }
        };
        let status = response.status().as_u16();
        *self.statuses.entry(status).or_default() += 1;
        let json = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = response.bytes().await.unwrap_or_default();
        if status >= 500 {
            self.failures
                .push(format!("{label}: {status} {}", String::from_utf8_lossy(&bytes)));
        } else if !json {
            self.failures
                .push(format!("{label}: {status} without a JSON content type"));
        }
        let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
            self.failures
                .push(format!("{label}: {status} with a body that is not JSON"));
            return None;
        };
        // Every error is the envelope: `status: "error"` and a message.
        if status >= 400 && (body["status"] != "error" || body["message"].as_str().is_none_or(str::is_empty)) {
            self.failures
                .push(format!("{label}: {status} not in the error envelope: {body}"));
        }
        Some(json!({ "status": status, "body": body }))
    }

    fn day(&mut self) -> String {
        self.next_day += 1;
        (chrono::NaiveDate::from_ymd_opt(2001, 1, 1).expect("date")
            + chrono::Days::new(self.next_day * 8 + self.worker))
        .to_string()
    }

    async fn login(&mut self) {
        let body = json!({ "email": self.email, "password": PASSWORD });
        if let Some(answer) = self
            .call("login", Method::POST, "/api/auth/login", None, Body::Json(body))
            .await
            && answer["status"] == 200
        {
            self.access = answer["body"]["accessToken"].as_str().unwrap_or_default().to_owned();
            self.refresh = answer["body"]["refreshToken"].as_str().unwrap_or_default().to_owned();
        }
    }

    /// One request, chosen at random: mostly valid traffic, about a third hostile.
    async fn step(&mut self) {
        let access = self.access.clone();
        let token = Some(access.as_str());
        let pick = rand::random_range(0..100u32);
        let nasty = NASTY[rand::random_range(0..NASTY.len())];
        match pick {
            0..=14 => {
                self.call("list", Method::GET, "/api/entries", token, Body::None).await;
            }
            15..=19 => {
                let query = "/api/entries?from=2001-01-01&to=2099-12-31&limit=366";
                self.call("list range", Method::GET, query, token, Body::None).await;
            }
            20..=26 => {
                self.call(
                    "summary",
                    Method::GET,
                    "/api/entries/dashboard/summary",
                    token,
                    Body::None,
                )
                .await;
            }
            27..=39 => {
                let day = self.day();
                let body = json!({
                    "date": day, "calories": "2000", "sleepHours": 7.5, "mood": "good",
                    "symptoms": [nasty], "notes": format!("{nasty} {nasty}"),
                    "foodIntake": [{ "meal": "lunch", "food": nasty, "calories": 300 }],
                });
                if let Some(answer) = self
                    .call("create", Method::POST, "/api/entries", token, Body::Json(body))
                    .await
                    && answer["status"] == 201
                {
                    let id = answer["body"]["data"]["_id"].as_str().unwrap_or_default().to_owned();
                    self.entries.insert(id, day);
                }
            }
            40..=45 => {
                if let Some(id) = self.entries.keys().next().cloned() {
                    let body = json!({ "notes": nasty, "steps": rand::random_range(0..200_000), "user": "x" });
                    self.call(
                        "update",
                        Method::PUT,
                        &format!("/api/entries/{id}"),
                        token,
                        Body::Json(body),
                    )
                    .await;
                }
            }
            46..=49 => {
                if let Some(id) = self.entries.keys().next().cloned() {
                    self.call("get", Method::GET, &format!("/api/entries/{id}"), token, Body::None)
                        .await;
                }
            }
            50..=51 => {
                if let Some(id) = self.entries.keys().last().cloned()
                    && let Some(answer) = self
                        .call(
                            "delete",
                            Method::DELETE,
                            &format!("/api/entries/{id}"),
                            token,
                            Body::None,
                        )
                        .await
                    && answer["status"] == 200
                {
                    self.entries.remove(&id);
                }
            }
            52..=53 => self.login().await,
            54..=55 => {
                let body = json!({ "refreshToken": self.refresh });
                if let Some(answer) = self
                    .call("refresh", Method::POST, "/api/auth/refresh", None, Body::Json(body))
                    .await
                    && answer["status"] == 200
                {
                    self.access = answer["body"]["accessToken"].as_str().unwrap_or_default().to_owned();
                    self.refresh = answer["body"]["refreshToken"].as_str().unwrap_or_default().to_owned();
                }
            }
            56 => {
                let body = json!({ "refreshToken": self.refresh });
                self.call("logout", Method::POST, "/api/auth/logout", token, Body::Json(body))
                    .await;
                self.login().await;
            }
            57 => {
                let body = json!({ "message": format!("How am I doing? {nasty}") });
                self.call("ai chat", Method::POST, "/api/ai/chat", token, Body::Json(body))
                    .await;
            }
            58 => {
                self.call(
                    "ai report",
                    Method::POST,
                    "/api/ai/weekly-report",
                    token,
                    Body::Json(json!({})),
                )
                .await;
            }
            59..=61 => {
                self.call("health", Method::GET, "/api/health", None, Body::None).await;
            }
            62..=64 => {
                self.call("live", Method::GET, "/health/live", None, Body::None).await;
            }
            // --- hostile ---------------------------------------------------------------------------
            65..=67 => {
                let big = format!(
                    "{{\"date\":\"2001-01-01\",\"notes\":\"{}\"}}",
                    "x".repeat(BODY_LIMIT * 2)
                );
                self.call(
                    "oversized",
                    Method::POST,
                    "/api/entries",
                    token,
                    Body::Raw("application/json", big.into()),
                )
                .await;
            }
            68..=70 => {
                let bodies: [&[u8]; 6] = [
                    b"{\"date\": \"2001-01-01\",",
                    b"[1, 2, 3",
                    b"\xff\xfe\xfd not utf-8",
                    b"{\"notes\": \"\\ud800\"}",
                    b"{\"calories\": 1e400, \"date\": \"2001-01-01\"}",
                    b"null",
                ];
                let body = bodies[rand::random_range(0..bodies.len())];
                self.call(
                    "bad json",
                    Method::POST,
                    "/api/entries",
                    token,
                    Body::Raw("application/json", body.to_vec()),
                )
                .await;
            }
            71 => {
                let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
                self.call(
                    "deep json",
                    Method::POST,
                    "/api/auth/login",
                    None,
                    Body::Raw("application/json", deep.into()),
                )
                .await;
            }
            72..=73 => {
                self.call(
                    "wrong type",
                    Method::POST,
                    "/api/entries",
                    token,
                    Body::Raw("text/plain", b"date=2001".to_vec()),
                )
                .await;
            }
            74..=78 => {
                let forged = [
                    "garbage".to_owned(),
                    format!("{access}x"),
                    sign(
                        &json!({ "userId": "0123456789abcdef01234567", "type": "access", "exp": now_secs() - 10 }),
                        TEST_JWT_SECRET,
                    ),
                    sign(
                        &json!({ "userId": "0123456789abcdef01234567", "type": "access", "exp": now_secs() + 600 }),
                        "another-secret-another-secret-xx",
                    ),
                    self.refresh.clone(),
                    "eyJhbGciOiJub25lIn0.eyJ1c2VySWQiOiIwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1NjciLCJ0eXBlIjoiYWNjZXNzIn0."
                        .to_owned(),
                ];
                let bad = forged[rand::random_range(0..forged.len())].clone();
                self.call("bad token", Method::GET, "/api/entries", Some(&bad), Body::None)
                    .await;
            }
            79..=82 => {
                let body = json!({ "email": nasty, "password": nasty });
                self.call("nasty login", Method::POST, "/api/auth/login", None, Body::Json(body))
                    .await;
                let body = json!({ "email": { "$gt": "" }, "password": { "$ne": null } });
                self.call(
                    "operator login",
                    Method::POST,
                    "/api/auth/login",
                    None,
                    Body::Json(body),
                )
                .await;
            }
            83..=84 => {
                let body =
                    json!({ "name": nasty, "email": format!("{}@example.com", hex_id()), "password": "Secret123" });
                self.call(
                    "nasty register",
                    Method::POST,
                    "/api/auth/register",
                    None,
                    Body::Json(body),
                )
                .await;
            }
            85..=88 => {
                let encoded: String = nasty.bytes().map(|b| format!("%{b:02X}")).collect();
                let paths = [
                    format!("/api/entries/{encoded}"),
                    format!("/api/entries?from={encoded}&limit=-1"),
                    "/api/entries/%ff%fe%00".to_owned(),
                    format!("/api/entries/dashboard/summary?date={encoded}"),
                    format!("/api/{}", "a/".repeat(2000)),
                    "/api/entries/..%2f..%2fetc%2fpasswd".to_owned(),
                ];
                let path = paths[rand::random_range(0..paths.len())].clone();
                self.call("nasty path", Method::GET, &path, token, Body::None).await;
            }
            89..=91 => {
                let body = json!({
                    "date": "2001-02-30", "calories": -1, "sleep": 25, "heartRate": 1.5, "mood": nasty,
                    "foodIntake": (0..60).map(|_| json!({ "meal": "brunch", "food": "", "calories": 9999 })).collect::<Vec<_>>(),
                    "symptoms": ["x".repeat(101)], "notes": "n".repeat(1001), "waterIntake": "NaN",
                });
                self.call("invalid entry", Method::POST, "/api/entries", token, Body::Json(body))
                    .await;
            }
            92..=94 => {
                self.call("not found", Method::GET, "/api/nothing-here", None, Body::None)
                    .await;
                self.call("wrong method", Method::PATCH, "/api/entries", token, Body::None)
                    .await;
            }
            _ => {
                let id = self.entries.keys().next().cloned().unwrap_or_default();
                let body = json!({ "date": "2001-01-01T25:61:00Z", "calories": "12abc", "workouts": "maybe" });
                self.call(
                    "invalid update",
                    Method::PUT,
                    &format!("/api/entries/{id}"),
                    token,
                    Body::Json(body),
                )
                .await;
            }
        }
    }
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_mixed_and_hostile_traffic() {
    crate::process::install_crypto_provider();
    let seconds: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let provider = FakeProvider::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("data").join("healthtracker.db");
    let body_limit = BODY_LIMIT.to_string();
    let server = Arc::new(
        ServerProcess::start(
            dir.path(),
            &database,
            &[
                ("GROQ_API_KEY", FAKE_API_KEY),
                ("AI_BASE_URL", &provider.base_url),
                ("BODY_LIMIT", &body_limit),
                ("RATE_LIMIT_MAX_REQUESTS", "100000000"),
            ],
        )
        .await,
    );
    let started = Instant::now();
    let requests = Arc::new(AtomicU64::new(0));
    let rss_samples = Arc::new(std::sync::Mutex::new(Vec::<(f64, u64)>::new()));
    let sampler = {
        let (server, samples) = (Arc::clone(&server), Arc::clone(&rss_samples));
        tokio::spawn(async move {
            loop {
                let (rss, _) = server.rss_kb();
                samples
                    .lock()
                    .expect("lock")
                    .push((started.elapsed().as_secs_f64(), rss));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };

    let mut tasks = Vec::new();
    for worker in 0..CLIENTS as u64 {
        let (base, requests) = (server.url(""), Arc::clone(&requests));
        tasks.push(tokio::spawn(async move {
            let mut client = Client {
                base,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client"),
                email: format!("soak-{}@example.com", hex_id()),
                access: String::new(),
                refresh: String::new(),
                entries: HashMap::new(),
                next_day: 0,
                worker,
                statuses: HashMap::new(),
                failures: Vec::new(),
            };
            let body = json!({ "name": "Soak Client", "email": client.email, "password": PASSWORD });
            let answer = client
                .call("register", Method::POST, "/api/auth/register", None, Body::Json(body))
                .await
                .expect("register");
            client.access = answer["body"]["accessToken"].as_str().expect("token").to_owned();
            client.refresh = answer["body"]["refreshToken"].as_str().expect("token").to_owned();
            while started.elapsed() < Duration::from_secs(seconds) {
                client.step().await;
                requests.fetch_add(1, Ordering::Relaxed);
            }
            client
        }));
    }
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.expect("client task"));
    }
    sampler.abort();

    // Every entry created (and not deleted) is there, as it was acknowledged.
    let mut checked = 0;
    let mut missing = Vec::new();
    for client in &mut clients {
        client.login().await;
        let entries: Vec<(String, String)> = client.entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (id, day) in entries {
            let response = client
                .http
                .get(format!("{}/api/entries/{id}", client.base))
                .bearer_auth(&client.access)
                .send()
                .await
                .expect("read back");
            let body: Value = response.json().await.unwrap_or_default();
            if body["data"]["_id"] != id.as_str()
                || !body["data"]["date"].as_str().unwrap_or_default().starts_with(&day)
            {
                missing.push(format!("{id} ({day}): {body}"));
            }
            checked += 1;
        }
    }

    let mut statuses: HashMap<u16, u64> = HashMap::new();
    for client in &clients {
        for (status, count) in &client.statuses {
            *statuses.entry(*status).or_default() += count;
        }
    }
    let mut statuses: Vec<(u16, u64)> = statuses.into_iter().collect();
    statuses.sort();
    let failures: Vec<&String> = clients.iter().flat_map(|c| c.failures.iter()).collect();
    let samples = rss_samples.lock().expect("lock").clone();
    // Memory after the first 15 s (logins have allocated their argon2 blocks, caches are warm) and at the end.
    let settled = samples
        .iter()
        .find(|(t, _)| *t >= 15.0)
        .or(samples.first())
        .map_or(0, |(_, rss)| *rss);
    let end = samples.last().map_or(0, |(_, rss)| *rss);
    let peak = samples.iter().map(|(_, rss)| *rss).max().unwrap_or_default();
    println!(
        "soak: {} s, {} requests from {CLIENTS} clients; statuses {statuses:?}",
        seconds,
        requests.load(Ordering::Relaxed)
    );
    println!(
        "soak: RSS first sample {} KiB, at 15 s {settled} KiB, end {end} KiB, peak {peak} KiB; {checked} entries read back",
        samples.first().map_or(0, |(_, rss)| *rss)
    );
    assert!(
        failures.is_empty(),
        "{} failures, first ones: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    assert!(missing.is_empty(), "created entries missing: {missing:#?}");
    assert!(checked > 0);
    assert!(
        settled > 0 && samples.len() >= 3,
        "RSS was not sampled ({} samples): the memory check would prove nothing",
        samples.len()
    );
    // Generous: a leak of a few hundred bytes per request would show as tens of MiB here.
    assert!(
        end <= settled + 16 * 1024,
        "RSS grew from {settled} KiB to {end} KiB during the soak"
    );
    assert!(!server.log().contains("panicked"), "a panic was logged");
}
