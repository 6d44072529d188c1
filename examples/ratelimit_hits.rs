//! The cost of one rate-limit hit in the in-process store (`MemoryCounters`, the default without
//! Redis) while it holds many live keys, as an attacker with many addresses makes it (BENCHMARKS.md,
//! issue 18 item 10b):
//!
//! ```sh
//! cargo run --release --example ratelimit_hits -- 9000 20000 200000
//! ```
//!
//! For each size N: N distinct keys are hit once (15-minute windows, all live), then 100 other keys
//! are hit in turn, 5 rounds of `PROBE_HITS` hits each; the median round's time per hit is printed.
//! The store is the library's own, driven through `CounterStore::hit` as the limiters drive it.

use std::time::{Duration, Instant};

use healthtracker::ratelimit::{CounterStore, MemoryCounters};

const PROBE_HITS: u32 = 2_000;
const ROUNDS: usize = 5;

fn address_key(i: usize) -> String {
    // What the auth limiter stores: its prefix and an address (IPv6 gives an attacker plenty).
    format!("auth:2001:db8::{:x}:{:x}", i >> 16, i & 0xffff)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![9_000, 20_000, 200_000]
    } else {
        sizes
    };
    let window = Duration::from_secs(900);
    println!("| live keys | fill (s) | per hit (median of {ROUNDS} × {PROBE_HITS}) | rounds |");
    println!("| ---: | ---: | ---: | --- |");
    for size in sizes {
        let counters = MemoryCounters::default();
        let filling = Instant::now();
        for i in 0..size {
            counters.hit(&address_key(i), window).await;
        }
        let fill = filling.elapsed();
        let mut per_hit = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let started = Instant::now();
            for j in 0..PROBE_HITS {
                counters.hit(&format!("auth:192.0.2.{}", j % 100), window).await;
            }
            per_hit.push(started.elapsed() / PROBE_HITS);
        }
        let mut sorted = per_hit.clone();
        sorted.sort();
        println!(
            "| {size} | {:.2} | {:?} | {:?} |",
            fill.as_secs_f64(),
            sorted[ROUNDS / 2],
            per_hit
        );
    }
}
