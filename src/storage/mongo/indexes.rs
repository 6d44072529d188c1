//! Indexes, created idempotently (at start-up and by `healthtracker migrate`), and the report of
//! existing data that a unique index cannot accept.
//!
//! The old backend's `users.email` and `entries {user, date}` indexes may already exist (Mongoose's
//! `autoIndex` created them with the same default names), in which case creating them again is a
//! no-op. Data it wrote before its unique index existed, or on two servers in different time zones,
//! can hold two entries for one user and day: the unique index then cannot be built, and `migrate`
//! lists those documents for a person to merge rather than deleting anything itself.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

use super::documents::{
    AI_MESSAGES, ENTRIES, INVITES, PERSONAL_TOKENS, REFRESH_SESSIONS, REVOKED_TOKENS, SESSIONS, TWO_FACTOR_CHALLENGES,
    USERS, day_of, day_window,
};
use super::errors::{ErrorClass, classify_error, error_code, error_summary};
use crate::domain::day::{Day, format_timestamp};
use crate::storage::days_outside::EntryOutsideTheYears;

struct Spec {
    collection: &'static str,
    keys: Document,
    unique: bool,
    /// A TTL index: MongoDB deletes each document once its date (the key) has passed.
    expires: bool,
    why: &'static str,
}

fn specs() -> Vec<Spec> {
    let spec = |collection, keys, unique, expires, why| Spec {
        collection,
        keys,
        unique,
        expires,
        why,
    };
    // Non-unique ones first: they build whatever the data holds, and the duplicate scan below walks
    // `user_1_date_-1`.
    vec![
        spec(
            ENTRIES,
            doc! {"user": 1, "date": -1},
            false,
            false,
            "newest-first listing",
        ),
        spec(REFRESH_SESSIONS, doc! {"user": 1}, false, false, "logout everywhere"),
        spec(REFRESH_SESSIONS, doc! {"family": 1}, false, false, "reuse detection"),
        spec(REFRESH_SESSIONS, doc! {"expiresAt": 1}, false, true, "expired sessions"),
        spec(
            REVOKED_TOKENS,
            doc! {"expiresAt": 1},
            false,
            true,
            "expired revocations",
        ),
        spec(SESSIONS, doc! {"user": 1}, false, false, "a user's logins"),
        spec(SESSIONS, doc! {"expiresAt": 1}, false, true, "expired logins"),
        spec(REVOKED_TOKENS, doc! {"user": 1}, false, false, "account deletion"),
        spec(
            PERSONAL_TOKENS,
            doc! {"user": 1},
            false,
            false,
            "a user's personal tokens",
        ),
        spec(
            PERSONAL_TOKENS,
            doc! {"expiresAt": 1},
            false,
            true,
            "expired personal tokens",
        ),
        spec(
            TWO_FACTOR_CHALLENGES,
            doc! {"expiresAt": 1},
            false,
            true,
            "expired login challenges",
        ),
        spec(
            TWO_FACTOR_CHALLENGES,
            doc! {"user": 1},
            false,
            false,
            "account deletion",
        ),
        spec(INVITES, doc! {"expiresAt": 1}, false, true, "expired invites"),
        spec(
            AI_MESSAGES,
            doc! {"user": 1, "createdAt": -1, "_id": -1},
            false,
            false,
            "a user's conversation, newest first",
        ),
        spec(USERS, doc! {"email": 1}, true, false, "one account per e-mail"),
        spec(
            PERSONAL_TOKENS,
            doc! {"tokenHash": 1},
            true,
            false,
            "a personal token by its hash",
        ),
        spec(
            ENTRIES,
            doc! {"user": 1, "date": 1},
            true,
            false,
            "one entry per user per day",
        ),
    ]
}

fn describe(spec: &Spec) -> String {
    format!(
        "{}.{}{}",
        spec.collection,
        spec.keys,
        if spec.unique { " (unique)" } else { "" }
    )
}

/// An index that could not be created for a reason other than an outage.
#[derive(Debug)]
pub struct IndexProblem {
    pub index: String,
    pub duplicates: bool,
    pub detail: String,
}

