//! Slow and hostile clients at the connection level: header deadlines, header size, idle keep-alive,
//! the per-request timeout. Raw sockets where an HTTP client would hide what the server does.
//! (Thousands of slow connections at once are in the fault tests: tests/faults/slow_clients.rs.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fake_ai::{Behaviour, FakeProvider};
use crate::helpers::*;

/// Waits for the server to close `stream` (read returns 0 or fails); how long it took, or `None`
/// when it was still open after `patience`. Any bytes the server sends first are returned with it.
async fn closed_within(stream: &mut TcpStream, patience: Duration) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = patience.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some((started.elapsed(), received)),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Reads one whole response (this suite's routes answer with a Content-Length).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("a response within 5 s")
            .expect("read");
        assert!(n > 0, "connection closed before a whole response");
        received.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

/// Reads `count` whole responses (each with a Content-Length) that may arrive in any pieces.
async fn read_responses(stream: &mut TcpStream, count: usize) -> Vec<String> {
    let mut received = Vec::new();
    let mut answers = Vec::new();
    let mut buffer = [0u8; 4096];
    while answers.len() < count {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                answers.push(text[..end + 4 + length].to_owned());
                received.drain(..end + 4 + length);
                continue;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("a response within 5 s")
            .expect("read");
        assert!(n > 0, "connection closed before {count} whole responses");
        received.extend_from_slice(&buffer[..n]);
    }
    answers
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect")
}

#[tokio::test]
async fn a_client_that_stops_in_the_middle_of_its_headers_is_disconnected() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("HEADER_READ_TIMEOUT_SECS", "1")
        .spawn()
        .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /api/health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .expect("write");
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    let Some((after, _)) = closed else {
        panic!("a half-sent request held its connection for 5 s")
    };
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed_at_the_header_deadline() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("HEADER_READ_TIMEOUT_SECS", "1")
        .spawn()
        .await;
    let mut stream = connect(&app).await;
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(
        closed
            .as_ref()
            .is_some_and(|(after, _)| *after < Duration::from_secs(3)),
        "{closed:?}"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_last_until_the_keep_alive_timeout_not_the_header_timeout() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("HEADER_READ_TIMEOUT_SECS", "1")
        .env("KEEP_ALIVE_TIMEOUT_SECS", "3")
        .spawn()
        .await;
    let mut stream = connect(&app).await;
    let request = b"GET /api/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream.write_all(request).await.expect("write");
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Idle for longer than the header deadline: still open.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stream.write_all(request).await.expect("write");
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Idle for longer than the keep-alive timeout: closed.
    let closed = closed_within(&mut stream, Duration::from_secs(6)).await;
    let Some((after, received)) = closed else {
        panic!("an idle connection outlived KEEP_ALIVE_TIMEOUT_SECS")
    };
    assert!(received.is_empty());
    assert!(
        after >= Duration::from_millis(2500) && after < Duration::from_secs(5),
        "closed after {after:?}"
    );
}

#[tokio::test]
async fn request_headers_over_16_kb_are_refused_with_431() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let big = "x".repeat(17 * 1024);
    let response = app
        .get("/api/health/live")
        .header("x-padding", &big)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // The 200 kB header the old server accepted.
    let huge = "x".repeat(200 * 1024);
    let mut stream = connect(&app).await;
    let request = format!("GET /api/health/live HTTP/1.1\r\nHost: localhost\r\nX-Padding: {huge}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let (_, received) = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("connection closed");
    assert!(
        String::from_utf8_lossy(&received).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&received)
    );
    // Just under the cap is served.
    let fits = "x".repeat(15 * 1024);
    let response = app
        .get("/api/health/live")
        .header("x-padding", &fits)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_still_unanswered_at_the_request_timeout_is_a_json_503() {
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Stall(Duration::from_secs(20)));
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .env("AI_TIMEOUT_SECS", "10")
        .env("REQUEST_TIMEOUT_SECS", "1")
        .spawn()
        .await;
    let session = app.signup().await;
    let started = Instant::now();
    let response = app.chat(&session.access, "Are you there?").await;
    let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "Request timed out").await;
    assert!(body["errorId"].is_string(), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "answered after {:?}",
        started.elapsed()
    );
    // The server goes on serving.
    assert_eq!(app.health_live().await.status(), StatusCode::OK);
}

