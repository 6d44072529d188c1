//! The reader against the fixtures' figures (tests/fixtures/health-auto-export/*.md), each sleep
//! shape, both workout versions, the dates, and what is refused.

use serde_json::{Value, json};

use super::*;
use crate::devices::DeviceDays;
use crate::domain::day::Day;
use crate::domain::entry::Measure;

const LA: &str = "America/Los_Angeles";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/health-auto-export/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn zone(name: &str) -> TimeZone {
    TimeZone::parse(name).unwrap_or_else(|_| panic!("a zone: {name}"))
}

fn read(body: &[u8], zone_name: &str) -> DeviceDays {
    let mut aggregator = DayAggregator::new(zone(zone_name));
    read_payload(body, zone(zone_name), &mut aggregator).unwrap_or_else(|e| panic!("{}", e.message()));
    aggregator.finish()
}

fn read_json(body: Value, zone_name: &str) -> DeviceDays {
    read(body.to_string().as_bytes(), zone_name)
}

fn value(days: &DeviceDays, on: &str, measure: Measure) -> Option<f64> {
    let day = Day::parse_ymd(on).unwrap_or_else(|| panic!("a day: {on}"));
    days.days.get(&day).and_then(|d| d.get(measure))
}

fn workouts(days: &DeviceDays, on: &str) -> bool {
    let day = Day::parse_ymd(on).unwrap_or_else(|| panic!("a day: {on}"));
    days.days.get(&day).is_some_and(|d| d.workouts)
}

fn metric(name: &str, units: &str, data: Value) -> Value {
    json!({"data": {"metrics": [{"name": name, "units": units, "data": data}]}})
}

#[test]
fn the_daily_fixture_gives_the_figures_its_notes_list() {
    let days = read(&fixture("daily.json"), LA);
    let d1 = "2024-06-01";
    assert_eq!(value(&days, d1, Measure::Steps), Some(9412.0));
    assert_eq!(value(&days, d1, Measure::ActiveEnergy), Some(514.0));
    assert_eq!(value(&days, d1, Measure::Calories), Some(2140.0));
    assert_eq!(value(&days, d1, Measure::WaterIntake), Some(7.4));
    assert_eq!(value(&days, d1, Measure::Weight), Some(74.3));
    assert_eq!(value(&days, d1, Measure::HeartRate), Some(73.0));
    assert_eq!(value(&days, d1, Measure::RestingHeartRate), Some(57.0));
    assert_eq!(value(&days, d1, Measure::Systolic), Some(121.0));
    assert_eq!(value(&days, d1, Measure::Diastolic), Some(79.0));
    assert_eq!(value(&days, d1, Measure::Sleep), Some(7.36));
    assert!(workouts(&days, d1));
    let d2 = "2024-06-02";
    assert_eq!(value(&days, d2, Measure::Steps), Some(3187.0));
    assert_eq!(value(&days, d2, Measure::ActiveEnergy), Some(168.0));
    assert_eq!(value(&days, d2, Measure::Calories), None);
    assert_eq!(value(&days, d2, Measure::WaterIntake), Some(2.1));
    assert_eq!(value(&days, d2, Measure::Weight), None);
    assert_eq!(value(&days, d2, Measure::HeartRate), Some(69.0));
    assert_eq!(value(&days, d2, Measure::RestingHeartRate), Some(58.0));
    assert_eq!(value(&days, d2, Measure::Systolic), None);
    assert_eq!(value(&days, d2, Measure::Sleep), Some(6.48));
    assert!(!workouts(&days, d2));
    assert_eq!(days.days.len(), 2);
    assert_eq!(days.tally.records_read, 16);
    assert_eq!(days.tally.records_used, 16);
    assert_eq!(days.tally.dropped, 0);
}

#[test]
fn the_finer_fixture_gives_the_figures_its_notes_list() {
    let days = read(&fixture("finer.json"), LA);
    let d = "2024-06-02";
    assert_eq!(
        value(&days, d, Measure::Steps),
        Some(1156.0),
        "the iPhone's, the device with the most"
    );
    assert_eq!(value(&days, "2024-06-03", Measure::Steps), Some(21.0));
    assert_eq!(value(&days, d, Measure::ActiveEnergy), Some(13.0));
    assert_eq!(value(&days, d, Measure::Calories), Some(1957.0));
    assert_eq!(value(&days, d, Measure::WaterIntake), Some(3.0));
    assert_eq!(value(&days, d, Measure::Weight), Some(74.9));
    assert_eq!(value(&days, d, Measure::RestingHeartRate), Some(58.0));
    assert_eq!(value(&days, d, Measure::Systolic), Some(118.0));
    assert_eq!(value(&days, d, Measure::Diastolic), Some(77.0));
    assert_eq!(value(&days, d, Measure::HeartRate), Some(77.0));
    assert_eq!(value(&days, d, Measure::Sleep), Some(6.5));
    assert!(workouts(&days, d));
    assert_eq!(days.tally.dropped, 0);
}

