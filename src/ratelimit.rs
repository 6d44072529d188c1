//! Fixed-window counters for rate limits (auth routes per IP, failed logins, AI requests per user).
//! The counters live behind a trait so several instances can share them in Redis; without Redis they
//! live in this process, in a bounded map whose keys expire with their window (at most `MAX_KEYS`).
//! A limiter only decides; the HTTP layer turns a refusal into its 429.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::redis_conn::RedisConn;

/// A key's count in its current window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    pub resets_in: Duration,
}

/// Where counts live. Counting never fails: a store that loses its backing service falls back to
/// counting in process itself, so a limit keeps holding and never takes the API down with it.
#[async_trait]
pub trait CounterStore: Send + Sync + 'static {
    /// Counts one hit on `key`, starting a window of `window` if none is open.
    async fn hit(&self, key: &str, window: Duration) -> WindowCount;
    /// The current window's count without counting.
    async fn peek(&self, key: &str) -> Option<WindowCount>;
    async fn reset(&self, key: &str);
    /// Deletes every key that starts with `prefix` (an account's counters, when it is deleted).
    async fn reset_prefix(&self, prefix: &str);
}

/// Counters in this process: a bounded map whose entries expire when their window ends (moka), so a
/// hit costs the same whatever the number of keys, and memory stays bounded however many addresses
/// hit it (an attacker with an IPv6 block has billions).
pub struct MemoryCounters {
    windows: moka::sync::Cache<String, Arc<Window>>,
}

/// The most keys (address, account or user windows) the in-process store holds, about 200 bytes
/// each: ~10 MB at most. Past it, moka's TinyLFU admission keeps the keys hit most often, so a key
/// that keeps hitting (a brute force) keeps its count through a flood of one-off keys; several
/// instances, or more keys, take Redis (`REDIS_URL`).
pub const MAX_KEYS: u64 = 50_000;

/// A key's window: its end is fixed, its count shared by every hit (a hit on a known key is a read
/// of the map and one atomic add, no write to the map).
#[derive(Debug)]
struct Window {
    count: AtomicU64,
    ends: Instant,
}

impl Window {
    fn new(ends: Instant) -> Arc<Self> {
        Arc::new(Self {
            count: AtomicU64::new(0),
            ends,
        })
    }
}

/// Each key is dropped when its window ends, not before (a window is not extended by its hits).
struct UntilWindowEnds;

impl moka::Expiry<String, Arc<Window>> for UntilWindowEnds {
    fn expire_after_create(&self, _key: &String, window: &Arc<Window>, created_at: Instant) -> Option<Duration> {
        Some(window.ends.saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        window: &Arc<Window>,
        updated_at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(window.ends.saturating_duration_since(updated_at))
    }
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self::with_max_keys(MAX_KEYS)
    }
}

impl MemoryCounters {
    pub fn with_max_keys(max_keys: u64) -> Self {
        Self {
            windows: moka::sync::Cache::builder()
                .max_capacity(max_keys)
                .expire_after(UntilWindowEnds)
                .build(),
        }
    }

    /// The keys held, once moka has applied its pending evictions (tests and the benchmark).
    pub fn len(&self) -> u64 {
        self.windows.run_pending_tasks();
        self.windows.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key's open window, opening one if there is none.
    fn open_window(&self, key: &str, now: Instant, length: Duration) -> Arc<Window> {
        let window = self.windows.get_with_by_ref(key, || Window::new(now + length));
        if window.ends > now {
            return window;
        }
        // Ended but not dropped yet: replaced once, atomically, whoever of several hits gets here.
        self.windows
            .entry_by_ref(key)
            .and_upsert_with(|current| match current.map(|entry| entry.into_value()) {
                Some(open) if open.ends > now => open,
                _ => Window::new(now + length),
            })
            .into_value()
    }
}

#[async_trait]
impl CounterStore for MemoryCounters {
    async fn hit(&self, key: &str, window: Duration) -> WindowCount {
        let now = Instant::now();
        let open = self.open_window(key, now, window);
        let count = open.count.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        WindowCount {
            count,
            resets_in: open.ends.saturating_duration_since(now),
        }
    }

    async fn peek(&self, key: &str) -> Option<WindowCount> {
        let now = Instant::now();
        self.windows
            .get(key)
            .filter(|open| open.ends > now)
            .map(|open| WindowCount {
                count: open.count.load(Ordering::Relaxed),
                resets_in: open.ends - now,
            })
    }

