//! The documents' tests: the old backend's shapes read, ours round-trip.

use chrono::{DateTime, Utc};
use mongodb::bson::{self, Bson, doc};

use crate::domain::day::Day;
use crate::domain::entry::{DayLog, Entry, Measure, Mood};
use crate::domain::ids::{EntryId, UserId};

use super::read::*;
use super::write::*;
use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[test]
fn a_local_midnight_is_the_day_it_was_meant_as() {
    for (stored, day) in [
        ("2026-11-28T00:00:00Z", "2026-11-28"),
        ("2026-11-27T23:00:00Z", "2026-11-28"), // UTC+1
        ("2026-11-28T05:00:00Z", "2026-11-28"), // UTC-5
        ("2026-11-27T12:00:00Z", "2026-11-28"), // UTC+12
        ("2026-11-28T11:59:59Z", "2026-11-28"), // UTC-11:59
        ("1969-12-31T23:00:00Z", "1970-01-01"),
    ] {
        assert_eq!(day_of(at(stored)).to_ymd(), day, "{stored}");
    }
    let (start, end) = day_window(Day::parse_ymd("2026-11-28").expect("a day"));
    assert_eq!(start.timestamp_millis(), at("2026-11-27T12:00:00Z").timestamp_millis());
    assert_eq!(end.timestamp_millis(), at("2026-11-28T12:00:00Z").timestamp_millis());
}

#[test]
fn old_documents_read_with_defaults() {
    let id = bson::oid::ObjectId::new();
    let user = bson::oid::ObjectId::new();
    let old = doc! {
        "_id": id, "user": user, "date": bson_date(at("2026-11-27T23:00:00Z")),
        "calories": 2100.0, "sleep": 7, "workouts": true, "mood": "neutral", "__v": 0,
        "foodIntake": [{"_id": bson::oid::ObjectId::new(), "meal": "lunch", "food": "Soup", "calories": Bson::Int64(300)}],
        "somethingElse": {"nested": true},
    };
    let entry = entry_from_doc(&old).map_err(|e| e.to_string());
    let Ok(entry) = entry else { panic!("{entry:?}") };
    assert_eq!(entry.date.to_ymd(), "2026-11-28");
    assert_eq!(entry.log.figure(Measure::Calories), 2100.0);
    assert_eq!(entry.log.figure(Measure::Sleep), 7.0);
    assert_eq!(entry.log.food_intake[0].calories, 300);
    assert_eq!(
        (entry.log.figure(Measure::HeartRate), entry.log.figure(Measure::Steps)),
        (0.0, 0.0)
    );
    assert_eq!(entry.log.mood, Mood::Neutral);
    assert_eq!(entry.log.notes, "");
    assert_eq!(entry.created_at.timestamp(), id.timestamp().timestamp_millis() / 1000);

    let odd = doc! { "_id": id, "user": user, "date": bson_date(at("2026-11-28T00:00:00Z")), "mood": "ecstatic", "calories": 1.6, "symptoms": "cough" };
    let entry = entry_from_doc(&odd).map_err(|e| e.to_string());
    let Ok(entry) = entry else { panic!("{entry:?}") };
    assert_eq!(entry.log.mood, Mood::Neutral);
    assert_eq!(entry.log.figure(Measure::Calories), 2.0);
    assert_eq!(entry.log.symptoms, ["cough"]);

    assert!(entry_from_doc(&doc! { "_id": id, "user": user }).is_err());
}

/// What an older version stored (or the old backend's JavaScript `Date` could hold) outside the
/// years 0001–9999 reads as the day it is, so each read still serves the document. (The
/// MongoDB stand-in of the HTTP suite cannot hold such dates: this is where they are read.)
#[test]
fn dates_outside_the_years_still_read() {
    let (id, user) = (bson::oid::ObjectId::new(), bson::oid::ObjectId::new());
    for (millis, day) in [
        (-62_167_305_600_000_i64, "-0001-12-31"),
        (253_402_300_800_000, "+10000-01-01"),
        (-62_154_086_400_000, "0000-06-01"),
    ] {
        let stored = doc! {"_id": id, "user": user, "date": bson::DateTime::from_millis(millis), "calories": 5};
        let entry = entry_from_doc(&stored).map_err(|e| e.to_string());
        let Ok(entry) = entry else { panic!("{entry:?}") };
        assert_eq!((entry.date.to_ymd().as_str(), entry.date.is_in_range()), (day, false));
        let document = entry.document_json();
        assert!(
            document.as_str().contains(&format!(r#""date":"{day}T00:00:00.000Z""#)),
            "{document:?}"
        );
        assert_eq!(figures_from_doc(&stored).map(|f| f.day), Some(entry.date));
        assert_eq!(logged_day_from_doc(&stored).map(|d| d.day), Some(entry.date));
        // A day window for it exists (a PUT that keeps its day, the export's pages).
        let (start, end) = day_window(entry.date);
        assert!(start.timestamp_millis() <= millis && millis < end.timestamp_millis());
    }
    // Beyond what chrono holds: the nearest it can, never an unreadable document.
    for millis in [i64::MIN, i64::MAX, 8_640_000_000_000_000] {
        let stored = doc! {"_id": id, "user": user, "date": bson::DateTime::from_millis(millis)};
        let entry = entry_from_doc(&stored).map_err(|e| e.to_string());
        let Ok(entry) = entry else {
            panic!("{millis}: {entry:?}")
        };
        assert!(!entry.date.is_in_range(), "{millis}");
        assert_eq!(
            entry.date.date() < NaiveDate::MIN.succ_opt().unwrap_or(NaiveDate::MIN),
            millis < 0
        );
    }
}

#[test]
fn written_entries_keep_the_mongoose_shape() {
    let entry = Entry {
        id: EntryId::new(),
        user: UserId::new(),
        date: Day::parse_ymd("2026-11-28").expect("a day"),
        log: DayLog::default(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    let doc = entry_to_doc(&entry);
    assert!(matches!(doc.get("user"), Some(Bson::ObjectId(_))));
    assert!(matches!(doc.get("date"), Some(Bson::DateTime(_))));
    assert_eq!(doc.get("__v"), Some(&Bson::Int32(0)));
    assert_eq!(doc.get("calories"), Some(&Bson::Int32(0)));
    let read = entry_from_doc(&doc).map_err(|e| e.to_string());
    assert_eq!(read.map(|e| (e.id, e.date)), Ok((entry.id, entry.date)));
}