#[test]
fn sleep_aggregated_with_stages_is_total_sleep_on_the_day_it_ends() {
    let point = json!({"date": "2024-06-02 00:00:00 -0700", "totalSleep": 7.25, "asleep": 0, "core": 5,
        "deep": 1, "rem": 1.25, "awake": 0.5, "inBed": 0, "sleepStart": "2024-06-01 23:00:00 -0700",
        "sleepEnd": "2024-06-02 06:45:00 -0700", "source": "Apple Watch"});
    let days = read_json(metric("sleep_analysis", "hr", json!([point])), LA);
    assert_eq!(value(&days, "2024-06-02", Measure::Sleep), Some(7.25));
    assert_eq!(value(&days, "2024-06-01", Measure::Sleep), None);
    // Without totalSleep: the stages (awake excluded) summed.
    let point = json!({"date": "2024-06-02", "asleep": 0.5, "core": 5, "deep": 1, "rem": 1, "awake": 2});
    let days = read_json(metric("sleep_analysis", "hr", json!([point])), LA);
    assert_eq!(
        value(&days, "2024-06-02", Measure::Sleep),
        Some(7.5),
        "a bare date names the day"
    );
}

#[test]
fn sleep_before_stages_is_asleep() {
    let point = json!({"date": "2022-07-23 00:22:33 +0200", "asleep": 5.65, "inBed": 5.63,
        "sleepStart": "2022-07-23 00:17:49 +0200", "sleepEnd": "2022-07-23 05:59:19 +0200",
        "sleepSource": "Apple Watch", "inBedStart": "2022-07-23 00:22:33 +0200",
        "inBedEnd": "2022-07-23 06:00:11 +0200", "inBedSource": "iPhone"});
    let days = read_json(metric("sleep_analysis", "hr", json!([point])), "Europe/Berlin");
    assert_eq!(value(&days, "2022-07-23", Measure::Sleep), Some(5.65));
}

#[test]
fn sleep_unaggregated_merges_the_asleep_stages_only() {
    let data = json!([
        {"startDate": "2024-06-01 22:00:00 -0700", "endDate": "2024-06-02 07:00:00 -0700", "qty": 9, "value": "In Bed"},
        {"startDate": "2024-06-01 23:00:00 -0700", "endDate": "2024-06-02 01:00:00 -0700", "qty": 2, "value": "Core"},
        {"startDate": "2024-06-02 01:00:00 -0700", "endDate": "2024-06-02 01:30:00 -0700", "qty": 0.5, "value": "Awake"},
        {"startDate": "2024-06-02 01:30:00 -0700", "endDate": "2024-06-02 05:00:00 -0700", "qty": 3.5, "value": "Deep"},
        {"startDate": "2024-06-02 04:00:00 -0700", "endDate": "2024-06-02 06:00:00 -0700", "qty": 2, "value": "Asleep"},
        {"startDate": "2024-06-02 06:00:00 -0700", "endDate": "2024-06-02 06:15:00 -0700", "qty": 0.25, "value": "REM"},
        {"startDate": "2024-06-02 06:15:00 -0700", "endDate": "2024-06-02 06:30:00 -0700", "qty": 0.25, "value": "Unspecified"},
        {"startDate": "2024-06-02 06:30:00 -0700", "endDate": "2024-06-02 06:45:00 -0700", "qty": 0.25, "value": "Dreaming"}
    ]);
    let days = read_json(metric("sleep_analysis", "hr", data), LA);
    // 23:00–01:00 and 01:30–06:30.
    assert_eq!(value(&days, "2024-06-02", Measure::Sleep), Some(7.0));
    assert_eq!(days.tally.dropped, 1, "an unknown stage");
}

#[test]
fn workouts_of_either_version_mark_the_day_they_start() {
    let body = json!({"data": {"workouts": [
        {"id": "A", "name": "Running", "start": "2024-06-01 23:30:00 -0700", "end": "2024-06-02 00:10:00 -0700", "duration": 2400},
        {"name": "Walking", "start": "2024-06-03 08:00:00 -0700", "end": "2024-06-03 09:00:00 -0700",
         "activeEnergy": {"qty": 200, "units": "kcal"}, "heartRateData": [{"date": "2024-06-03 08:01:00 -0700", "qty": 90, "units": "count"}]},
        {"name": "No start"}
    ]}});
    let days = read_json(body, LA);
    assert!(workouts(&days, "2024-06-01"));
    assert!(!workouts(&days, "2024-06-02"));
    assert!(workouts(&days, "2024-06-03"));
    assert_eq!(
        value(&days, "2024-06-03", Measure::ActiveEnergy),
        None,
        "a v1 workout's total is not a metric"
    );
    assert_eq!(days.tally.dropped, 1);
}