    async fn reset(&self, key: &str) {
        self.windows.invalidate(key);
    }

    /// Walks every key: rare (an account's deletion), unlike hits.
    async fn reset_prefix(&self, prefix: &str) {
        let matching: Vec<Arc<String>> = self
            .windows
            .iter()
            .map(|(key, _)| key)
            .filter(|key| key.starts_with(prefix))
            .collect();
        for key in matching {
            self.windows.invalidate(key.as_str());
        }
    }
}

/// Counters in Redis, shared by every instance. When Redis cannot answer, counting continues in
/// process rather than letting every request through: a brute-force attempt does not get a free pass
/// because Redis went down.
pub struct RedisCounters {
    redis: RedisConn,
    fallback: MemoryCounters,
    /// Whether the last call fell back, so the switch is logged once each way, not per request.
    falling_back: AtomicBool,
}

/// Counts a hit and starts the window on the first one, atomically. Returns `{count, ms left}`.
const HIT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

/// Built once: `Script::new` hashes the source (SHA-1) every time it is called.
static HIT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(HIT_SCRIPT));

impl RedisCounters {
    pub fn new(redis: RedisConn) -> Self {
        Self {
            redis,
            fallback: MemoryCounters::default(),
            falling_back: AtomicBool::new(false),
        }
    }

    /// Records how the last call went; logs only when that changes.
    fn note<T>(&self, result: &redis::RedisResult<T>) {
        let failed = result.is_err();
        if self.falling_back.swap(failed, Ordering::Relaxed) != failed {
            match result {
                Err(error) => {
                    tracing::warn!(error = %error, "Redis unavailable for rate limiting; counting in process")
                }
                Ok(_) => tracing::info!("Redis answers again; rate limits counted in Redis"),
            }
        }
    }
}

#[async_trait]
impl CounterStore for RedisCounters {
    async fn hit(&self, key: &str, window: Duration) -> WindowCount {
        let result: redis::RedisResult<(u64, i64)> = HIT
            .key(self.redis.key(key))
            .arg(window.as_millis() as u64)
            .invoke_async(&mut self.redis.manager())
            .await;
        self.note(&result);
        match result {
            Ok((count, ttl_ms)) => WindowCount {
                count,
                resets_in: Duration::from_millis(ttl_ms.max(0) as u64),
            },
            Err(_) => self.fallback.hit(key, window).await,
        }
    }

    async fn peek(&self, key: &str) -> Option<WindowCount> {
        let redis_key = self.redis.key(key);
        let result: redis::RedisResult<(Option<u64>, i64)> = redis::pipe()
            .get(&redis_key)
            .pttl(&redis_key)
            .query_async(&mut self.redis.manager())
            .await;
        self.note(&result);
        match result {
            Ok((Some(count), ttl_ms)) if ttl_ms > 0 => Some(WindowCount {
                count,
                resets_in: Duration::from_millis(ttl_ms as u64),
            }),
            Ok(_) => None,
            Err(_) => self.fallback.peek(key).await,
        }
    }

    async fn reset(&self, key: &str) {
        let result: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(self.redis.key(key))
            .query_async(&mut self.redis.manager())
            .await;
        self.note(&result);
        self.fallback.reset(key).await
    }

    async fn reset_prefix(&self, prefix: &str) {
        let pattern = format!("{}*", glob_escape(&self.redis.key(prefix)));
        let mut connection = self.redis.manager();
        let mut cursor = 0u64;
        loop {
            let page: redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut connection)
                .await;
            self.note(&page);
            let Ok((next, keys)) = page else { break };
            if !keys.is_empty() {
                let deleted: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query_async(&mut connection).await;
                self.note(&deleted);
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        self.fallback.reset_prefix(prefix).await
    }
}

/// `text` as a literal in a Redis glob pattern (an e-mail may hold `*`, `?` or `[`).
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A key's standing against its limit, as the `RateLimit-*` headers report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub limit: u64,
    pub remaining: u64,
    pub reset_after: Duration,
}

/// A limit: at most `max` hits per `window` per key.
#[derive(Clone)]
pub struct RateLimiter {
    counters: Arc<dyn CounterStore>,
    /// Namespaces this limiter's keys in a shared store.
    prefix: &'static str,
    pub max: u64,
    pub window: Duration,
}

