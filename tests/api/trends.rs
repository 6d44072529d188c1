//! The user's own day and their trends: "today" in the profile's time zone (dashboard, weekly
//! report, timestamps sent as `date`), `GET /entries/stats` on known data, and the validators and
//! compression of what clients poll. A fixed clock stands the server on the moment each case
//! needs; nothing here depends on the wall clock.

use chrono::{DateTime, Utc};
use healthtracker::domain::clock::Clock;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};

use crate::api_test;
use crate::fake_ai::FakeProvider;
use crate::helpers::*;

fn at(instant: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(instant)
        .map(|t| t.with_timezone(&Utc))
        .expect("an RFC 3339 instant")
}

async fn app_at(backend: Backend, instant: &str) -> (TestApp, Clock) {
    let clock = Clock::fixed(at(instant));
    (TestApp::builder(backend).clock(&clock).spawn().await, clock)
}

async fn dashboard_day(app: &TestApp, session: &Session) -> (String, i64) {
    let body = json_body(app.dashboard(&session.access, "").await, StatusCode::OK).await;
    (
        body["data"]["date"].as_str().unwrap_or_default()[..10].to_owned(),
        body["data"]["calories"].as_i64().unwrap_or(-1),
    )
}

/// Imports entries (`[day, calories, sleep, workouts, mood, steps]`) in one request.
async fn log_days(app: &TestApp, session: &Session, days: &[(&str, i64, f64, bool, &str, i64)]) {
    let entries: Vec<Value> = days
        .iter()
        .map(|(day, calories, sleep, workouts, mood, steps)| {
            json!({"date": day, "calories": calories, "sleep": sleep, "workouts": workouts, "mood": mood, "steps": steps})
        })
        .collect();
    let body = json_body(
        app.import(
            &session.access,
            "",
            &json!({"format": "healthtracker-export", "version": 1, "entries": entries}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["created"], days.len(), "{body}");
}

api_test!(
    async fn today_is_the_users_day_on_both_sides_of_the_date_line(backend) {
        // 20:00 UTC on 30 November: already 1 December in India (01:30) and at UTC+14 (10:00),
        // still 30 November in UTC and at UTC-11 (09:00).
        let (app, _clock) = app_at(backend, "2026-11-30T20:00:00Z").await;
        for (zone, today) in [
            ("UTC", "2026-11-30"),
            ("Asia/Kolkata", "2026-12-01"),
            ("Pacific/Kiritimati", "2026-12-01"),
            ("Pacific/Pago_Pago", "2026-11-30"),
        ] {
            let session = app.signup_in(zone).await;
            app.created_entry(&session.access, &json!({"date": "2026-11-30", "calories": 1130})).await;
            app.created_entry(&session.access, &json!({"date": "2026-12-01", "calories": 1201})).await;
            let expected = if today == "2026-12-01" { 1201 } else { 1130 };
            assert_eq!(dashboard_day(&app, &session).await, (today.to_owned(), expected), "{zone}");
            // An explicit day is that day, whatever the zone.
            let body = json_body(app.dashboard(&session.access, "?date=2026-11-30").await, StatusCode::OK).await;
            assert_eq!(body["data"]["calories"], 1130, "{zone}");
        }
    }
);

api_test!(
    async fn the_day_turns_at_the_zones_midnight_across_daylight_saving_changes(backend) {
        // New York: summer time starts on Sunday 8 March 2026 and ends on Sunday 1 November.
        let (app, clock) = app_at(backend, "2026-03-08T04:59:59Z").await;
        let session = app.signup_in("America/New_York").await;
        for day in ["2026-03-07", "2026-03-08", "2026-03-09", "2026-10-31", "2026-11-01", "2026-11-02"] {
            let calories: i64 = day[5..].replace('-', "").parse().expect("digits");
            app.created_entry(&session.access, &json!({"date": day, "calories": calories})).await;
        }
        for (instant, today) in [
            ("2026-03-08T04:59:59Z", "2026-03-07"), // 23:59:59 EST
            ("2026-03-08T05:00:00Z", "2026-03-08"), // midnight EST, the short day begins
            ("2026-03-09T03:59:59Z", "2026-03-08"), // 23:59:59 EDT
            ("2026-03-09T04:00:00Z", "2026-03-09"),
            ("2026-11-01T03:59:59Z", "2026-10-31"), // 23:59:59 EDT
            ("2026-11-01T04:00:00Z", "2026-11-01"), // the long day begins
            ("2026-11-02T04:59:59Z", "2026-11-01"), // 23:59:59 EST, 25 hours later
            ("2026-11-02T05:00:00Z", "2026-11-02"),
        ] {
            clock.set(at(instant));
            let calories: i64 = today[5..].replace('-', "").parse().expect("digits");
            assert_eq!(dashboard_day(&app, &session).await, (today.to_owned(), calories), "at {instant}");
        }
        // The stats of the short and the long day: one day each, one entry each.
        let body = json_body(app.stats(&session.access, "?from=2026-03-07&to=2026-03-09&bucket=day").await, StatusCode::OK).await;
        let days: Vec<(&str, i64)> = body["data"]
            .as_array()
            .map(|b| b.iter().map(|b| (b["start"].as_str().unwrap_or_default(), b["daysLogged"].as_i64().unwrap_or(-1))).collect())
            .unwrap_or_default();
        assert_eq!(days, [("2026-03-07", 1), ("2026-03-08", 1), ("2026-03-09", 1)]);
        assert_eq!(body["timezone"], "America/New_York");
    }
);

api_test!(
    async fn a_timestamp_sent_as_date_lands_on_the_users_day(backend) {
        let (app, _clock) = app_at(backend, "2026-12-01T12:00:00Z").await;
        let new_york = app.signup_in("America/New_York").await;
        let utc = app.signup().await;
        // 23:30 on 30 November in New York is 04:30 on 1 December in UTC.
        let evening = "2026-11-30T23:30:00-05:00";
        let entry = app.created_entry(&new_york.access, &json!({"date": evening, "calories": 1})).await;
        assert_eq!(entry["date"], "2026-11-30T00:00:00.000Z");
        let entry = app.created_entry(&utc.access, &json!({"date": evening, "calories": 1})).await;
        assert_eq!(entry["date"], "2026-12-01T00:00:00.000Z");
        // Kiritimati (UTC+14): 15:00 UTC on 1 December is 05:00 on the 2nd there.
        let kiribati = app.signup_in("Pacific/Kiritimati").await;
        let entry = app.created_entry(&kiribati.access, &json!({"date": "2026-12-01T15:00:00Z"})).await;
        assert_eq!(entry["date"], "2026-12-02T00:00:00.000Z");
        // A day's own wire form (what the API returns) is that day in every zone: sending back
        // the date it was given never moves an entry.
        let id = entry["_id"].as_str().unwrap_or_default().to_owned();
        let pago = app.signup_in("Pacific/Pago_Pago").await;
        let entry = app.created_entry(&pago.access, &json!({"date": "2026-11-28T00:00:00.000Z"})).await;
        assert_eq!(entry["date"], "2026-11-28T00:00:00.000Z");
        let moved = json_body(
            app.update_entry(&kiribati.access, &id, &json!({"date": "2026-12-02T00:00:00.000Z", "calories": 5})).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(moved["data"]["date"], "2026-12-02T00:00:00.000Z");
        // PUT places a timestamp the same way.
        let moved = json_body(
            app.update_entry(&kiribati.access, &id, &json!({"date": "2026-12-03T11:00:00Z"})).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(moved["data"]["date"], "2026-12-04T00:00:00.000Z");
    }
);

#[tokio::test]
async fn the_weekly_report_covers_the_users_last_seven_days() {
    for backend in [Backend::Sqlite, Backend::MongoDb] {
        if backend == Backend::MongoDb && !crate::mongo_server::available() {
            continue;
        }
        let provider = FakeProvider::start().await;
        let clock = Clock::fixed(at("2026-11-30T20:00:00Z"));
        let app = TestApp::builder(backend).ai(&provider).clock(&clock).spawn().await;
        // In India it is 1 December: the week is 25 November to 1 December.
        let session = app.signup_in("Asia/Kolkata").await;
        for (day, calories) in [("2026-11-24", 9000), ("2026-11-25", 2000), ("2026-12-01", 1000)] {
            app.created_entry(&session.access, &json!({"date": day, "calories": calories}))
                .await;
        }
        let body = json_body(app.weekly_report(&session.access).await, StatusCode::OK).await;
        assert_eq!(body["summary"]["totalDays"], 2, "{backend:?}: {body}");
        assert_eq!(body["summary"]["avgCalories"], 1500, "{backend:?}");
        // The same data for a user in UTC: still 30 November, so 1 December is not in the week.
        let utc = app.signup().await;
        for (day, calories) in [("2026-11-24", 2000), ("2026-12-01", 1000)] {
            app.created_entry(&utc.access, &json!({"date": day, "calories": calories}))
                .await;
        }
        let body = json_body(app.weekly_report(&utc.access).await, StatusCode::OK).await;
        assert_eq!(
            (
                body["summary"]["totalDays"].as_i64(),
                body["summary"]["avgCalories"].as_i64()
            ),
            (Some(1), Some(2000)),
            "{backend:?}"
        );
    }
}

fn metric(bucket: &Value, name: &str) -> (Value, Value, Value, Value) {
    let m = &bucket[name];
    (m["avg"].clone(), m["min"].clone(), m["max"].clone(), m["sum"].clone())
}

api_test!(
    async fn stats_on_known_data(backend) {
        let (app, _clock) = app_at(backend, "2027-01-12T12:00:00Z").await;
        let session = app.signup().await;
        log_days(
            &app,
            &session,
            &[
                // ISO week 53 of 2026 (Mon 28 Dec – Sun 3 Jan), clipped to start on Wednesday 30.
                ("2026-12-29", 9999, 9.0, true, "poor", 1),  // before the range: ignored
                ("2026-12-30", 2000, 7.5, true, "good", 8000),
                ("2026-12-31", 0, 8.25, false, "good", 0),    // zeros are blanks, not measurements
                ("2027-01-01", 1501, 0.0, true, "excellent", 12000),
                // Week 1 of 2027: nothing logged. Week 2, clipped to Monday 11 – Tuesday 12.
                ("2027-01-12", 1800, 6.0, false, "fair", 3000),
            ],
        )
        .await;
        let body = json_body(app.stats(&session.access, "?from=2026-12-30&to=2027-01-12&bucket=week").await, StatusCode::OK).await;
        assert_eq!((body["from"].as_str(), body["to"].as_str(), body["bucket"].as_str()), (Some("2026-12-30"), Some("2027-01-12"), Some("week")));
        assert_eq!(body["timezone"], "UTC");
        let buckets = body["data"].as_array().cloned().unwrap_or_default();
        let spans: Vec<(&str, &str, i64, i64, i64)> = buckets
            .iter()
            .map(|b| {
                (
                    b["start"].as_str().unwrap_or_default(),
                    b["end"].as_str().unwrap_or_default(),
                    b["days"].as_i64().unwrap_or(-1),
                    b["daysLogged"].as_i64().unwrap_or(-1),
                    b["workoutDays"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        assert_eq!(
            spans,
            [("2026-12-30", "2027-01-03", 5, 3, 2), ("2027-01-04", "2027-01-10", 7, 0, 0), ("2027-01-11", "2027-01-12", 2, 1, 0)]
        );
        let first = &buckets[0];
        assert_eq!(metric(first, "calories"), (json!(1750.5), json!(1501), json!(2000), json!(3501)));
        assert_eq!(metric(first, "sleep"), (json!(7.88), json!(7.5), json!(8.25), json!(15.75)));
        assert_eq!(metric(first, "steps"), (json!(10000), json!(8000), json!(12000), json!(20000)));
        assert_eq!(metric(first, "heartRate"), (Value::Null, Value::Null, Value::Null, json!(0)));
        assert_eq!(first["moods"], json!({"poor": 0, "fair": 0, "neutral": 0, "good": 2, "excellent": 1}));
        let empty = &buckets[1];
        assert_eq!(metric(empty, "calories"), (Value::Null, Value::Null, Value::Null, json!(0)));
        assert_eq!(empty["moods"], json!({"poor": 0, "fair": 0, "neutral": 0, "good": 0, "excellent": 0}));
        assert_eq!(metric(&buckets[2], "sleep"), (json!(6), json!(6), json!(6), json!(6)));

        // Months over a leap February, clipped at both ends; days.
        let (app, _clock) = app_at(backend, "2028-03-02T12:00:00Z").await;
        let session = app.signup().await;
        log_days(&app, &session, &[("2028-02-28", 100, 1.0, false, "neutral", 0), ("2028-02-29", 300, 2.0, true, "neutral", 0), ("2028-03-01", 50, 0.5, false, "poor", 0)]).await;
        let body = json_body(app.stats(&session.access, "?from=2028-01-15&to=2028-03-02&bucket=month").await, StatusCode::OK).await;
        let months: Vec<(String, String, i64, i64)> = body["data"]
            .as_array()
            .map(|b| {
                b.iter()
                    .map(|b| (b["start"].as_str().unwrap_or_default().to_owned(), b["end"].as_str().unwrap_or_default().to_owned(), b["days"].as_i64().unwrap_or(-1), b["daysLogged"].as_i64().unwrap_or(-1)))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            months,
            [
                ("2028-01-15".to_owned(), "2028-01-31".to_owned(), 17, 0),
                ("2028-02-01".to_owned(), "2028-02-29".to_owned(), 29, 2),
                ("2028-03-01".to_owned(), "2028-03-02".to_owned(), 2, 1)
            ]
        );
        assert_eq!(metric(&body["data"][1], "calories"), (json!(200), json!(100), json!(300), json!(400)));
        let body = json_body(app.stats(&session.access, "?from=2028-02-28&to=2028-03-01&bucket=day").await, StatusCode::OK).await;
        let days: Vec<&str> = body["data"].as_array().map(|b| b.iter().filter_map(|b| b["start"].as_str()).collect()).unwrap_or_default();
        assert_eq!(days, ["2028-02-28", "2028-02-29", "2028-03-01"]);
        // Current streak: 29 Feb and 1 Mar, but nothing on 2 March (today) yet.
        assert_eq!(body["streaks"], json!({"currentLogging": 0, "longestLogging": 3, "currentWorkout": 0, "longestWorkout": 1, "goals": {}}));
    }
);

api_test!(
    async fn streaks_run_over_the_whole_history_and_end_today(backend) {
        let (app, _clock) = app_at(backend, "2026-03-02T12:00:00Z").await;
        let session = app.signup().await;
        log_days(
            &app,
            &session,
            &[
                ("2025-12-30", 1, 1.0, true, "good", 0),
                ("2025-12-31", 1, 1.0, true, "good", 0),
                ("2026-01-01", 1, 1.0, true, "good", 0),
                ("2026-01-02", 1, 1.0, true, "good", 0),
                ("2026-01-03", 1, 1.0, false, "good", 0),
                ("2026-02-25", 1, 1.0, true, "good", 0),
                ("2026-02-27", 1, 1.0, false, "good", 0),
                ("2026-02-28", 1, 1.0, true, "good", 0),
                ("2026-03-01", 1, 1.0, true, "good", 0),
                ("2026-03-02", 1, 1.0, true, "good", 0),
            ],
        )
        .await;
        // The default range (the last 28 days) does not reach back to the five-day run of the new
        // year; the streaks still count it.
        let body = json_body(app.stats(&session.access, "").await, StatusCode::OK).await;
        assert_eq!((body["from"].as_str(), body["to"].as_str(), body["bucket"].as_str()), (Some("2026-02-03"), Some("2026-03-02"), Some("week")));
        assert_eq!(body["streaks"], json!({"currentLogging": 4, "longestLogging": 5, "currentWorkout": 3, "longestWorkout": 4, "goals": {}}));
        let logged: i64 = body["data"].as_array().map(|b| b.iter().filter_map(|b| b["daysLogged"].as_i64()).sum()).unwrap_or(-1);
        assert_eq!(logged, 5);
        let days: i64 = body["data"].as_array().map(|b| b.iter().filter_map(|b| b["days"].as_i64()).sum()).unwrap_or(-1);
        assert_eq!(days, 28);
    }
);

api_test!(
    async fn stats_defaults_follow_the_users_today(backend) {
        // 20:00 UTC on 30 November is 1 December in India: the default range ends there.
        let (app, _clock) = app_at(backend, "2026-11-30T20:00:00Z").await;
        let session = app.signup_in("Asia/Kolkata").await;
        app.created_entry(&session.access, &json!({"date": "2026-12-01", "calories": 1000})).await;
        let body = json_body(app.stats(&session.access, "").await, StatusCode::OK).await;
        assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("2026-11-04"), Some("2026-12-01")));
        assert_eq!(body["timezone"], "Asia/Kolkata");
        assert_eq!(body["streaks"]["currentLogging"], 1);
        // Only `to`: the 28 days ending there; only `from`: up to today.
        let body = json_body(app.stats(&session.access, "?to=2026-02-28&bucket=day").await, StatusCode::OK).await;
        assert_eq!((body["from"].as_str(), body["data"].as_array().map(Vec::len)), (Some("2026-02-01"), Some(28)));
        let body = json_body(app.stats(&session.access, "?from=2026-11-30&bucket=month").await, StatusCode::OK).await;
        assert_eq!(body["to"], "2026-12-01");
        assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    }
);

api_test!(
    async fn every_bad_stats_query_is_a_400_naming_it(backend) {
        let (app, _clock) = app_at(backend, "2026-12-01T12:00:00Z").await;
        let session = app.signup().await;
        for (query, paths) in [
            ("?from=2026-13-01", vec!["from"]),
            ("?to=yesterday", vec!["to"]),
            ("?bucket=year", vec!["bucket"]),
            ("?bucket=WEEK", vec!["bucket"]),
            ("?from=2026-12-02&to=2026-12-01", vec!["from"]),
            ("?from=2026-12-02", vec!["from"]),
            ("?from=2016-11-23&to=2026-12-01", vec!["from"]),
            ("?from=x&to=y&bucket=z", vec!["from", "to", "bucket"]),
            ("?bucket=day&bucket=week", vec!["bucket"]),
        ] {
            let error = assert_invalid(app.stats(&session.access, query).await).await;
            assert_eq!(detail_paths(&error), paths, "{query}");
        }
        // The longest range there may be: 3,660 days.
        let body = json_body(app.stats(&session.access, "?from=2016-11-24&to=2026-12-01&bucket=month").await, StatusCode::OK).await;
        assert_eq!(body["data"].as_array().map(Vec::len), Some(122));
        assert_error(app.stats("not-a-token", "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
    }
);

api_test!(
    async fn stats_see_only_the_callers_entries_and_follow_every_write(backend) {
        let (app, _clock) = app_at(backend, "2026-12-01T12:00:00Z").await;
        let (mine, theirs) = (app.signup().await, app.signup().await);
        log_days(&app, &theirs, &[("2026-12-01", 5000, 9.0, true, "poor", 99)]).await;
        let query = "?from=2026-11-25&to=2026-12-01&bucket=week";
        let body = json_body(app.stats(&mine.access, query).await, StatusCode::OK).await;
        let logged: i64 = body["data"].as_array().map(|b| b.iter().filter_map(|b| b["daysLogged"].as_i64()).sum()).unwrap_or(-1);
        assert_eq!(logged, 0);
        assert_eq!(body["streaks"]["longestLogging"], 0);

        // Create, update, delete: each is in the very next answer (answers kept in memory never
        // outlive a write).
        let entry = app.created_entry(&mine.access, &json!({"date": "2026-12-01", "calories": 1000})).await;
        let body = json_body(app.stats(&mine.access, query).await, StatusCode::OK).await;
        assert_eq!(body["data"][1]["calories"]["sum"], 1000);
        let id = entry["_id"].as_str().unwrap_or_default();
        json_body(app.update_entry(&mine.access, id, &json!({"calories": 1200})).await, StatusCode::OK).await;
        let body = json_body(app.stats(&mine.access, query).await, StatusCode::OK).await;
        assert_eq!(body["data"][1]["calories"]["sum"], 1200);
        json_body(app.delete_entry(&mine.access, id).await, StatusCode::OK).await;
        let body = json_body(app.stats(&mine.access, query).await, StatusCode::OK).await;
        assert_eq!(body["data"][1]["daysLogged"], 0);
        // Another instance on the same database sees a write made here, and this one sees its.
        let other = TestApp::builder(backend).database(app.database.clone()).spawn().await;
        let on_other = json_body(other.stats(&mine.access, query).await, StatusCode::OK).await;
        assert_eq!(on_other["data"], body["data"]);
        app.created_entry(&mine.access, &json!({"date": "2026-11-30", "calories": 700})).await;
        let on_other = json_body(other.stats(&mine.access, query).await, StatusCode::OK).await;
        assert_eq!(on_other["data"][1]["calories"]["sum"], 700);
        other.created_entry(&mine.access, &json!({"date": "2026-12-01", "calories": 300})).await;
        let here = json_body(app.stats(&mine.access, query).await, StatusCode::OK).await;
        assert_eq!(here["data"][1]["calories"]["sum"], 1000);
    }
);

/// A polled GET with `If-None-Match` and `Accept-Encoding` as given.
async fn poll(
    app: &TestApp,
    access: &str,
    path: &str,
    etag: Option<&str>,
    encoding: Option<&str>,
) -> reqwest::Response {
    let mut request = app.get(path).bearer_auth(access);
    if let Some(etag) = etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    if let Some(encoding) = encoding {
        request = request.header(ACCEPT_ENCODING, encoding);
    }
    request.send().await.expect("request")
}

api_test!(
    async fn polled_answers_carry_an_etag_and_answer_304_while_current(backend) {
        let (app, _clock) = app_at(backend, "2026-12-01T12:00:00Z").await;
        let session = app.signup().await;
        let entry = app.created_entry(&session.access, &json!({"date": "2026-12-01", "calories": 1000})).await;
        for path in ["/api/entries", "/api/entries/dashboard/summary", "/api/entries/stats", "/entries/stats?bucket=day"] {
            let first = poll(&app, &session.access, path, None, None).await;
            assert_eq!(first.status(), StatusCode::OK, "{path}");
            let etag = first.headers().get(ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10, "{path}: a strong ETag, got {etag:?}");
            assert_eq!(first.headers()["cache-control"], "no-store", "{path}");
            let same = poll(&app, &session.access, path, None, None).await;
            assert_eq!(same.headers().get(ETAG).and_then(|v| v.to_str().ok()), Some(etag.as_str()), "{path}: stable");

            let cached = poll(&app, &session.access, path, Some(&etag), None).await;
            assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{path}");
            assert_eq!(cached.headers().get(ETAG).and_then(|v| v.to_str().ok()), Some(etag.as_str()));
            assert_eq!(cached.headers()["cache-control"], "no-store");
            assert!(cached.bytes().await.expect("body").is_empty());
            let weak = poll(&app, &session.access, path, Some(&format!("\"x\", W/{etag}")), None).await;
            assert_eq!(weak.status(), StatusCode::NOT_MODIFIED, "{path}: If-None-Match compares weakly");
            assert_eq!(poll(&app, &session.access, path, Some("\"stale\""), None).await.status(), StatusCode::OK);
        }
        // A write changes every answer it shows up in.
        let before = etags(&app, &session.access).await;
        let id = entry["_id"].as_str().unwrap_or_default();
        json_body(app.update_entry(&session.access, id, &json!({"calories": 1100})).await, StatusCode::OK).await;
        let after = etags(&app, &session.access).await;
        for (before, after) in before.iter().zip(&after) {
            assert_ne!(before, after);
        }
        // Another user's copy of the same figures is not this user's.
        let other = app.signup().await;
        let response = poll(&app, &other.access, "/api/entries/stats", Some(&after[2]), None).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
);

/// The `ETag`s of the list, the dashboard and the stats, now.
async fn etags(app: &TestApp, access: &str) -> Vec<String> {
    let mut tags = Vec::new();
    for path in ["/api/entries", "/api/entries/dashboard/summary", "/api/entries/stats"] {
        let response = poll(app, access, path, None, None).await;
        tags.push(
            response
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        );
    }
    tags
}

fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).map(|_| ()),
        "br" => brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out).map(|_| ()),
        "zstd" => zstd::stream::read::Decoder::new(bytes)
            .and_then(|mut d| d.read_to_end(&mut out))
            .map(|_| ()),
        other => panic!("unexpected encoding {other}"),
    }
    .expect("a valid compressed body");
    out
}

#[tokio::test]
async fn json_is_compressed_when_the_client_asks() {
    let (app, _clock) = app_at(Backend::Sqlite, "2026-12-01T12:00:00Z").await;
    let session = app.signup().await;
    let days: Vec<(String, i64)> = (1..=30).map(|d| (format!("2026-11-{d:02}"), 1000 + d)).collect();
    let rows: Vec<(&str, i64, f64, bool, &str, i64)> = days
        .iter()
        .map(|(d, c)| (d.as_str(), *c, 7.5, true, "good", 9000))
        .collect();
    log_days(&app, &session, &rows).await;
    for path in ["/api/entries", "/api/entries/stats?from=2026-01-01&to=2026-12-01"] {
        let plain_response = poll(&app, &session.access, path, None, None).await;
        assert!(
            plain_response.headers().get(CONTENT_ENCODING).is_none(),
            "not asked, not compressed"
        );
        let plain_etag = plain_response.headers()[ETAG].to_str().expect("ascii").to_owned();
        let plain = plain_response.bytes().await.expect("body");
        for encoding in ["gzip", "br", "zstd"] {
            let response = poll(&app, &session.access, path, None, Some(encoding)).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[CONTENT_ENCODING], encoding, "{path}");
            assert_eq!(response.headers()["content-type"], "application/json");
            let vary: Vec<&str> = response
                .headers()
                .get_all("vary")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            assert!(
                vary.join(",").to_ascii_lowercase().contains("accept-encoding"),
                "{vary:?}"
            );
            // Another representation, another strong tag; it still validates the plain copy.
            let etag = response.headers()[ETAG].to_str().expect("ascii").to_owned();
            assert_eq!(etag, format!("{}-{encoding}\"", &plain_etag[..plain_etag.len() - 1]));
            let compressed = response.bytes().await.expect("body");
            assert!(
                compressed.len() * 3 < plain.len(),
                "{path} {encoding}: {} of {} bytes",
                compressed.len(),
                plain.len()
            );
            assert_eq!(decode(encoding, &compressed), plain.to_vec(), "{path} {encoding}");
            let revalidated = poll(&app, &session.access, path, Some(&etag), Some(encoding)).await;
            assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        }
        // A client that refuses even an unencoded body still gets one (never a 406 after the
        // handler ran).
        let response = poll(&app, &session.access, path, None, Some("identity;q=0")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.bytes().await.expect("body"), plain);
    }
    // Streamed answers are compressed as they are written: the export, both formats.
    for format in ["csv", "json"] {
        let path = format!("/api/export?format={format}");
        let plain = poll(&app, &session.access, &path, None, None)
            .await
            .bytes()
            .await
            .expect("body");
        let response = poll(&app, &session.access, &path, None, Some("gzip")).await;
        assert_eq!(response.headers()[CONTENT_ENCODING], "gzip");
        let unpacked = decode("gzip", &response.bytes().await.expect("body"));
        if format == "csv" {
            assert_eq!(unpacked, plain.to_vec());
        } else {
            let (a, b): (Value, Value) = (
                serde_json::from_slice(&unpacked).expect("JSON"),
                serde_json::from_slice(&plain).expect("JSON"),
            );
            assert_eq!(a["entries"], b["entries"]);
        }
    }
    // Errors stay JSON under compression too.
    let response = app
        .get("/api/entries/stats?bucket=year")
        .bearer_auth(&session.access)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let encoding = response
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let bytes = response.bytes().await.expect("body");
    let body: Value = serde_json::from_slice(&match encoding.as_deref() {
        Some(encoding) => decode(encoding, &bytes),
        None => bytes.to_vec(),
    })
    .expect("JSON");
    assert_eq!(body["message"], body["details"][0]["msg"]);
    assert_eq!(detail_paths(&body), ["bucket"]);
}

/// MongoDB: entries the old backend wrote (local midnights, `sleepHours`, numbers of every BSON
/// type, fields missing) count on the day they were meant for, for a user with no
/// `entriesVersion` (it is ours); a write through the API is then seen at once.
#[tokio::test]
async fn stats_read_the_old_backends_documents() {
    use mongodb::bson::{DateTime as BsonDate, Document, doc, oid::ObjectId};
    if !crate::mongo_server::available() {
        return;
    }
    let (app, _clock) = app_at(Backend::MongoDb, "2026-12-01T12:00:00Z").await;
    let db = app.database.mongo_db().await;
    let user = ObjectId::new();
    db.collection::<Document>("users")
        .insert_one(doc! {"_id": user, "name": "Old", "email": "old@example.com", "password": "x", "__v": 0})
        .await
        .expect("insert user");
    let date = |s: &str| BsonDate::parse_rfc3339_str(s).expect("date");
    db.collection::<Document>("entries")
        .insert_many([
            // Local midnight at UTC+1: 30 November.
            doc! {"user": user, "date": date("2026-11-29T23:00:00Z"), "calories": 1800_i32, "sleepHours": 7.5, "steps": "9000", "workouts": true, "mood": "good", "__v": 0},
            // Local midnight at UTC-5: 1 December; no mood, no workouts, Int64 and Double numbers.
            doc! {"user": user, "date": date("2026-12-01T05:00:00Z"), "calories": 2200_i64, "sleep": 6.0, "heartRate": 61.0, "__v": 0},
        ])
        .await
        .expect("insert entries");
    let now = now_secs();
    let access = sign(
        &json!({"userId": user.to_hex(), "type": "access", "iat": now, "exp": now + 600}),
        TEST_JWT_SECRET,
    );
    let body = json_body(
        app.stats(&access, "?from=2026-11-30&to=2026-12-01&bucket=day").await,
        StatusCode::OK,
    )
    .await;
    let (first, second) = (&body["data"][0], &body["data"][1]);
    assert_eq!(
        (
            first["start"].as_str(),
            first["daysLogged"].as_i64(),
            first["workoutDays"].as_i64()
        ),
        (Some("2026-11-30"), Some(1), Some(1))
    );
    assert_eq!(metric(first, "sleep"), (json!(7.5), json!(7.5), json!(7.5), json!(7.5)));
    assert_eq!(first["steps"]["sum"], 9000);
    assert_eq!(first["moods"]["good"], 1);
    assert_eq!(
        (second["start"].as_str(), second["daysLogged"].as_i64()),
        (Some("2026-12-01"), Some(1))
    );
    assert_eq!(
        metric(second, "calories"),
        (json!(2200), json!(2200), json!(2200), json!(2200))
    );
    assert_eq!(second["heartRate"]["max"], 61);
    assert_eq!(second["moods"]["neutral"], 1);
    assert_eq!(
        body["streaks"],
        json!({"currentLogging": 2, "longestLogging": 2, "currentWorkout": 0, "longestWorkout": 1, "goals": {}})
    );

    let entry = app
        .created_entry(&access, &json!({"date": "2026-11-29", "calories": 100}))
        .await;
    assert_eq!(entry["date"], "2026-11-29T00:00:00.000Z");
    let body = json_body(
        app.stats(&access, "?from=2026-11-30&to=2026-12-01&bucket=day").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["streaks"]["longestLogging"], 3);
    let stored = db
        .collection::<Document>("users")
        .find_one(doc! {"_id": user})
        .await
        .expect("find")
        .expect("user");
    assert!(stored.get("entriesVersion").is_some(), "{stored}");
}
