//! Validation failures in the shape express-validator produced (`{path,msg,value}`), collected so that
//! one response lists every failing field, and the small readers that turn loosely-typed JSON (numbers
//! as strings, blanks from HTML forms) into typed values. The rule types (`IntegerRule`,
//! `DecimalRule`, `TextRule`) are defined here, with the patterns the API documentation derives
//! from them; each field's rule values live with its type in `user.rs`, `entry/rules.rs` and
//! `coach.rs`. The checks themselves are `validator`'s (`ValidateRange`, `ValidateLength`); what is
//! ours is reading the lenient legacy input (digit strings, blanks) into a value to check.

use serde::Serialize;
use serde_json::Value;
use validator::{ValidateLength, ValidateRange};

use super::day::Day;

/// One failing field.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

    /// A query parameter holding a calendar day (`YYYY-MM-DD`): `None` when absent, `Some(None)`
    /// when given but not a day (recorded under `name`).
    pub fn query_day(&mut self, name: &str, raw: Option<&str>) -> Option<Option<Day>> {
        let raw = raw?;
        let day = Day::parse_ymd(raw);
        if day.is_none() {
            self.add(
                name,
                format!("{name} must be a date in YYYY-MM-DD format, from 0001-01-01 to 9999-12-31"),
                Some(&Value::from(raw)),
            );
        }
        Some(day)
    }

    /// A query parameter holding a count of 1 to `max`: `None` when absent, `Some(None)` when
    /// given but out of range or not an integer (recorded under `name`).
    pub fn query_count(&mut self, name: &str, raw: Option<&str>, max: u32) -> Option<Option<u32>> {
        let raw = raw?;
        let count = raw.parse::<u32>().ok().filter(|n| (1..=max).contains(n));
        if count.is_none() {
            self.add(
                name,
                format!("{name} must be an integer between 1 and {max}"),
                Some(&Value::from(raw)),
            );
        }
        Some(count)
    }

    /// `Ok(value)` when nothing failed.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() { Ok(value()) } else { Err(self.0) }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// Why a body that is valid JSON but not an object is refused.
pub const NOT_AN_OBJECT: &str = "Request body must be a JSON object";

/// The JSON object a request body must be.
pub fn body_object(body: &Value) -> Result<&serde_json::Map<String, Value>, Vec<FieldError>> {
    body.as_object().ok_or_else(|| {
        vec![FieldError {
            path: String::new(),
            msg: NOT_AN_OBJECT.into(),
            value: None,
        }]
    })
}

/// A field that was supplied: present and neither `null` nor `""` (what an HTML form sends for an
/// empty input counts as absent).
pub fn supplied<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    match object.get(key)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        v => Some(v),
    }
}

/// An integer field: a JSON integer (a number with no fraction) or a string of ASCII digits, within
/// `min..=max`. The API documentation derives its schema (including the digit-string pattern) from this
/// rule, so the two cannot disagree.
#[derive(Clone, Copy, Debug)]
pub struct IntegerRule {
    pub label: &'static str,
    pub min: u64,
    pub max: u64,
}

impl IntegerRule {
    /// `0..=max`.
    pub const fn up_to(label: &'static str, max: u64) -> Self {
        Self { label, min: 0, max }
    }

    pub fn message(&self) -> String {
        format!(
            "{} must be an integer between {} and {}",
            self.label, self.min, self.max
        )
    }

    pub fn read(&self, value: &Value) -> Result<i64, String> {
        let n = match value {
            Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                (Some(u), _) => Some(u),
                (None, Some(f)) if f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&f) => Some(f as u64),
                _ => None,
            },
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                let digits = s.trim_start_matches('0');
                if digits.len() > 19 {
                    Some(u64::MAX)
                } else {
                    Some(digits.parse::<u64>().unwrap_or(0))
                }
            }
            _ => None,
        };
        match n {
            Some(n) if n.validate_range(Some(self.min), Some(self.max), None, None) => Ok(n as i64),
            _ => Err(self.message()),
        }
    }

    /// The digit strings `read` accepts, as a regular expression.
    pub fn string_pattern(&self) -> String {
        format!("^0*(?:{})$", range_alternatives(self.min, self.max))
    }
}

/// A decimal field: a JSON number or a string like `7` or `7.5`, within `min..=max` (both whole).
#[derive(Clone, Copy, Debug)]
pub struct DecimalRule {
    pub label: &'static str,
    pub min: u64,
    pub max: u64,
}

impl DecimalRule {
    /// `0..=max`.
    pub const fn up_to(label: &'static str, max: u64) -> Self {
        Self { label, min: 0, max }
    }

    pub fn message(&self) -> String {
        format!("{} must be a number between {} and {}", self.label, self.min, self.max)
    }

    pub fn read(&self, value: &Value) -> Result<f64, String> {
        let n = match value {
            Value::Number(n) => n.as_f64().filter(|f| {
                f.is_finite() && f.validate_range(Some(self.min as f64), Some(self.max as f64), None, None)
            }),
            Value::String(s) => self.read_str(s),
            _ => None,
        };
        n.ok_or_else(|| self.message())
    }