/// The outcome of counting a hit.
#[derive(Clone, Copy, Debug)]
pub struct Decision {
    pub allowed: bool,
    pub info: RateLimitInfo,
}

impl RateLimiter {
    pub fn new(counters: Arc<dyn CounterStore>, prefix: &'static str, max: u64, window: Duration) -> Self {
        Self {
            counters,
            prefix,
            max,
            window,
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    fn decide(&self, count: WindowCount) -> Decision {
        Decision {
            allowed: count.count <= self.max,
            info: RateLimitInfo {
                limit: self.max,
                remaining: self.max.saturating_sub(count.count),
                reset_after: count.resets_in,
            },
        }
    }

    /// Counts a hit.
    pub async fn hit(&self, key: &str) -> Decision {
        self.decide(self.counters.hit(&self.key(key), self.window).await)
    }

    /// The key's window when it is already over its limit, without counting.
    pub async fn exceeded(&self, key: &str) -> Option<Decision> {
        self.counters
            .peek(&self.key(key))
            .await
            .filter(|count| count.count >= self.max)
            .map(|count| Decision {
                allowed: false,
                ..self.decide(count)
            })
    }

    pub async fn reset(&self, key: &str) {
        self.counters.reset(&self.key(key)).await
    }

    /// Forgets every key of this limiter that starts with `prefix`.
    pub async fn reset_prefix(&self, prefix: &str) {
        self.counters.reset_prefix(&self.key(prefix)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_within_a_window_and_resets_after_it() {
        let limiter = RateLimiter::new(Arc::new(MemoryCounters::default()), "t", 2, Duration::from_millis(50));
        assert!(limiter.hit("a").await.allowed);
        let second = limiter.hit("a").await;
        assert!(second.allowed && second.info.remaining == 0);
        assert!(!limiter.hit("a").await.allowed);
        assert!(limiter.hit("b").await.allowed);
        assert!(limiter.exceeded("a").await.is_some());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(limiter.exceeded("a").await.is_none());
        assert!(limiter.hit("a").await.allowed);
        limiter.reset("a").await;
        assert!(limiter.exceeded("a").await.is_none());
    }

    /// However many addresses hit it, the in-process store holds at most `MAX_KEYS` windows, and a
    /// key that keeps being hit keeps its count through the flood.
    #[tokio::test]
    async fn the_in_process_store_stays_bounded_and_keeps_counting() {
        let counters = Arc::new(MemoryCounters::default());
        let limiter = RateLimiter::new(counters.clone(), "t", 5, Duration::from_secs(900));
        let cap = MAX_KEYS;
        for i in 0..cap + cap / 5 {
            if i % 5_000 == 0 {
                limiter.hit("brute").await;
            }
            limiter.hit(&format!("flood:{i}")).await;
        }
        assert!(counters.len() <= cap, "{} keys held", counters.len());
        // The key hit all along kept its count: 12 hits so far, over its limit of 5.
        let brute = limiter.exceeded("brute").await.expect("brute is over its limit");
        assert_eq!(brute.info.remaining, 0);
        assert!(!limiter.hit("brute").await.allowed);
        // A key that starts hitting once the store is full is still limited.
        let refused = {
            let mut refused = 0;
            for _ in 0..10 {
                refused += usize::from(!limiter.hit("late").await.allowed);
            }
            refused
        };
        assert!(refused >= 3, "{refused} of 10 refused");
        limiter.reset("brute").await;
        assert!(limiter.hit("brute").await.allowed);
        assert!(counters.len() <= cap, "{} keys held", counters.len());
    }

    #[tokio::test]
    async fn reset_prefix_forgets_only_the_keys_under_it() {
        let counters = Arc::new(MemoryCounters::default());
        let limiter = RateLimiter::new(counters.clone(), "t", 1, Duration::from_secs(900));
        for key in ["user:1:a", "user:1:b", "user:12:a", "user:2:a"] {
            limiter.hit(key).await;
            limiter.hit(key).await;
        }
        limiter.reset_prefix("user:1:").await;
        assert!(limiter.exceeded("user:1:a").await.is_none());
        assert!(limiter.exceeded("user:1:b").await.is_none());
        assert!(limiter.exceeded("user:12:a").await.is_some());
        assert!(limiter.exceeded("user:2:a").await.is_some());
        assert_eq!(counters.len(), 2);
    }
}
