//! `scripts/bench`'s growth run seeds its large database with this: users and a year of entries
//! each, written through the store's own code (`Storage::insert_user`, `Storage::import_entries`)
//! rather than over HTTP, which would take an hour for a million entries.
//!
//!     seed_growth --db PATH --users 3000 --days 334 --today 2026-12-01 --password P --ids-out FILE
//!
//! The first user has a full year (365 days) whatever `--days` says: the trends scenario's user.
//! Entries are written a month at a time for every user in turn, so each user's days are spread
//! over the file as a real database's are (people log day by day, not a year at once). The ids
//! (first user first) go to `--ids-out`, one per line, for the benchmark to sign tokens for.

use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use healthtracker::auth::password::PasswordHasher;
use healthtracker::config::{DatabaseSettings, SqliteSynchronous};
use healthtracker::domain::day::Day;
use healthtracker::domain::entry::{DayLog, Entry, FoodItem, Meal, Measure, Measures, Mood};
use healthtracker::domain::ids::{EntryId, UserId};
use healthtracker::domain::user::{Email, User, UserName};
use healthtracker::storage::{self, OnConflict};

const FULL_YEAR: u64 = 365;
const CHUNK_DAYS: u64 = 30;

struct Options {
    db: String,
    users: usize,
    days: u64,
    today: Day,
    password: String,
    ids_out: String,
}

fn options() -> anyhow::Result<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> anyhow::Result<String> {
        let at = args
            .iter()
            .position(|a| a == name)
            .with_context(|| format!("{name} is required"))?;
        args.get(at + 1)
            .cloned()
            .with_context(|| format!("{name} needs a value"))
    };
    Ok(Options {
        db: value("--db")?,
        users: value("--users")?.parse()?,
        days: value("--days")?.parse()?,
        today: Day::parse_ymd(&value("--today")?).context("--today must be YYYY-MM-DD")?,
        password: value("--password")?,
        ids_out: value("--ids-out")?,
    })
}

/// A plausible day, different for every user and day.
fn log(user: usize, day: u64) -> DayLog {
    let n = user as u64 * 7919 + day * 104_729;
    DayLog {
        measures: Measures::default()
            .with(Measure::Calories, (1400 + n % 1300) as f64)
            .with(Measure::Sleep, 5.0 + (n % 9) as f64 * 0.5)
            .with(Measure::HeartRate, (55 + n % 30) as f64)
            .with(Measure::Steps, (2000 + n % 14_000) as f64)
            .with(Measure::WaterIntake, 1.0 + (n % 6) as f64 * 0.5),
        workouts: n.is_multiple_of(3),
        food_intake: vec![
            FoodItem {
                meal: Meal::Breakfast,
                food: "Oats".into(),
                calories: 300,
            },
            FoodItem {
                meal: Meal::Dinner,
                food: "Fish & rice".into(),
                calories: 650,
            },
        ],
        symptoms: if n.is_multiple_of(5) {
            vec!["tired".into()]
        } else {
            Vec::new()
        },
        mood: Mood::ALL[(n % 5) as usize],
        notes: "seeded by scripts/bench".into(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = options()?;
    let started = Instant::now();
    let store = storage::open(&DatabaseSettings::Sqlite {
        path: opts.db.clone().into(),
        // A database the benchmark throws away: no need to wait for the disk at every commit.
        synchronous: SqliteSynchronous::Normal,
    })
    .await?;
    let hash = PasswordHasher::new(1)?.hash(&opts.password).await?;
    let now = Utc::now();
    let mut ids = Vec::with_capacity(opts.users);
    for n in 0..opts.users {
        let user = User {
            id: UserId::new(),
            name: UserName::from_stored(format!("Seeded User {n}")),
            email: Email::from_stored(format!("seeded-{n}@example.com")),
            password_hash: hash.clone(),
            created_at: now,
            updated_at: now,
            timezone: None,
        };
        store.insert_user(&user).await?;
        ids.push(user.id);
    }
    let first_day = opts.today.minus_days(FULL_YEAR - 1);
    let mut written = 0u64;
    let mut start = 0;
    while start < FULL_YEAR {
        let end = (start + CHUNK_DAYS).min(FULL_YEAR);
        for (n, user) in ids.iter().enumerate() {
            let days = if n == 0 { FULL_YEAR } else { opts.days.min(FULL_YEAR) };
            let entries: Vec<Entry> = (start..end)
                .filter(|offset| FULL_YEAR - offset <= days)
                .map(|offset| Entry {
                    id: EntryId::new(),
                    user: *user,
                    date: first_day.plus_days(offset),
                    log: log(n, offset),
                    created_at: now,
                    updated_at: now,
                })
                .collect();
            written += store.import_entries(*user, &entries, OnConflict::Skip).await?.created;
        }
        start = end;
        eprintln!("  seeded {written} entries ({:.0} s)", started.elapsed().as_secs_f64());
    }
    let lines: Vec<String> = ids.iter().map(ToString::to_string).collect();
    std::fs::write(&opts.ids_out, lines.join("\n") + "\n")?;
    drop(store);
    // Everything into the main file, so the benchmark can copy that file alone.
    let connection = rusqlite::Connection::open(&opts.db)?;
    connection.busy_timeout(std::time::Duration::from_secs(30))?;
    connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    println!(
        "{{\"users\": {}, \"entries\": {written}, \"seconds\": {:.1}}}",
        opts.users,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
