//! Data from devices (API.md "Data from devices"): one mapping, several readers. A reader turns its
//! format into [`Sample`]s (the Apple Health export: [`apple`]); the [`DayAggregator`] applies every
//! rule of the mapping per day in the user's time zone; [`write_days`] puts the days on the stored
//! entries (`fill` or `replace`), through the storage traits.

pub mod aggregate;
pub mod apple;
pub mod health_auto_export;
pub mod sample;
pub mod write;

pub use self::aggregate::{DayAggregator, DeviceDay, DeviceDays, Tally};
pub use self::sample::{Metric, Sample, SleepStage};
pub use self::write::{DeviceConflict, WriteCounts, merge, write_days};