#[test]
fn dates_local_with_offset_and_daily_midnights() {
    let la = zone(LA);
    // 23:30 at -0700 is the 1st in Los Angeles, the 2nd in UTC.
    assert_eq!(
        points::instant("2024-06-01 23:30:00 -0700", la),
        parse_timestamp(b"2024-06-02T06:30:00Z")
    );
    // A daily point at local midnight stands for its whole day: read at noon.
    assert_eq!(
        points::instant("2024-06-01 00:00:00 -0700", la),
        parse_timestamp(b"2024-06-01T19:00:00Z")
    );
    assert_eq!(
        points::instant("2024-06-01", la),
        parse_timestamp(b"2024-06-01T19:00:00Z")
    );
    assert_eq!(points::instant("01/06/2024", la), None);
    // Daily points of a phone at +1000 stay on their days for a user in Los Angeles.
    let body = metric(
        "step_count",
        "count",
        json!([
            {"date": "2026-05-04 00:00:00 +1000", "qty": 8000, "source": "iPhone"},
            {"date": "2026-05-05 00:00:00 +1000", "qty": 9000, "source": "iPhone"}
        ]),
    );
    let days = read_json(body, LA);
    assert_eq!(value(&days, "2026-05-03", Measure::Steps), Some(8000.0));
    assert_eq!(value(&days, "2026-05-04", Measure::Steps), Some(9000.0));
    let body = metric(
        "step_count",
        "count",
        json!([{"date": "2026-05-04 00:00:00 +1000", "qty": 8000}]),
    );
    let days = read_json(body, "Australia/Sydney");
    assert_eq!(value(&days, "2026-05-04", Measure::Steps), Some(8000.0));
}

use crate::devices::apple::parse_timestamp;

#[test]
fn units_are_compared_without_case_and_unknown_ones_dropped() {
    let body = json!({"data": {"metrics": [
        {"name": "dietary_water", "units": "ML", "data": [{"date": "2024-06-01 09:00:00 -0700", "qty": 473.18}]},
        {"name": "active_energy", "units": "KJ", "data": [{"date": "2024-06-01 09:00:00 -0700", "qty": 418.4}]},
        {"name": "weight_body_mass", "units": "furlongs", "data": [{"date": "2024-06-01 09:00:00 -0700", "qty": 1}]}
    ]}});
    let days = read_json(body, LA);
    assert_eq!(value(&days, "2024-06-01", Measure::WaterIntake), Some(2.0));
    assert_eq!(value(&days, "2024-06-01", Measure::ActiveEnergy), Some(100.0));
    assert_eq!(value(&days, "2024-06-01", Measure::Weight), None);
    assert_eq!(days.tally.dropped, 1);
}

#[test]
fn other_metrics_are_counted_by_name_and_bad_points_dropped() {
    let body = json!({"data": {"metrics": [
        {"name": "flights_climbed", "units": "count", "data": [{"date": "2024-06-01 09:00:00 -0700", "qty": 3}, {"date": "2024-06-01 10:00:00 -0700", "qty": 1}]},
        {"name": "step_count", "units": "count", "data": [
            {"date": "2024-06-01 09:00:00 -0700", "qty": "many"},
            {"date": "yesterday", "qty": 5},
            {"date": "2024-06-01 09:00:00 -0700"},
            7,
            {"date": "2024-06-01 09:00:00 -0700", "qty": 500}
        ]},
        {"name": "blood_pressure", "units": "mmHg", "data": [{"date": "2024-06-01 09:00:00 -0700", "systolic": 120}]}
    ], "stateOfMind": [{"kind": "x"}]}});
    let days = read_json(body, LA);
    assert_eq!(days.tally.skipped_types.get("flights_climbed"), Some(&2));
    assert_eq!(days.tally.dropped, 5);
    assert_eq!(days.tally.records_used, 1);
    assert_eq!(value(&days, "2024-06-01", Measure::Steps), Some(500.0));
}

#[test]
fn not_the_payload_shape_is_refused() {
    for bad in [
        &b"not json"[..],
        b"[]",
        b"{}",
        b"{\"data\": []}",
        b"{\"data\": {\"metrics\": {}}}",
        b"{\"data\": {\"metrics\": [{\"name\": \"step_count\"}]}}",
        b"{\"data\": {\"metrics\": [{\"name\": 3, \"data\": []}]}}",
        b"{\"data\": {\"workouts\": 3}}",
        b"{\"data\": {\"metrics\": [",
    ] {
        let mut aggregator = DayAggregator::new(TimeZone::UTC);
        let refused = read_payload(bad, TimeZone::UTC, &mut aggregator);
        assert!(refused.is_err(), "{}", String::from_utf8_lossy(bad));
    }
    // Either array may be absent: an automation exports one data type.
    assert!(read_json(json!({"data": {}}), "UTC").days.is_empty());
}
