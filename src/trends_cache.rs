//! Trends answers kept in memory: `GET /entries/stats` reads up to ten years of a user's days, and
//! clients poll it. An answer is kept with the count of writes to the user's entries it was
//! computed at ([`crate::auth::Caller::entries_version`], read with the caller's token at no extra
//! cost) and served again while that count stands, on any instance: a write anywhere moves the
//! count in the database. Bounded in bytes (oldest first out) and in age, so a count that failed
//! to move (MongoDB counts after the write, best effort) cannot keep an answer for long.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;

use crate::domain::day::Day;
use crate::domain::ids::UserId;
use crate::domain::stats::StatsQuery;
use crate::domain::timezone::TimeZone;

/// An answer is computed again after this long, whatever the count says.
pub const TRENDS_MAX_AGE: Duration = Duration::from_secs(60);

/// What an answer depends on besides the user's entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrendsKey {
    pub user: UserId,
    pub query: StatsQuery,
    /// The current streaks end today.
    pub today: Day,
    pub zone: TimeZone,
}

#[derive(Clone)]
pub struct CachedAnswer {
    pub body: Bytes,
    pub etag: HeaderValue,
}

struct Kept {
    answer: CachedAnswer,
    entries_version: u64,
    stored_at: Instant,
    /// Which record of `order` is this entry's.
    stamp: u64,
}

#[derive(Default)]
struct Inner {
    kept: HashMap<TrendsKey, Kept>,
    /// Keys oldest first, with the stamp of the entry each record stands for (a replaced entry
    /// leaves a stale record behind, skipped when it comes up).
    order: VecDeque<(TrendsKey, u64)>,
    bytes: usize,
    next_stamp: u64,
}

pub struct TrendsCache {
    inner: Mutex<Inner>,
    capacity: usize,
    max_age: Duration,
}

impl TrendsCache {
    /// At most `capacity` bytes of bodies (`TRENDS_CACHE_SIZE`; 0 keeps nothing; a year by week
    /// is ~23 KB), each for at most `max_age`.
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        Self {
            inner: Mutex::default(),
            capacity,
            max_age,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing can be left half-done by a panic while it is held: every change is one step.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The answer kept for `key`, if it was computed at `entries_version` and is young enough.
    pub fn get(&self, key: &TrendsKey, entries_version: u64) -> Option<CachedAnswer> {
        let inner = self.lock();
        let kept = inner.kept.get(key)?;
        (kept.entries_version == entries_version && kept.stored_at.elapsed() < self.max_age)
            .then(|| kept.answer.clone())
    }

    pub fn put(&self, key: TrendsKey, entries_version: u64, answer: CachedAnswer) {
        let size = answer.body.len();
        if size > self.capacity || self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        let stamp = inner.next_stamp;
        inner.next_stamp += 1;
        let kept = Kept {
            answer,
            entries_version,
            stored_at: Instant::now(),
            stamp,
        };
        if let Some(old) = inner.kept.insert(key, kept) {
            inner.bytes -= old.answer.body.len();
        }
        inner.bytes += size;
        inner.order.push_back((key, stamp));
        while inner.bytes > self.capacity {
            let Some((oldest, stamp)) = inner.order.pop_front() else {
                break;
            };
            if inner.kept.get(&oldest).is_some_and(|kept| kept.stamp == stamp)
                && let Some(gone) = inner.kept.remove(&oldest)
            {
                inner.bytes -= gone.answer.body.len();
            }
        }
        // Stale records of replaced entries: dropped before they outnumber the live ones.
        if inner.order.len() > 2 * inner.kept.len() + 64 {
            let Inner { kept, order, .. } = &mut *inner;
            order.retain(|(key, stamp)| kept.get(key).is_some_and(|k| k.stamp == *stamp));
        }
    }

    /// Drops every answer of a user (a deleted account).
    pub fn forget_user(&self, user: UserId) {
        let mut inner = self.lock();
        let Inner { kept, order, bytes, .. } = &mut *inner;
        kept.retain(|key, entry| {
            let keep = key.user != user;
            if !keep {
                *bytes -= entry.answer.body.len();
            }
            keep
        });
        order.retain(|(key, _)| key.user != user);
    }

    /// Bytes of bodies kept (for tests and metrics).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::Bucket;

    fn key(user: UserId, to: &str) -> TrendsKey {
        let day = Day::parse_ymd(to).expect("a day");
        TrendsKey {
            user,
            query: StatsQuery {
                from: day.minus_days(27),
                to: day,
                bucket: Bucket::Week,
            },
            today: day,
            zone: TimeZone::UTC,
        }
    }

    fn answer(size: usize) -> CachedAnswer {
        CachedAnswer {
            body: Bytes::from(vec![b'x'; size]),
            etag: HeaderValue::from_static("\"tag\""),
        }
    }

    #[test]
    fn an_answer_stands_while_the_count_does() {
        let cache = TrendsCache::new(1 << 20, TRENDS_MAX_AGE);
        let (user, other) = (UserId::new(), UserId::new());
        cache.put(key(user, "2026-12-01"), 7, answer(10));
        assert!(cache.get(&key(user, "2026-12-01"), 7).is_some());
        assert!(cache.get(&key(user, "2026-12-01"), 8).is_none(), "a write since");
        assert!(cache.get(&key(user, "2026-12-02"), 7).is_none(), "another day");
        assert!(cache.get(&key(other, "2026-12-01"), 7).is_none(), "another user");
        cache.forget_user(user);
        assert!(cache.get(&key(user, "2026-12-01"), 7).is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn bounded_in_bytes_oldest_out_first_and_in_age() {
        let cache = TrendsCache::new(100, TRENDS_MAX_AGE);
        let user = UserId::new();
        for (n, day) in ["2026-11-01", "2026-11-02", "2026-11-03"].into_iter().enumerate() {
            cache.put(key(user, day), n as u64, answer(40));
        }
        assert!(cache.get(&key(user, "2026-11-01"), 0).is_none());
        assert!(cache.get(&key(user, "2026-11-02"), 1).is_some());
        assert!(cache.bytes() <= 100);
        // Replacing one key over and over keeps one entry and a bounded queue.
        for version in 0..1000 {
            cache.put(key(user, "2026-11-03"), version, answer(40));
        }
        {
            let inner = cache.lock();
            assert!(inner.order.len() <= 2 * inner.kept.len() + 65);
        }
        assert!(cache.get(&key(user, "2026-11-03"), 999).is_some());

        let young = TrendsCache::new(100, Duration::ZERO);
        young.put(key(user, "2026-11-01"), 0, answer(1));
        assert!(young.get(&key(user, "2026-11-01"), 0).is_none());
    }
}
