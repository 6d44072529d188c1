//! The domain: types that can only hold valid values, parsed once at the edge ("parse, don't
//! validate"). Nothing here knows about HTTP or storage.

pub mod clock;
pub mod coach;
pub mod dashboard;
pub mod day;
pub mod entry;
pub mod export;
pub mod fhir;
pub mod goals;
pub mod ids;
pub mod numbers;
pub mod stats;
pub mod text;
pub mod timezone;
pub mod user;
pub mod validation;
