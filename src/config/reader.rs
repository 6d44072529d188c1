//! Reading variables: every problem is collected (start-up names each bad variable, not just the
//! first), and the value parsers several sections share.

use std::path::PathBuf;

use secrecy::SecretString;

use super::DatabaseSettings;

/// Reads variables, collecting every problem instead of stopping at the first.
pub(super) struct Reader<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(super) errors: Vec<String>,
}

impl Reader<'_> {
    /// A variable's value; unset and blank are the same.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn parse<T>(
        &mut self,
        name: &str,
        default: T,
        accepts: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        match self.get(name) {
            None => default,
            Some(raw) => parse(&raw).unwrap_or_else(|| {
                self.errors
                    .push(format!("{name}: invalid value {raw:?}; expected {accepts}"));
                default
            }),
        }
    }

    pub(super) fn bool(&mut self, name: &str, default: bool) -> bool {
        self.parse(name, default, "true or false (also yes/no, on/off, 1/0)", parse_bool)
    }

    pub(super) fn positive<T: std::str::FromStr + PartialOrd + Default>(
        &mut self,
        name: &str,
        default: T,
        accepts: &str,
    ) -> T {
        self.parse(name, default, accepts, |s| {
            s.parse::<T>().ok().filter(|n| *n > T::default())
        })
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `10mb`, `100kb`, `512b`, `1048576` (units of 1024, as the old backend's body parser read them).
pub fn parse_byte_size(s: &str) -> Option<usize> {
    let s = s.to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier = match unit.trim() {
        "" | "b" => 1.0,
        "kb" => 1024.0,
        "mb" => 1024.0 * 1024.0,
        "gb" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * multiplier;
    (bytes >= 1.0 && bytes <= usize::MAX as f64).then_some(bytes as usize)
}

pub(super) fn parse_origin(s: &str) -> Option<String> {
    let origin = s.trim().trim_end_matches('/');
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))?;
    let valid = !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' ', '*'])
        && axum::http::HeaderValue::from_str(origin).is_ok();
    valid.then(|| origin.to_owned())
}

pub(super) fn parse_database_url(url: &str) -> Option<DatabaseSettings> {
    if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") {
        // The rest is the driver's to check (at start-up), with every option it supports.
        return Some(DatabaseSettings::Mongo {
            url: SecretString::from(url),
        });
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| DatabaseSettings::sqlite(PathBuf::from(path)))
}

/// `REDIS_URL`, or the old backend's `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`/`REDIS_DB`. With async
/// jobs on and neither set, the old backend's default (localhost:6379).
pub(super) fn redis_url(env: &mut Reader<'_>, jobs_enabled: bool) -> Option<String> {
    if let Some(url) = env.get("REDIS_URL") {
        if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://") {
            return Some(url);
        }
        env.errors
            .push("REDIS_URL: invalid value; expected redis://[:password@]host:port[/db] or rediss://…".to_owned());
        return None;
    }
    let host = env.get("REDIS_HOST");
    if host.is_none() && !jobs_enabled {
        return None;
    }
    let host = host.unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = env.parse("REDIS_PORT", 6379u16, "a port number", |s| s.parse().ok());
    let db = env.parse("REDIS_DB", 0u32, "a database number", |s| s.parse().ok());
    let auth = env
        .get("REDIS_PASSWORD")
        .map(|p| format!(":{}@", percent_encode(&p)))
        .unwrap_or_default();
    Some(format!("redis://{auth}{host}:{port}/{db}"))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The password in a `scheme://user:password@host…` URL, if it has one.
pub fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo
        .split_once(':')
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty())
}

/// `scheme://user:***@host…`: a URL (or a message quoting one) fit to print.
pub fn redact_url_password(text: &str, url: &str) -> String {
    match url_password(url) {
        Some(password) => text.replace(password, "***"),
        None => text.to_owned(),
    }
}
