//! Slow and hostile connections against the real binary: thousands of half-sent requests
//! (slowloris) while a normal client keeps being served, and a server that runs out of file
//! descriptors. Loopback only; the number of slow connections is bounded (`SLOW_CLIENTS`, default
//! 3000). Run with `-- --nocapture` to see the figures (BENCHMARKS.md quotes them).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::process::{ServerProcess, install_crypto_provider};

const HEADER_TIMEOUT: Duration = Duration::from_secs(3);
/// What the watchdog may add on a loaded two-core machine before a connection is closed.
const CLOSE_SLACK: Duration = Duration::from_secs(2);

fn slow_clients() -> usize {
    std::env::var("SLOW_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// Opens a connection, sends half a request and waits for the server to close it: the time from
/// the last byte sent to the close, or `None` if it was still open after `patience`.
async fn half_sent_request(port: u16, patience: Duration) -> Result<Option<Duration>, std::io::Error> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await?;
    let sent = Instant::now();
    let mut buffer = [0u8; 512];
    loop {
        let Some(left) = patience.checked_sub(sent.elapsed()) else {
            return Ok(None);
        };
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return Ok(None),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(Some(sent.elapsed())),
            Ok(Ok(_)) => {}
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_half_sent_requests_neither_slow_others_down_nor_outlive_the_header_deadline() {
    install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let header_secs = HEADER_TIMEOUT.as_secs().to_string();
    let server = ServerProcess::start(
        dir.path(),
        &dir.path().join("ht.db"),
        &[("HEADER_READ_TIMEOUT_SECS", &header_secs), ("LOG_LEVEL", "warn")],
    )
    .await;
    let (rss_before_kb, _) = server.rss_kb();

    // The normal client: one request after another on a kept-alive connection, timed, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let normal = {
        let stop = Arc::clone(&stop);
        let url = server.url("/api/health/live");
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client");
            let (mut latencies, mut failures) = (Vec::new(), 0usize);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match client.get(&url).send().await {
                    Ok(response) if response.status() == 200 => latencies.push(started.elapsed()),
                    _ => failures += 1,
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (latencies, failures)
        })
    };

    let count = slow_clients();
    let patience = HEADER_TIMEOUT + CLOSE_SLACK + Duration::from_secs(5);
    let opening = Instant::now();
    let mut slow = Vec::with_capacity(count);
    for _ in 0..count {
        let port = server.port;
        slow.push(tokio::spawn(async move { half_sent_request(port, patience).await }));
        // Bounded pace: a thousand connections every ~100 ms rather than all in one burst.
        if slow.len() % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let opened_in = opening.elapsed();
    // The server's memory while the slow connections are open, until the last is closed.
    let mut rss_peak_kb = 0;
    while !slow.iter().all(|task| task.is_finished()) {
        rss_peak_kb = rss_peak_kb.max(server.rss_kb().0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut closes = Vec::with_capacity(count);
    let mut connect_errors = 0;
    for task in slow {
        match task.await.expect("task") {
            Ok(closed) => closes.push(closed),
            Err(_) => connect_errors += 1,
        }
    }
    // The slow connections are gone; keep the normal client going a moment longer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, failures) = normal.await.expect("normal client");
    let (rss_after_kb, vm_hwm_kb) = server.rss_kb();

    latencies.sort();
    let still_open = closes.iter().filter(|c| c.is_none()).count();
    let mut closed_after: Vec<Duration> = closes.iter().flatten().copied().collect();
    closed_after.sort();
    println!(
        "FIGURES slow clients: {count} half-sent requests opened in {opened_in:.2?} ({connect_errors} refused); \
         closed after p50 {:.2?} / max {:.2?} (header timeout {HEADER_TIMEOUT:?}), {still_open} still open; \
         normal client: {} requests, {failures} failed, p50 {:.2?}, p99 {:.2?}, max {:.2?}; \
         server RSS before {} MB, peak {} MB, after {} MB (VmHWM {} MB)",
        percentile(&closed_after, 0.5),
        closed_after.last().copied().unwrap_or_default(),
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
        rss_before_kb / 1024,
        rss_peak_kb / 1024,
        rss_after_kb / 1024,
        vm_hwm_kb / 1024,
    );

    assert_eq!(connect_errors, 0, "connections refused");
    assert_eq!(still_open, 0, "slow connections outlived the header deadline");
    let latest = closed_after.last().copied().unwrap_or_default();
    assert!(
        latest <= HEADER_TIMEOUT + CLOSE_SLACK,
        "a slow connection was closed only after {latest:?}"
    );
    assert!(
        latest >= HEADER_TIMEOUT - Duration::from_millis(200),
        "closed before its deadline: {latest:?}"
    );
    assert_eq!(failures, 0, "the normal client saw failures");
    assert!(
        latencies.len() >= 100,
        "the normal client got only {} answers",
        latencies.len()
    );
    let p99 = percentile(&latencies, 0.99);
    assert!(p99 <= Duration::from_millis(50), "normal client p99 {p99:?}");
    // Bounded: a half-sent request costs a few kB, not a growing buffer.
    assert!(vm_hwm_kb < 256 * 1024, "peak RSS {} MB", vm_hwm_kb / 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_does_not_end_the_server() {
    install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start_limited(
        dir.path(),
        &dir.path().join("ht.db"),
        &[("HEADER_READ_TIMEOUT_SECS", "2")],
        Some(128),
    )
    .await;
    // More connections than the process may have descriptors: accepting fails with EMFILE.
    let mut held = Vec::new();
    for _ in 0..200 {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", server.port)).await {
            held.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log = server.log();
    assert!(
        log.contains("cannot accept connections"),
        "no accept error was logged: {}",
        server.log_tail()
    );
    drop(held);
    // Once descriptors are free again (the silent connections closed at the header deadline), it
    // serves as before.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answered = client.get(server.url("/api/health")).send().await;
        if answered.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not serving again; log:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The log is written in batches a few milliseconds apart.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !server.log().contains("accepting connections again") {
        assert!(Instant::now() < deadline, "recovery not logged: {}", server.log_tail());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An export of about 8.5 MB: 2,000 days with every text field at its longest, more than the
/// socket buffers on both ends hold.
fn large_export_document() -> serde_json::Value {
    let start = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("date");
    let entries: Vec<serde_json::Value> = (0..2_000)
        .map(|n| {
            let food: Vec<serde_json::Value> = (0..10)
                .map(|i| serde_json::json!({"meal": "lunch", "food": format!("{i} {}", "f".repeat(190)), "calories": 100}))
                .collect();
            let symptoms: Vec<String> = (0..10).map(|i| format!("{i} {}", "s".repeat(90))).collect();
            serde_json::json!({
                "date": (start + chrono::Days::new(n)).format("%Y-%m-%d").to_string(),
                "calories": 2100, "sleep": 7.5, "workouts": true, "steps": n, "mood": "good",
                "foodIntake": food, "symptoms": symptoms, "notes": "n".repeat(1_000),
            })
        })
        .collect();
    serde_json::json!({"format": "healthtracker-export", "version": 1, "entries": entries})
}

/// A client that asks for its export and stops reading: the server closes the connection once its
/// writes made no progress for `WRITE_TIMEOUT_SECS`, and SIGTERM does not wait for it (the grace
/// period is 45 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_an_export_is_closed_at_the_write_timeout_and_does_not_delay_shutdown() {
    install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ServerProcess::start(
        dir.path(),
        &dir.path().join("ht.db"),
        &[("WRITE_TIMEOUT_SECS", "2"), ("REQUEST_TIMEOUT_SECS", "120")],
    )
    .await;
    let client = reqwest::Client::new();
    let registered: serde_json::Value = client
        .post(server.url("/api/auth/register"))
        .json(&serde_json::json!({"name": "Slow Reader", "email": format!("slow-{}@example.com", crate::helpers::hex_id()), "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("register body");
    let token = registered["accessToken"].as_str().expect("token").to_owned();
    let document = serde_json::to_vec(&large_export_document()).expect("document");
    let imported = client
        .post(server.url("/api/import"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(document)
        .send()
        .await
        .expect("import");
    assert_eq!(imported.status(), 200, "{:?}", imported.text().await);

    // A small receive buffer, and no reading: the server's writes stop making progress.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let mut stream = socket
        .connect(([127, 0, 0, 1], server.port).into())
        .await
        .expect("connect");
    let request =
        format!("GET /api/export?format=json HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopping = Instant::now();
    server.sigterm();
    let status = server.wait(Duration::from_secs(15)).await;
    let stopped_in = stopping.elapsed();
    // What the server sent before it gave up: not the whole export.
    let mut received = 0usize;
    let mut buffer = vec![0u8; 64 * 1024];
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received += n,
            }
        }
    })
    .await;
    println!(
        "FIGURES stalled export reader: server exited {stopped_in:.2?} after SIGTERM ({status}); the reader got {received} bytes"
    );
    assert!(status.success(), "{status}; log:\n{}", server.log_tail());
    assert!(ended.is_ok(), "the connection was still open");
    assert!(received < 8_000_000, "the whole export was sent ({received} bytes)");
    assert!(stopped_in < Duration::from_secs(8), "shutdown waited {stopped_in:?}");
}
