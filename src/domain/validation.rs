//! Validation failures in the shape express-validator produced (`{path,msg,value}`), collected so that
//! one response lists every failing field, and the small readers that turn loosely-typed JSON (numbers
//! as strings, blanks from HTML forms) into typed values. Each field's rule lives with its type in
//! `user.rs` / `entry.rs`; this module only knows how to read and report.

use serde::Serialize;
use serde_json::Value;

/// One failing field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub msg: String,
    /// What was sent; omitted for secrets such as passwords.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// Every failing field of one request.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<String>, msg: impl Into<String>, value: Option<&Value>) {
        self.0.push(FieldError {
            path: path.into(),
            msg: msg.into(),
            value: value.cloned(),
        });
    }

    /// Records a failure without echoing the value (passwords, tokens).
    pub fn add_secret(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.add(path, msg, None);
    }

    /// Runs a field reader, recording its failure under `path`.
    pub fn check<T>(&mut self, path: &str, value: &Value, read: impl FnOnce(&Value) -> Result<T, String>) -> Option<T> {
        match read(value) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.add(path, msg, Some(value));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing failed.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() { Ok(value()) } else { Err(self.0) }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// The JSON object a request body must be.
pub fn body_object(body: &Value) -> Result<&serde_json::Map<String, Value>, Vec<FieldError>> {
    body.as_object().ok_or_else(|| {
        vec![FieldError {
            path: String::new(),
            msg: "Request body must be a JSON object".into(),
            value: None,
        }]
    })
}

/// A field that was supplied: present, not `null`, and not a blank string (what an HTML form sends
/// for an empty input counts as absent).
pub fn supplied<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    match object.get(key)? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        v => Some(v),
    }
}

/// Reads an integer sent as a JSON number or a numeric string; fractions are refused.
pub fn integer_in(value: &Value, min: i64, max: i64, what: &str) -> Result<i64, String> {
    let msg = || format!("{what} must be an integer between {min} and {max}");
    let n = match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i as f64,
            None => n.as_f64().ok_or_else(msg)?,
        },
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| msg())?,
        _ => return Err(msg()),
    };
    if !n.is_finite() || n.fract() != 0.0 || n < min as f64 || n > max as f64 {
        return Err(msg());
    }
    Ok(n as i64)
}

/// Reads a finite number sent as a JSON number or a numeric string.
pub fn number_in(value: &Value, min: f64, max: f64, what: &str) -> Result<f64, String> {
    let msg = || format!("{what} must be a number between {min} and {max}");
    let n = match value {
        Value::Number(n) => n.as_f64().ok_or_else(msg)?,
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| msg())?,
        _ => return Err(msg()),
    };
    if !n.is_finite() || n < min || n > max {
        return Err(msg());
    }
    Ok(n)
}

/// Reads a boolean: JSON booleans, `"true"`/`"false"`, and 0/1 as number or string (what
/// express-validator's `isBoolean` accepted).
pub fn boolean(value: &Value, what: &str) -> Result<bool, String> {
    let msg = || format!("{what} must be a boolean");
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(msg()),
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(msg()),
        },
        _ => Err(msg()),
    }
}

/// Reads a string; other JSON types are refused rather than stringified.
pub fn string<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| format!("{what} must be a string"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_accept_numeric_strings_and_refuse_fractions() {
        assert_eq!(integer_in(&json!("2000"), 0, 10000, "calories"), Ok(2000));
        assert_eq!(integer_in(&json!(2000), 0, 10000, "calories"), Ok(2000));
        assert_eq!(integer_in(&json!(2000.0), 0, 10000, "calories"), Ok(2000));
        assert!(integer_in(&json!(20.5), 0, 10000, "calories").is_err());
        assert!(integer_in(&json!("20.5"), 0, 10000, "calories").is_err());
        assert!(integer_in(&json!(-1), 0, 10000, "calories").is_err());
        assert!(integer_in(&json!(10001), 0, 10000, "calories").is_err());
        assert!(integer_in(&json!("abc"), 0, 10000, "calories").is_err());
        assert!(integer_in(&json!(true), 0, 10000, "calories").is_err());
        assert!(integer_in(&json!("NaN"), 0, 10000, "calories").is_err());
        assert!(integer_in(&json!("1e400"), 0, 10000, "calories").is_err());
    }

    #[test]
    fn numbers_accept_fractions_within_range() {
        assert_eq!(number_in(&json!("7.5"), 0.0, 24.0, "sleep"), Ok(7.5));
        assert!(number_in(&json!(24.01), 0.0, 24.0, "sleep").is_err());
        assert!(number_in(&json!("inf"), 0.0, 24.0, "sleep").is_err());
    }

    #[test]
    fn blanks_count_as_absent() {
        let object = json!({"a": "", "b": "  ", "c": null, "d": 0})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(supplied(&object, "a").is_none());
        assert!(supplied(&object, "b").is_none());
        assert!(supplied(&object, "c").is_none());
        assert!(supplied(&object, "d").is_some());
        assert!(supplied(&object, "missing").is_none());
    }

    #[test]
    fn booleans_accept_form_values() {
        assert_eq!(boolean(&json!("true"), "workouts"), Ok(true));
        assert_eq!(boolean(&json!("0"), "workouts"), Ok(false));
        assert_eq!(boolean(&json!(1), "workouts"), Ok(true));
        assert!(boolean(&json!("yes please"), "workouts").is_err());
    }
}
