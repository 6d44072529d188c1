//! Numbers as JavaScript writes them: a whole `f64` is `7`, not `7.0`, so documents read exactly as
//! the old backend's did.

use serde::Serializer;

/// The largest integer an f64 (and JavaScript) represents exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

pub fn serialize_js_number<S: Serializer>(n: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        serializer.serialize_i64(*n as i64)
    } else {
        serializer.serialize_f64(*n)
    }
}

/// The same as text (the CSV export): `7`, `7.5`.
pub fn js_number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        (n as i64).to_string()
    } else {
        n.to_string()
    }
}

/// An optional number as JavaScript writes it, `null` when absent.
pub fn serialize_optional_js_number<S: Serializer>(n: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => serialize_js_number(n, serializer),
        None => serializer.serialize_none(),
    }
}
