//! What a device reader hands the mapping: samples in the device's own units, with their times and
//! their source. Readers (the Apple Health export, Health Auto Export's JSON) only translate their
//! format into these; every rule of API.md's "Data from devices" is applied by the aggregator.

/// A numeric metric the mapping uses, whatever the reader calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    Steps,
    HeartRate,
    RestingHeartRate,
    BodyMass,
    ActiveEnergy,
    DietaryEnergy,
    Water,
}

impl Metric {
    /// The value in the field's unit (count, beats per minute, kg, kcal, cups), or `None` for a unit
    /// this metric is never measured in.
    pub fn convert(self, value: f64, unit: &str) -> Option<f64> {
        if !value.is_finite() {
            return None;
        }
        let unit = unit.trim();
        let factor = match self {
            Metric::Steps => match unit {
                "count" | "" | "steps" => 1.0,
                _ => return None,
            },
            Metric::HeartRate | Metric::RestingHeartRate => match unit {
                "count/min" | "bpm" | "" => 1.0,
                "count/s" => 60.0,
                _ => return None,
            },
            Metric::BodyMass => match unit {
                "kg" => 1.0,
                "lb" | "lbs" => KG_PER_LB,
                "g" => 0.001,
                "st" => KG_PER_STONE,
                _ => return None,
            },
            Metric::ActiveEnergy | Metric::DietaryEnergy => match unit {
                "kcal" | "Cal" => 1.0,
                "kJ" => 1.0 / KJ_PER_KCAL,
                "cal" => 0.001,
                "J" => 0.001 / KJ_PER_KCAL,
                _ => return None,
            },
            Metric::Water => match unit {
                "mL" | "ml" => 1.0 / ML_PER_CUP,
                "L" | "l" => 1000.0 / ML_PER_CUP,
                "dL" => 100.0 / ML_PER_CUP,
                "fl_oz_us" | "fl oz" | "fl_oz" => ML_PER_FL_OZ_US / ML_PER_CUP,
                "fl_oz_imp" => ML_PER_FL_OZ_IMP / ML_PER_CUP,
                "cup_us" | "cup" => 1.0,
                _ => return None,
            },
        };
        Some(value * factor)
    }
}

/// API.md: 1 cup = 236.59 mL.
pub const ML_PER_CUP: f64 = 236.59;
pub const ML_PER_FL_OZ_US: f64 = 29.573_529_562_5;
pub const ML_PER_FL_OZ_IMP: f64 = 28.413_062_5;
/// The international avoirdupois pound.
pub const KG_PER_LB: f64 = 0.453_592_37;
pub const KG_PER_STONE: f64 = 6.350_293_18;
/// The thermochemical calorie.
pub const KJ_PER_KCAL: f64 = 4.184;

/// A sleep analysis stage: only the asleep ones count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SleepStage {
    /// `Asleep`, `AsleepCore`, `AsleepDeep`, `AsleepREM`, `AsleepUnspecified`.
    Asleep,
    InBed,
    Awake,
}

/// One measurement, in seconds since the Unix epoch (the aggregator places it in the user's zone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample<'a> {
    /// A numeric value in `unit`, over `start..end`; counted on the day it starts (the last of a
    /// day: the one ending last).
    Quantity {
        metric: Metric,
        value: f64,
        unit: &'a str,
        start: i64,
        end: i64,
        /// The app or device that recorded it (steps are never summed across sources).
        source: &'a str,
    },
    /// A sleep analysis interval.
    Sleep { stage: SleepStage, start: i64, end: i64 },
    /// A blood pressure reading (mmHg), taken at `at`.
    BloodPressure { systolic: f64, diastolic: f64, at: i64 },
    /// A workout, counted on the day it starts.
    Workout { start: i64 },
    /// A record of a type the mapping does not use: counted in `skippedTypes`.
    Skipped { kind: &'a str },
    /// A record of a used type whose value, unit or dates cannot be read: counted as dropped.
    Unreadable,
}
