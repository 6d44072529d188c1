//! Large bodies at once: eight 9 MB imports in parallel, each into its own account, against the
//! real binary; the server's peak memory (VmHWM) stays within 256 MB. Run with `-- --nocapture` for
//! the figures (BENCHMARKS.md quotes them).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, hex_id};
use crate::process::{ServerProcess, install_crypto_provider};

const IMPORTS: usize = 8;
const BODY_BYTES: usize = 9 * 1024 * 1024;

/// An export document as `GET /api/export` writes it (every field filled, ids and times in it),
/// with as many days as fit in `limit` bytes — the shape `scripts/bench` imports at the cap.
fn export_document(limit: usize) -> Vec<u8> {
    let start = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("date");
    let entry = |n: u64| {
        let id = format!("{:024x}", n + 1);
        json!({
            "_id": id, "id": id, "user": "6b0000000000000000000001",
            "date": format!("{}T00:00:00.000Z", (start + chrono::Days::new(n)).format("%Y-%m-%d")),
            "calories": 1800 + n % 500, "sleep": 7.5, "workouts": n.is_multiple_of(2),
            "foodIntake": [{"meal": "breakfast", "food": "Oats", "calories": 300},
                           {"meal": "dinner", "food": "Fish & rice", "calories": 650}],
            "heartRate": 62, "steps": 8000 + n, "symptoms": ["tired"], "mood": "good", "waterIntake": 2.25,
            "notes": "a large body", "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z"
        })
    };
    // The later entries are a few bytes longer (bigger numbers).
    let per_entry = entry(99_999).to_string().len() + 1;
    let count = (limit - 512) / per_entry;
    let entries: Vec<Value> = (0..count as u64).map(entry).collect();
    let body = serde_json::to_vec(&json!({"format": "healthtracker-export", "version": 1, "entries": entries}))
        .expect("document");
    assert!(
        body.len() <= limit && body.len() > limit - 64 * 1024,
        "{} bytes",
        body.len()
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_parallel_9_mb_imports_stay_within_256_mb() {
    install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(
        dir.path(),
        &dir.path().join("ht.db"),
        &[
            ("REQUEST_TIMEOUT_SECS", "600"),
            ("RATE_LIMIT_MAX_REQUESTS", "1000000"),
            ("LOG_LEVEL", "warn"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        // The imports beyond MAX_LARGE_BODIES wait with their bodies unsent, and this debug build
        // takes several seconds per import: reqwest's default TCP user timeout (30 s) would give
        // up on a send window that long at zero.
        .tcp_user_timeout(None)
        .build()
        .expect("client");
    let mut tokens = Vec::new();
    for n in 0..IMPORTS {
        let registered: Value = client
            .post(server.url("/api/auth/register"))
            .json(&json!({"name": "Large Body", "email": format!("large-{n}-{}@example.com", hex_id()), "password": PASSWORD}))
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("register body");
        tokens.push(registered["accessToken"].as_str().expect("token").to_owned());
    }
    let body = axum::body::Bytes::from(export_document(BODY_BYTES));
    let (rss_before_kb, _) = server.rss_kb();
    let started = Instant::now();
    let imports: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let request = client
                .post(server.url("/api/import"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.clone());
            tokio::spawn(async move {
                let response = request.send().await.expect("import");
                let status = response.status();
                let answer: Value = response.json().await.unwrap_or_default();
                (status, answer)
            })
        })
        .collect();
    let mut rss_peak_kb = 0;
    while !imports.iter().all(|task| task.is_finished()) {
        rss_peak_kb = rss_peak_kb.max(server.rss_kb().0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    let mut statuses = Vec::new();
    for import in imports {
        let (status, answer) = import.await.expect("task");
        assert!(answer["errors"].as_array().is_none_or(|e| e.is_empty()), "{answer}");
        statuses.push(status.as_u16());
    }
    let (_, vm_hwm_kb) = server.rss_kb();
    println!(
        "FIGURES large bodies: {IMPORTS} parallel imports of {:.1} MB: all answered in {took:.2?} ({statuses:?}); \
         server RSS before {} MB, sampled peak {} MB, VmHWM {} MB",
        body.len() as f64 / 1e6,
        rss_before_kb / 1024,
        rss_peak_kb / 1024,
        vm_hwm_kb / 1024
    );
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(vm_hwm_kb <= 256 * 1024, "peak RSS {} MB", vm_hwm_kb / 1024);
}