/// Creates every index (idempotent). `Err` only when the deployment cannot be reached (the caller
/// retries); an index the data or an existing definition prevents is reported and the rest built.
pub async fn create_all(db: &Database) -> Result<Vec<IndexProblem>, mongodb::error::Error> {
    let mut problems = Vec::new();
    for spec in specs() {
        let options = IndexOptions::builder()
            .unique(spec.unique.then_some(true))
            .expire_after(spec.expires.then_some(Duration::ZERO))
            .build();
        let model = IndexModel::builder().keys(spec.keys.clone()).options(options).build();
        match db.collection::<Document>(spec.collection).create_index(model).await {
            Ok(_) => {}
            Err(error) => match classify_error(&error) {
                ErrorClass::Unreachable | ErrorClass::Transient => return Err(error),
                class => problems.push(IndexProblem {
                    index: describe(&spec),
                    duplicates: class == ErrorClass::Duplicate,
                    detail: match error_code(&error) {
                        _ if class == ErrorClass::Duplicate => {
                            format!("existing documents violate it, listed below: {}", error_summary(&error))
                        }
                        // 85/86: an index on these keys exists with other options or another name.
                        Some(85 | 86) => format!(
                            "an index on these keys already exists with other options; drop it \
                             (db.{}.dropIndex(<its name>)) and run migrate again: {}",
                            spec.collection,
                            error_summary(&error)
                        ),
                        _ => error_summary(&error),
                    },
                }),
            },
        }
        tracing::debug!(index = describe(&spec), why = spec.why, "index ensured");
    }
    Ok(problems)
}

/// Several documents where the API allows one.
#[derive(Debug, PartialEq)]
pub enum Duplicate {
    /// Entries of one user whose dates stand for the same day (see `documents::day_of`).
    Day {
        user: String,
        day: Day,
        entries: Vec<(String, String)>,
    },
    /// Accounts whose e-mails are equal ignoring case.
    Email {
        email: String,
        users: Vec<(String, String)>,
    },
}

fn id_text(value: Option<&Bson>) -> String {
    match value {
        Some(Bson::ObjectId(id)) => id.to_hex(),
        Some(other) => other.to_string(),
        None => "(none)".to_owned(),
    }
}

/// Lists every duplicate day and e-mail. Walks `entries` in `{user, date}` order (an index scan)
/// and holds one user's days at a time; `users` is read whole (e-mails only).
pub async fn find_duplicates(db: &Database) -> Result<Vec<Duplicate>, mongodb::error::Error> {
    let mut found = Vec::new();

    let mut entries = db
        .collection::<Document>(ENTRIES)
        .find(doc! {})
        .projection(doc! {"user": 1, "date": 1})
        .sort(doc! {"user": 1, "date": -1})
        .await?;
    let mut current_user: Option<String> = None;
    let mut days: BTreeMap<Day, Vec<(String, String)>> = BTreeMap::new();
    let flush = |user: &Option<String>, days: &mut BTreeMap<Day, Vec<(String, String)>>, found: &mut Vec<Duplicate>| {
        for (day, entries) in std::mem::take(days) {
            if let (Some(user), true) = (user, entries.len() > 1) {
                found.push(Duplicate::Day {
                    user: user.clone(),
                    day,
                    entries,
                });
            }
        }
    };
    while let Some(entry) = entries.try_next().await? {
        let user = id_text(entry.get("user"));
        if current_user.as_ref() != Some(&user) {
            flush(&current_user, &mut days, &mut found);
            current_user = Some(user);
        }
        if let Ok(date) = entry.get_datetime("date") {
            let stored = chrono::DateTime::from_timestamp_millis(date.timestamp_millis()).unwrap_or_default();
            days.entry(day_of(stored))
                .or_default()
                .push((id_text(entry.get("_id")), format_timestamp(stored)));
        }
    }
    flush(&current_user, &mut days, &mut found);

    let mut by_email: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut users = db
        .collection::<Document>(USERS)
        .find(doc! {})
        .projection(doc! {"email": 1})
        .await?;
    while let Some(user) = users.try_next().await? {
        let email = user.get_str("email").unwrap_or_default().to_owned();
        by_email
            .entry(email.trim().to_lowercase())
            .or_default()
            .push((id_text(user.get("_id")), email));
    }
    let mut emails: Vec<_> = by_email.into_iter().filter(|(_, users)| users.len() > 1).collect();
    emails.sort();
    found.extend(
        emails
            .into_iter()
            .map(|(email, users)| Duplicate::Email { email, users }),
    );
    Ok(found)
}

