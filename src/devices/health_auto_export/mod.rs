//! Health Auto Export's REST API payload (docs/health-auto-export-format.md) as samples for the one
//! mapping: `{"data": {"metrics": [{name, units, data: [point, …]}], "workouts": [workout, …]}}`.
//! The outer shape must hold (400 otherwise, nothing read); each point is read on its own, so a
//! point that cannot be read is dropped (counted) and the rest of the push kept.

mod points;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use self::points::{Point, Workout};
use super::aggregate::DayAggregator;
use super::sample::{Metric, Sample};
use crate::domain::timezone::TimeZone;

/// Why a push is refused (400).
#[derive(Debug)]
pub struct NotAPayload(String);

impl NotAPayload {
    pub fn message(&self) -> String {
        format!(
            "Not a Health Auto Export payload (expected {{\"data\": {{\"metrics\": [...], \"workouts\": [...]}}}}): {}",
            self.0
        )
    }
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

/// Each automation exports one data type, so either array may be absent; the other arrays the app
/// may send (`stateOfMind`, `medications`, …) are not read.
#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default)]
    metrics: Option<Vec<RawMetric<'a>>>,
    #[serde(borrow, default)]
    workouts: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct RawMetric<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    units: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
}

/// What a metric's points are read as.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// `{date, qty, source}`; for heart rate `{date, Min, Avg, Max, source}` (`Avg` read).
    Quantity(Metric),
    BloodPressure,
    Sleep,
}

/// The metric names the mapping uses (API.md "Data from devices").
fn kind(name: &str) -> Option<Kind> {
    Some(match name {
        "step_count" => Kind::Quantity(Metric::Steps),
        "heart_rate" => Kind::Quantity(Metric::HeartRate),
        "resting_heart_rate" => Kind::Quantity(Metric::RestingHeartRate),
        "weight_body_mass" => Kind::Quantity(Metric::BodyMass),
        "dietary_water" => Kind::Quantity(Metric::Water),
        "active_energy" => Kind::Quantity(Metric::ActiveEnergy),
        "dietary_energy" => Kind::Quantity(Metric::DietaryEnergy),
        "blood_pressure" => Kind::BloodPressure,
        "sleep_analysis" => Kind::Sleep,
        _ => return None,
    })
}

/// Reads `body` into `aggregator`. `zone` places a bare `yyyy-MM-dd` date (the documentation's
/// spelling of a sleep night's date) at noon of that day in the user's zone.
pub fn read_payload(body: &[u8], zone: TimeZone, aggregator: &mut DayAggregator) -> Result<(), NotAPayload> {
    let not_a_payload = |error: serde_json::Error| NotAPayload(error.to_string());
    // serde would also read a struct from an array: the payload and its `data` are objects.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(NotAPayload("the body is not a JSON object".into()));
    }
    let payload: Payload<'_> = serde_json::from_slice(body).map_err(not_a_payload)?;
    if !payload.data.get().starts_with('{') {
        return Err(NotAPayload("`data` is not an object".into()));
    }
    let data: Data<'_> = serde_json::from_str(payload.data.get()).map_err(not_a_payload)?;
    for metric in data.metrics.unwrap_or_default() {
        let Some(kind) = kind(&metric.name) else {
            for _ in &metric.data {
                aggregator.add(Sample::Skipped { kind: &metric.name });
            }
            continue;
        };
        let unit = points::canonical_unit(metric.units.as_deref().unwrap_or(""));
        for raw in metric.data {
            match serde_json::from_str::<Point<'_>>(raw.get()) {
                Ok(point) => point.feed(kind, unit, zone, aggregator),
                Err(_) => aggregator.add(Sample::Unreadable),
            }
        }
    }
    for raw in data.workouts.unwrap_or_default() {
        let start = serde_json::from_str::<Workout<'_>>(raw.get())
            .ok()
            .and_then(|workout| points::instant(workout.start.as_deref()?, zone));
        aggregator.add(match start {
            Some(start) => Sample::Workout { start },
            None => Sample::Unreadable,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