    /// Exact decimal comparison on the text, so `24.0000000000000001` is refused like the pattern does.
    fn read_str(&self, s: &str) -> Option<f64> {
        let (whole, fraction) = match s.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (s, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
            return None;
        }
        let whole_value = IntegerRule {
            label: "",
            min: self.min,
            max: self.max,
        }
        .read(&Value::from(whole))
        .ok()? as u64;
        if whole_value == self.max && fraction.is_some_and(|f| f.bytes().any(|b| b != b'0')) {
            return None;
        }
        s.parse::<f64>().ok()
    }

    pub fn string_pattern(&self) -> String {
        let exact = format!("{}(?:\\.0+)?", self.max);
        if self.max == self.min {
            format!("^0*(?:{exact})$")
        } else {
            format!(
                "^0*(?:(?:{})(?:\\.[0-9]+)?|{exact})$",
                range_alternatives(self.min, self.max - 1)
            )
        }
    }
}

/// Alternatives matching the whole numbers `min..=max` written without leading zeros.
fn range_alternatives(min: u64, max: u64) -> String {
    let mut alternatives = Vec::new();
    let (mut low, digits_max) = (min, max.to_string().len() as u32);
    // One run of equal-length numbers at a time: 0–9, 10–99, … clipped to the range.
    for digits in min.to_string().len() as u32..=digits_max {
        let high = (10u64.pow(digits) - 1).min(max);
        if low <= high {
            same_length(&low.to_string(), &high.to_string(), &mut alternatives);
        }
        low = 10u64.pow(digits);
    }
    alternatives.join("|")
}

/// Alternatives matching the numbers `low..=high` of the same number of digits.
fn same_length(low: &str, high: &str, out: &mut Vec<String>) {
    let rest = low.len() - 1;
    let any = |n: usize| if n > 0 { format!("[0-9]{{{n}}}") } else { String::new() };
    let (Some(a), Some(b)) = (low.chars().next(), high.chars().next()) else {
        return;
    };
    let digit = |c: char| c.to_digit(10).unwrap_or(0);
    if a == b {
        let mut tails = Vec::new();
        if rest == 0 {
            out.push(a.to_string());
            return;
        }
        same_length(&low[1..], &high[1..], &mut tails);
        out.extend(tails.into_iter().map(|tail| format!("{a}{tail}")));
        return;
    }
    if rest == 0 {
        out.push(format!("[{a}-{b}]"));
        return;
    }
    // `a` then at least the rest of `low`; the digits between with anything; `b` then at most the
    // rest of `high`.
    let nines = "9".repeat(rest);
    let zeros = "0".repeat(rest);
    let mut edge = Vec::new();
    same_length(&low[1..], &nines, &mut edge);
    out.extend(edge.drain(..).map(|tail| format!("{a}{tail}")));
    if digit(b) > digit(a) + 1 {
        out.push(format!("[{}-{}]{}", digit(a) + 1, digit(b) - 1, any(rest)));
    }
    same_length(&zeros, &high[1..], &mut edge);
    out.extend(edge.into_iter().map(|tail| format!("{b}{tail}")));
}

/// Free text: sanitized, then `min..=max` characters; the raw input may not exceed `max` either.
#[derive(Clone, Copy, Debug)]
pub struct TextRule {
    pub label: &'static str,
    pub min: usize,
    pub max: usize,
}

impl TextRule {
    pub fn message(&self) -> String {
        if self.min == 0 {
            format!("{} must be at most {} characters", self.label, self.max)
        } else {
            format!(
                "{} must be between {} and {} characters",
                self.label, self.min, self.max
            )
        }
    }

    pub fn read(&self, value: &Value) -> Result<String, String> {
        self.read_str(string(value, self.label)?)
    }

    pub fn read_str(&self, raw: &str) -> Result<String, String> {
        let (min, max) = (self.min as u64, self.max as u64);
        if !raw.validate_length(None, Some(max), None) {
            return Err(self.message());
        }
        let text = super::text::sanitize(raw);
        if !text.validate_length(Some(min), None, None) {
            return Err(self.message());
        }
        Ok(text)
    }

    /// A pattern requiring `min` visible characters (documentation: a whitespace-only or control-only
    /// string is refused).
    pub fn pattern(&self) -> Option<String> {
        // Not white space, not a control character (sanitizing drops those).
        const VISIBLE: &str = "[^\\s\\x00-\\x1f\\x7f-\\x9f]";
        match self.min {
            0 => None,
            n => Some(vec![VISIBLE; n].join("[\\s\\S]*")),
        }
    }
}

/// Reads a boolean: JSON booleans, 0/1, and the strings `true`, `false`, `1`, `0` (what
/// express-validator's `isBoolean` accepted).
pub fn boolean(value: &Value, what: &str) -> Result<bool, String> {
    let msg = || format!("{what} must be a boolean");
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Ok(false),
            Some(1.0) => Ok(true),
            _ => Err(msg()),
        },
        Value::String(s) => match s.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(msg()),
        },
        _ => Err(msg()),
    }
}