/// Every entry whose `date` stands for a day outside 0001-01-01..=9999-12-31 (what `migrate`
/// reports besides duplicates): one find of the dates beyond the first and last day's windows, the
/// few near an edge kept only if their day is outside.
pub async fn find_days_outside_the_years(db: &Database) -> Result<Vec<EntryOutsideTheYears>, mongodb::error::Error> {
    let filter = doc! {"$or": [
        {"date": {"$lt": day_window(Day::MIN).0}},
        {"date": {"$gte": day_window(Day::MAX).1}},
    ]};
    let mut found = Vec::new();
    let mut entries = db
        .collection::<Document>(ENTRIES)
        .find(filter)
        .projection(doc! {"user": 1, "date": 1})
        .sort(doc! {"user": 1, "date": 1})
        .await?;
    while let Some(entry) = entries.try_next().await? {
        let Ok(date) = entry.get_datetime("date") else { continue };
        let stored = chrono::DateTime::from_timestamp_millis(date.timestamp_millis()).unwrap_or_else(|| {
            if date.timestamp_millis() < 0 {
                chrono::DateTime::<chrono::Utc>::MIN_UTC
            } else {
                chrono::DateTime::<chrono::Utc>::MAX_UTC
            }
        });
        let day = day_of(stored);
        if day.is_in_range() {
            continue;
        }
        found.push(EntryOutsideTheYears {
            entry: id_text(entry.get("_id")),
            user: id_text(entry.get("user")),
            day: day.to_ymd(),
        });
    }
    Ok(found)
}

/// What `migrate` prints when the data needs a person's decision. Nothing is deleted automatically:
/// which of two entries for one day is right is not the server's call.
pub fn report(problems: &[IndexProblem], duplicates: &[Duplicate]) -> String {
    const SHOWN: usize = 50;
    let mut out = String::from("the existing data prevents some indexes; nothing was changed or deleted.\n");
    for problem in problems {
        let _ = writeln!(out, "- index {} not built: {}", problem.index, problem.detail);
    }
    let days = duplicates.iter().filter(|d| matches!(d, Duplicate::Day { .. })).count();
    if days > 0 {
        let _ = writeln!(
            out,
            "\n{days} day(s) with more than one entry for the same user (the API allows one per day; the old \
             backend stored local midnight, so dates up to 12 h apart can be the same day):"
        );
    }
    let emails = duplicates.len() - days;
    for duplicate in duplicates
        .iter()
        .filter(|d| matches!(d, Duplicate::Day { .. }))
        .take(SHOWN)
    {
        if let Duplicate::Day { user, day, entries } = duplicate {
            let _ = writeln!(out, "  user {user}, day {day}:");
            for (id, date) in entries {
                let _ = writeln!(out, "    entries _id {id}  date {date}");
            }
        }
    }
    if days > SHOWN {
        let _ = writeln!(out, "  … and {} more day(s)", days - SHOWN);
    }
    if emails > 0 {
        let _ = writeln!(
            out,
            "\n{emails} e-mail address(es) used by more than one account (ignoring case):"
        );
    }
    for duplicate in duplicates
        .iter()
        .filter(|d| matches!(d, Duplicate::Email { .. }))
        .take(SHOWN)
    {
        if let Duplicate::Email { email, users } = duplicate {
            let _ = writeln!(out, "  {email}:");
            for (id, stored) in users {
                let _ = writeln!(out, "    users _id {id}  email {stored:?}");
            }
        }
    }
    if emails > SHOWN {
        let _ = writeln!(out, "  … and {} more address(es)", emails - SHOWN);
    }
    out.push_str(
        "\nWhat to do: for each day, keep one entry, copy into it what the others hold, and delete the others \
         (db.entries.deleteOne({_id: ObjectId(\"…\")})); for each e-mail, keep one account, move the other's \
         entries to it (db.entries.updateMany({user: ObjectId(\"<other>\")}, {$set: {user: ObjectId(\"<kept>\")}}), \
         minding days both have) and delete the other account. Back up first (mongodump). Then run \
         `healthtracker migrate` again. The server still runs meanwhile: it refuses a second entry for a day \
         itself, but only the unique indexes rule out races.",
    );
    out
}
