//! One test per rule of API.md's "Data from devices" mapping.

use super::*;
use crate::devices::apple::parse_timestamp;

fn at(text: &str) -> i64 {
    parse_timestamp(text.as_bytes()).unwrap_or_else(|| panic!("a timestamp: {text}"))
}

fn zone(name: &str) -> TimeZone {
    TimeZone::parse(name).unwrap_or_else(|_| panic!("a zone: {name}"))
}

fn day(text: &str) -> Day {
    Day::parse_ymd(text).unwrap_or_else(|| panic!("a day: {text}"))
}

fn quantity<'a>(metric: Metric, value: f64, unit: &'a str, start: &str, source: &'a str) -> Sample<'a> {
    Sample::Quantity {
        metric,
        value,
        unit,
        start: at(start),
        end: at(start) + 60,
        source,
    }
}

fn run(zone_name: &str, samples: &[Sample<'_>]) -> DeviceDays {
    let mut aggregator = DayAggregator::new(zone(zone_name));
    for sample in samples {
        aggregator.add(*sample);
    }
    aggregator.finish()
}

fn value(days: &DeviceDays, on: &str, measure: Measure) -> Option<f64> {
    days.days.get(&day(on)).and_then(|d| d.get(measure))
}

#[test]
fn steps_of_phone_and_watch_on_one_day_are_the_busier_device_never_their_sum() {
    let days = run(
        "UTC",
        &[
            quantity(Metric::Steps, 3000.0, "count", "2024-06-01 09:00:00 +0000", "iPhone"),
            quantity(
                Metric::Steps,
                2500.0,
                "count",
                "2024-06-01 09:00:00 +0000",
                "Apple Watch",
            ),
            quantity(
                Metric::Steps,
                4000.0,
                "count",
                "2024-06-01 18:00:00 +0000",
                "Apple Watch",
            ),
            quantity(Metric::Steps, 1000.0, "count", "2024-06-01 19:00:00 +0000", "iPhone"),
        ],
    );
    // Phone 4,000, watch 6,500: the watch's day, not 10,500.
    assert_eq!(value(&days, "2024-06-01", Measure::Steps), Some(6500.0));
    assert_eq!(days.tally.records_used, 4);
}

#[test]
fn sleep_across_midnight_counts_on_the_day_it_ends() {
    let days = run(
        "UTC",
        &[Sample::Sleep {
            stage: SleepStage::Asleep,
            start: at("2024-06-01 23:00:00 +0000"),
            end: at("2024-06-02 06:30:00 +0000"),
        }],
    );
    assert_eq!(value(&days, "2024-06-02", Measure::Sleep), Some(7.5));
    assert_eq!(value(&days, "2024-06-01", Measure::Sleep), None);
}

#[test]
fn overlapping_sleep_from_two_sources_is_merged_not_added() {
    let asleep = |start: &str, end: &str| Sample::Sleep {
        stage: SleepStage::Asleep,
        start: at(start),
        end: at(end),
    };
    let days = run(
        "UTC",
        &[
            // The watch's stages and the phone's estimate of the same night.
            asleep("2024-06-01 23:00:00 +0000", "2024-06-02 03:00:00 +0000"),
            asleep("2024-06-02 03:00:00 +0000", "2024-06-02 06:00:00 +0000"),
            asleep("2024-06-01 23:30:00 +0000", "2024-06-02 06:30:00 +0000"),
            // A nap that afternoon, apart.
            asleep("2024-06-02 14:00:00 +0000", "2024-06-02 14:30:00 +0000"),
        ],
    );
    assert_eq!(value(&days, "2024-06-02", Measure::Sleep), Some(8.0));
}

#[test]
fn in_bed_and_awake_are_not_sleep() {
    let days = run(
        "UTC",
        &[
            Sample::Sleep {
                stage: SleepStage::InBed,
                start: at("2024-06-01 22:00:00 +0000"),
                end: at("2024-06-02 07:00:00 +0000"),
            },
            Sample::Sleep {
                stage: SleepStage::Awake,
                start: at("2024-06-02 02:00:00 +0000"),
                end: at("2024-06-02 02:30:00 +0000"),
            },
        ],
    );
    assert_eq!(value(&days, "2024-06-02", Measure::Sleep), None);
    assert_eq!(days.tally.records_read, 2);
}

#[test]
fn heart_rate_is_the_rounded_mean() {
    let days = run(
        "UTC",
        &[
            quantity(
                Metric::HeartRate,
                60.0,
                "count/min",
                "2024-06-01 08:00:00 +0000",
                "Watch",
            ),
            quantity(
                Metric::HeartRate,
                71.0,
                "count/min",
                "2024-06-01 12:00:00 +0000",
                "Watch",
            ),
        ],
    );
    assert_eq!(value(&days, "2024-06-01", Measure::HeartRate), Some(66.0));
}

#[test]
fn resting_heart_rate_is_the_last_of_the_day_by_time_not_file_order() {
    let days = run(
        "UTC",
        &[
            quantity(
                Metric::RestingHeartRate,
                58.0,
                "count/min",
                "2024-06-01 20:00:00 +0000",
                "Watch",
            ),
            quantity(
                Metric::RestingHeartRate,
                62.0,
                "count/min",
                "2024-06-01 07:00:00 +0000",
                "Watch",
            ),
        ],
    );
    assert_eq!(value(&days, "2024-06-01", Measure::RestingHeartRate), Some(58.0));
}

#[test]
fn weight_is_the_last_of_the_day_in_kilograms_from_pounds() {
    let days = run(
        "UTC",
        &[
            quantity(Metric::BodyMass, 80.0, "kg", "2024-06-01 07:00:00 +0000", "Scale"),
            quantity(Metric::BodyMass, 170.0, "lb", "2024-06-01 21:00:00 +0000", "Scale"),
        ],
    );
    // 170 lb = 77.11 kg.
    assert_eq!(value(&days, "2024-06-01", Measure::Weight), Some(77.11));
}

#[test]
fn blood_pressure_is_the_last_pair_of_the_day() {
    let days = run(
        "UTC",
        &[
            Sample::BloodPressure {
                systolic: 135.0,
                diastolic: 88.0,
                at: at("2024-06-01 20:00:00 +0000"),
            },
            Sample::BloodPressure {
                systolic: 121.0,
                diastolic: 78.0,
                at: at("2024-06-01 08:00:00 +0000"),
            },
        ],
    );
    assert_eq!(value(&days, "2024-06-01", Measure::Systolic), Some(135.0));
    assert_eq!(value(&days, "2024-06-01", Measure::Diastolic), Some(88.0));
}

#[test]
fn active_energy_is_summed_and_kilojoules_become_kilocalories() {
    let days = run(
        "UTC",
        &[
            quantity(
                Metric::ActiveEnergy,
                200.0,
                "kcal",
                "2024-06-01 08:00:00 +0000",
                "Watch",
            ),
            quantity(Metric::ActiveEnergy, 836.8, "kJ", "2024-06-01 12:00:00 +0000", "Watch"),
        ],
    );
    assert_eq!(value(&days, "2024-06-01", Measure::ActiveEnergy), Some(400.0));
}

#[test]
fn calories_are_the_dietary_energy_summed() {
    let days = run(
        "UTC",
        &[
            quantity(
                Metric::DietaryEnergy,
                650.0,
                "kcal",
                "2024-06-01 08:00:00 +0000",
                "MyFitnessPal",
            ),
            quantity(
                Metric::DietaryEnergy,
                4184.0,
                "kJ",
                "2024-06-01 13:00:00 +0000",
                "MyFitnessPal",
            ),
        ],
    );
    assert_eq!(value(&days, "2024-06-01", Measure::Calories), Some(1650.0));
}

#[test]
fn water_is_summed_in_cups_from_millilitres_litres_and_us_fluid_ounces() {
    let days = run(
        "UTC",
        &[
            quantity(Metric::Water, 500.0, "mL", "2024-06-01 08:00:00 +0000", "WaterMinder"),
            quantity(Metric::Water, 0.25, "L", "2024-06-01 12:00:00 +0000", "WaterMinder"),
            quantity(
                Metric::Water,
                16.0,
                "fl_oz_us",
                "2024-06-01 16:00:00 +0000",
                "WaterMinder",
            ),
        ],
    );
    // 500 + 250 + 473.18 mL = 1223.18 mL = 5.17 cups → 5.2.
    assert_eq!(value(&days, "2024-06-01", Measure::WaterIntake), Some(5.2));
}

#[test]
fn a_workout_marks_the_day_it_starts() {
    let days = run(
        "UTC",
        &[Sample::Workout {
            start: at("2024-06-01 23:30:00 +0000"),
        }],
    );
    assert!(days.days.get(&day("2024-06-01")).is_some_and(|d| d.workouts));
    assert!(!days.days.contains_key(&day("2024-06-02")));
}

#[test]
fn other_types_are_counted_by_type() {
    let days = run(
        "UTC",
        &[
            Sample::Skipped {
                kind: "HKQuantityTypeIdentifierFlightsClimbed",
            },
            Sample::Skipped {
                kind: "HKQuantityTypeIdentifierFlightsClimbed",
            },
            Sample::Skipped {
                kind: "ActivitySummary",
            },
        ],
    );
    assert_eq!(
        days.tally.skipped_types.get("HKQuantityTypeIdentifierFlightsClimbed"),
        Some(&2)
    );
    assert_eq!(days.tally.skipped_types.get("ActivitySummary"), Some(&1));
    assert_eq!((days.tally.records_read, days.tally.records_used), (3, 0));
    assert!(days.days.is_empty());
}

#[test]
fn a_value_outside_its_rule_is_dropped_and_the_rest_of_its_day_kept() {
    let days = run(
        "UTC",
        &[
            quantity(
                Metric::HeartRate,
                250.0,
                "count/min",
                "2024-06-01 08:00:00 +0000",
                "Watch",
            ),
            quantity(Metric::BodyMass, 900.0, "kg", "2024-06-01 08:00:00 +0000", "Scale"),
            quantity(Metric::Steps, 8000.0, "count", "2024-06-01 08:00:00 +0000", "iPhone"),
            Sample::BloodPressure {
                systolic: 80.0,
                diastolic: 120.0,
                at: at("2024-06-01 09:00:00 +0000"),
            },
        ],
    );
    assert_eq!(value(&days, "2024-06-01", Measure::HeartRate), None);
    assert_eq!(value(&days, "2024-06-01", Measure::Weight), None);
    assert_eq!(value(&days, "2024-06-01", Measure::Systolic), None);
    assert_eq!(value(&days, "2024-06-01", Measure::Steps), Some(8000.0));
    assert_eq!(days.tally.dropped, 3);
}

#[test]
fn an_unknown_unit_or_a_negative_amount_is_dropped() {
    let days = run(
        "UTC",
        &[
            quantity(
                Metric::Water,
                3.0,
                "gallon_imperial_bucket",
                "2024-06-01 08:00:00 +0000",
                "App",
            ),
            quantity(Metric::Steps, -50.0, "count", "2024-06-01 08:00:00 +0000", "App"),
            Sample::Unreadable,
        ],
    );
    assert!(days.days.is_empty());
    assert_eq!(days.tally.dropped, 3);
}

#[test]
fn the_users_time_zone_decides_the_day() {
    // 23:30 in California is 06:30 UTC the next day and 08:30 in Paris.
    let samples = [quantity(
        Metric::Steps,
        1200.0,
        "count",
        "2024-06-01 23:30:00 -0700",
        "iPhone",
    )];
    let los_angeles = run("America/Los_Angeles", &samples);
    assert_eq!(value(&los_angeles, "2024-06-01", Measure::Steps), Some(1200.0));
    let paris = run("Europe/Paris", &samples);
    assert_eq!(value(&paris, "2024-06-02", Measure::Steps), Some(1200.0));
    assert_eq!(value(&paris, "2024-06-01", Measure::Steps), None);
}