/// The string forms [`boolean`] accepts.
pub const BOOLEAN_STRINGS: [&str; 4] = ["true", "false", "1", "0"];

/// Reads a string; other JSON types are refused rather than stringified.
pub fn string<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| format!("{what} must be a string"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CALORIES: IntegerRule = IntegerRule::up_to("Calories", 10_000);
    const SLEEP: DecimalRule = DecimalRule::up_to("Sleep", 24);

    #[test]
    fn integers_accept_digit_strings_and_refuse_fractions() {
        assert_eq!(CALORIES.read(&json!("2000")), Ok(2000));
        assert_eq!(CALORIES.read(&json!(2000)), Ok(2000));
        assert_eq!(CALORIES.read(&json!(2000.0)), Ok(2000));
        assert_eq!(CALORIES.read(&json!("0002000")), Ok(2000));
        for bad in [
            json!(20.5),
            json!("20.5"),
            json!(-1),
            json!(10001),
            json!("abc"),
            json!(true),
            json!(" 5"),
            json!("+5"),
            json!("1e3"),
            json!(""),
        ] {
            assert!(CALORIES.read(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals_accept_fractions_within_range() {
        assert_eq!(SLEEP.read(&json!("7.5")), Ok(7.5));
        assert_eq!(SLEEP.read(&json!("24.000")), Ok(24.0));
        for bad in [
            json!(24.01),
            json!("24.01"),
            json!("24.0000000000000001"),
            json!("inf"),
            json!("7."),
            json!(".5"),
            json!(-0.5),
        ] {
            assert!(SLEEP.read(&bad).is_err(), "{bad}");
        }
    }

    /// The documented patterns accept exactly the strings the readers accept.
    #[test]
    fn string_patterns_match_the_readers() {
        for (min, max) in [
            (0u64, 0u64),
            (0, 1),
            (0, 9),
            (0, 10),
            (0, 24),
            (0, 99),
            (0, 100),
            (0, 220),
            (0, 5_000),
            (0, 10_000),
            (0, 200_000),
            (20, 400),
            (20, 220),
            (30, 160),
            (60, 260),
            (7, 7),
            (95, 1_005),
        ] {
            let rule = IntegerRule { label: "n", min, max };
            let pattern = regex::Regex::new(&rule.string_pattern()).expect("valid pattern");
            for n in 0..=(max + 1_100).min(250_000) {
                for text in [n.to_string(), format!("0{n}"), format!("00{n}")] {
                    assert_eq!(
                        pattern.is_match(&text),
                        rule.read(&json!(text)).is_ok(),
                        "{min}..={max}: {text}"
                    );
                }
            }
            let decimal = DecimalRule { label: "x", min, max };
            let pattern = regex::Regex::new(&decimal.string_pattern()).expect("valid pattern");
            for n in 0..=(max + 3) {
                for text in [
                    n.to_string(),
                    format!("{n}.0"),
                    format!("{n}.5"),
                    format!("0{n}.25"),
                    format!("{n}.000"),
                    format!("{n}."),
                    format!(".{n}"),
                ] {
                    assert_eq!(
                        pattern.is_match(&text),
                        decimal.read(&json!(text)).is_ok(),
                        "{min}..={max}: {text}"
                    );
                }
            }
        }
    }

    #[test]
    fn only_empty_strings_and_null_count_as_absent() {
        let object = json!({"a": "", "b": "  ", "c": null, "d": 0})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(supplied(&object, "a").is_none());
        assert!(supplied(&object, "b").is_some());
        assert!(supplied(&object, "c").is_none());
        assert!(supplied(&object, "d").is_some());
        assert!(supplied(&object, "missing").is_none());
    }

    #[test]
    fn booleans_accept_form_values() {
        assert_eq!(boolean(&json!("true"), "workouts"), Ok(true));
        assert_eq!(boolean(&json!("0"), "workouts"), Ok(false));
        assert_eq!(boolean(&json!(1), "workouts"), Ok(true));
        assert_eq!(boolean(&json!(1.0), "workouts"), Ok(true));
        assert!(boolean(&json!("TRUE"), "workouts").is_err());
        assert!(boolean(&json!("yes please"), "workouts").is_err());
    }

    #[test]
    fn text_rules_count_sanitized_characters_and_cap_the_raw_input() {
        let food = TextRule {
            label: "Food",
            min: 1,
            max: 5,
        };
        assert_eq!(food.read(&json!(" <b>Tea</b> ")).ok(), None, "raw input over the limit");
        assert_eq!(food.read(&json!(" Tea ")), Ok("Tea".to_owned()));
        assert!(food.read(&json!("   ")).is_err());
        assert!(food.read(&json!(5)).is_err());
        let visible = regex::Regex::new(&food.pattern().unwrap_or_default()).expect("valid pattern");
        assert!(visible.is_match(" a ") && !visible.is_match("  \t") && !visible.is_match("\u{1c}"));
    }
}