/// The header deadline runs for a head that has begun, however its bytes came: here in the same
/// write as a whole request before it (pipelining), so no byte arrives after the answer.
#[tokio::test]
async fn a_half_sent_head_pipelined_after_a_whole_request_gets_the_header_deadline() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("HEADER_READ_TIMEOUT_SECS", "1")
        .env("KEEP_ALIVE_TIMEOUT_SECS", "30")
        .spawn()
        .await;
    let whole = "GET /api/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let half = "GET /api/health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    let with_body = "POST /api/health/live HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
    for first in [whole, with_body] {
        let mut stream = connect(&app).await;
        stream
            .write_all(format!("{first}{half}").as_bytes())
            .await
            .expect("write");
        let answer = read_response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
        let closed = closed_within(&mut stream, Duration::from_secs(6)).await;
        let Some((after, _)) = closed else {
            panic!("a pipelined half-sent head held its connection past the header deadline ({first:?})")
        };
        assert!(after < Duration::from_secs(3), "closed after {after:?}");
    }
}

/// Whole requests pipelined in one write are all answered, and the connection then waits for the
/// next one for the keep-alive timeout, not the header deadline.
#[tokio::test]
async fn whole_pipelined_requests_leave_the_connection_idle_under_the_keep_alive_timeout() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("HEADER_READ_TIMEOUT_SECS", "1")
        .env("KEEP_ALIVE_TIMEOUT_SECS", "30")
        .spawn()
        .await;
    let request = "GET /api/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let with_body = "POST /api/health/live HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
    let mut stream = connect(&app).await;
    stream
        .write_all(format!("{request}{with_body}{request}").as_bytes())
        .await
        .expect("write");
    let answers = read_responses(&mut stream, 3).await;
    assert!(answers.iter().all(|a| a.starts_with("HTTP/1.1 ")), "{answers:?}");
    // Idle for longer than the header deadline: still open.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stream.write_all(request.as_bytes()).await.expect("write");
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
}

/// Beyond `MAX_CONNECTIONS` open connections the server stops accepting: a further client waits
/// (in the kernel's backlog, costing the server nothing) until one of the open ones closes.
#[tokio::test]
async fn connections_over_max_connections_wait_until_one_closes() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("MAX_CONNECTIONS", "2")
        .env("HEADER_READ_TIMEOUT_SECS", "30")
        .spawn()
        .await;
    let request = b"GET /api/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream.write_all(request).await.expect("write");
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        open.push(stream);
    }
    let mut third = connect(&app).await;
    third.write_all(request).await.expect("write");
    let mut buffer = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(1500), third.read(&mut buffer)).await;
    assert!(
        early.is_err(),
        "a connection over MAX_CONNECTIONS was served: {early:?}"
    );
    drop(open.pop());
    let answer = read_response(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A request refused before its body is read (a 401 on a POST) leaves a connection the client may
/// reuse only if the server drained the body; otherwise the answer must say `Connection: close`,
/// or a keep-alive client's next request meets a closed socket.
#[tokio::test]
async fn a_refusal_of_an_unread_body_keeps_the_connection_or_says_close() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for size in [100usize, 4_000, 9_000, 16_000, 60_000] {
        let body = format!(r#"{{"date":"2026-01-01","notes":"{}"}}"#, "x".repeat(size));
        let request = format!(
            "POST /api/entries HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer nope\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut stream = connect(&app).await;
        stream.write_all(request.as_bytes()).await.expect("write");
        let answer = read_response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{size}: {answer}");
        if answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n") {
            continue;
        }
        // Kept open: the next request on it must be answered.
        let next = "GET /api/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n";
        let written = stream.write_all(next.as_bytes()).await;
        let mut buffer = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
        assert!(
            written.is_ok() && matches!(read, Ok(Ok(n)) if n > 0),
            "{size} bytes: the connection was closed after a 401 that did not say so"
        );
    }
}
