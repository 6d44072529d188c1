//! Accounts: the registration and login inputs, parsed once into types that can only hold valid
//! values.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use validator::{ValidateEmail, ValidateLength};

use super::ids::UserId;
use super::timezone::TimeZone;
use super::validation::{FieldError, Problems, body_object, string, supplied};

/// The registration rules, shared with the API documentation.
pub mod rules {
    use crate::domain::validation::TextRule;

    pub const NAME: TextRule = TextRule {
        label: "Name",
        min: 2,
        max: 100,
    };
    pub const EMAIL_MAX_CHARS: usize = 254;
    pub const PASSWORD_CHARS: (usize, usize) = (6, 128);
    /// From this length on a password is a passphrase: no mix of cases and digits is required.
    pub const PASSPHRASE_CHARS: usize = 12;
    /// The composition rule as a pattern: the mix, or a passphrase. (The pattern's classes are
    /// ASCII; the check below also counts other scripts' cases, and refuses what is trivially
    /// guessable, which no pattern can say.)
    pub const PASSWORD_PATTERN: &str = "^(?:(?=[\\s\\S]*[a-z])(?=[\\s\\S]*[A-Z])(?=[\\s\\S]*[0-9])|[\\s\\S]{12,})";
    /// Longer login passwords are refused before hashing (a hashing cost bound, not a rule).
    pub const LOGIN_PASSWORD_MAX_BYTES: usize = 1024;
}

/// A display name: sanitized, 2–100 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        rules::NAME.read_str(raw).map(Self)
    }

    /// A name read back from storage (already validated when it was written, possibly by the old
    /// backend with other rules).
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, trimmed and lower-cased, so uniqueness is case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// A new address (registration): `validator`'s e-mail syntax (the HTML5 rule that browsers'
    /// `type=email` inputs apply), plus what a deliverable address also needs: a dotted domain
    /// whose last label is a real top-level domain, and a local part without empty dot-atoms.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let deliverable = email.rsplit_once('@').is_some_and(|(local, domain)| {
            let local_ok = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
            let tld_ok = domain
                .rsplit_once('.')
                .is_some_and(|(_, tld)| tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
            local_ok && tld_ok
        });
        if raw.validate_length(None, Some(rules::EMAIL_MAX_CHARS as u64), None) && email.validate_email() && deliverable
        {
            Ok(Self(email))
        } else {
            Err("Please provide a valid email".into())
        }
    }

    /// An address to look an account up by (login): normalised like [`Email::parse`] but only
    /// checked for shape, so every stored address — some written by the old backend under other
    /// rules — can still log in; an address that is not stored simply matches no account.
    pub fn for_lookup(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let shaped = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
        if shaped && raw.validate_length(None, Some(rules::EMAIL_MAX_CHARS as u64), None) {
            Ok(Self(email))
        } else {
            Err("Please provide a valid email".into())
        }
    }

    pub fn from_stored(email: String) -> Self {
        Self(email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: 6–128 characters, with a lower-case letter, an upper-case letter and a digit
/// unless it is a passphrase of 12 or more; and not trivially guessable (a zxcvbn score of 0, which
/// also counts the account's own name and e-mail as guessable). Never printed.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// `personal`: what else is known of the account (its name, its e-mail).
    pub fn parse(raw: &str, personal: &[&str]) -> Result<Self, String> {
        let (min, max) = rules::PASSWORD_CHARS;
        if !raw.validate_length(Some(min as u64), Some(max as u64), None) {
            return Err(format!("Password must be between {min} and {max} characters"));
        }
        let passphrase = raw.validate_length(Some(rules::PASSPHRASE_CHARS as u64), None, None);
        let has = |f: fn(&char) -> bool| raw.chars().any(|c| f(&c));
        let mixed = has(|c| c.is_lowercase()) && has(|c| c.is_uppercase()) && has(char::is_ascii_digit);
        if !(mixed || passphrase) {
            return Err(format!(
                "Password must contain at least one uppercase letter, one lowercase letter, and one number \
                 (or be a passphrase of at least {} characters)",
                rules::PASSPHRASE_CHARS
            ));
        }
        if zxcvbn::zxcvbn(raw, personal).score() == zxcvbn::Score::Zero {
            return Err(
                "Password is too easy to guess (a common password, word, name or pattern); \
                        choose a less predictable one"
                    .into(),
            );
        }
        Ok(Self(SecretString::from(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

/// `POST /auth/register`.
#[derive(Debug)]
pub struct Registration {
    pub name: UserName,
    pub email: Email,
    pub password: NewPassword,
}

impl Registration {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();

        let name = match supplied(object, "name") {
            None => {
                problems.add("name", "Name is required", object.get("name"));
                None
            }
            Some(v) => problems.check("name", v, |v| string(v, "Name").and_then(UserName::parse)),
        };
        let email = required_email(object, &mut problems, Email::parse);
        let personal: Vec<&str> = [name.as_ref().map(UserName::as_str), email.as_ref().map(Email::as_str)]
            .into_iter()
            .flatten()
            .collect();
        let password = match object.get("password").and_then(Value::as_str) {
            Some(raw) if !raw.is_empty() => match NewPassword::parse(raw, &personal) {
                Ok(p) => Some(p),
                Err(msg) => {
                    problems.add_secret("password", msg);
                    None
                }
            },
            _ => {
                problems.add_secret("password", "Password is required");
                None
            }
        };

        match (name, email, password) {
            (Some(name), Some(email), Some(password)) if problems.is_empty() => Ok(Self { name, email, password }),
            _ => Err(problems.into_vec()),
        }
    }
}

/// `POST /auth/login`. The password is only checked for presence: the stored hash decides.
pub struct Credentials {
    pub email: Email,
    pub password: SecretString,
}

impl Credentials {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let email = required_email(object, &mut problems, Email::for_lookup);
        let password = required_secret(object, "password", "Password", &mut problems);
        match (email, password) {
            (Some(email), Some(password)) => Ok(Self { email, password }),
            _ => Err(problems.into_vec()),
        }
    }
}

fn required_email(
    object: &serde_json::Map<String, Value>,
    problems: &mut Problems,
    parse: fn(&str) -> Result<Email, String>,
) -> Option<Email> {
    match supplied(object, "email") {
        None => {
            problems.add("email", "Email is required", object.get("email"));
            None
        }
        Some(v) => problems.check("email", v, |v| string(v, "Email").and_then(parse)),
    }
}

/// A stored account.
#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub name: UserName,
    pub email: Email,
    /// argon2id PHC string, or a bcrypt hash written by the old backend (upgraded on next login).
    pub password_hash: String,
    /// `None` until the user sets one (and for every account from before there were zones): the
    /// server's `DEFAULT_TIMEZONE` applies.
    pub timezone: Option<TimeZone>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// `PATCH /auth/me`: only the name and the time zone are writable.
#[derive(Debug, Default, PartialEq)]
pub struct ProfileChanges {
    pub name: Option<UserName>,
    pub timezone: Option<TimeZone>,
}

impl ProfileChanges {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let name = supplied(object, "name")
            .and_then(|v| problems.check("name", v, |v| string(v, "Name").and_then(UserName::parse)));
        let timezone = supplied(object, "timezone")
            .and_then(|v| problems.check("timezone", v, |v| string(v, "Timezone").and_then(TimeZone::parse)));
        problems.finish(|| Self { name, timezone })
    }
}

/// `POST /auth/change-password`: the current password (checked against the stored hash) and a new
/// one by the registration rules.
pub struct PasswordChange {
    pub current: SecretString,
    pub new: NewPassword,
}

impl PasswordChange {
    /// `personal`: the account's name and e-mail, guessable as passwords.
    pub fn parse(body: &Value, personal: &[&str]) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        let current = required_secret(object, "currentPassword", "Current password", &mut problems);
        let new = match object.get("newPassword").and_then(Value::as_str) {
            Some(raw) if !raw.is_empty() => match NewPassword::parse(raw, personal) {
                Ok(password) => Some(password),
                Err(msg) => {
                    problems.add_secret("newPassword", msg);
                    None
                }
            },
            _ => {
                problems.add_secret("newPassword", "New password is required");
                None
            }
        };
        match (current, new) {
            (Some(current), Some(new)) if problems.is_empty() => Ok(Self { current, new }),
            _ => Err(problems.into_vec()),
        }
    }
}

/// `DELETE /auth/me`: the password, to prove it is the account's owner and not a stolen token.
pub struct AccountDeletion {
    pub password: SecretString,
}

impl AccountDeletion {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let object = body_object(body)?;
        let mut problems = Problems::new();
        match required_secret(object, "password", "Password", &mut problems) {
            Some(password) => Ok(Self { password }),
            None => Err(problems.into_vec()),
        }
    }
}

/// A password to check against a stored hash: present, a string, not absurdly long (a hashing cost
/// bound). Never echoed.
fn required_secret(
    object: &serde_json::Map<String, Value>,
    key: &str,
    label: &str,
    problems: &mut Problems,
) -> Option<SecretString> {
    match object.get(key).and_then(Value::as_str) {
        Some(raw) if !raw.is_empty() && raw.len() <= rules::LOGIN_PASSWORD_MAX_BYTES => Some(SecretString::from(raw)),
        Some(raw) if !raw.is_empty() => {
            problems.add_secret(key, format!("{label} is too long"));
            None
        }
        _ => {
            problems.add_secret(key, format!("{label} is required"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registration_lists_every_failing_field_and_never_echoes_the_password() {
        let errors = Registration::parse(&json!({"name": "A", "email": "nope", "password": "short"}))
            .err()
            .unwrap_or_default();
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["name", "email", "password"]);
        assert!(errors[2].value.is_none());
    }

    #[test]
    fn email_is_normalised() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").map(|e| e.0),
            Ok("ada@example.com".to_string())
        );
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada @example.com",
            "a..b@example.com",
            "ada@-x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_rules() {
        let parse = |raw: &str| NewPassword::parse(raw, &[]);
        assert!(parse("Secret1").is_ok());
        assert!(parse("secret1").is_err());
        assert!(parse("SECRET1").is_err());
        assert!(parse("Secret").is_err());
        assert!(parse("Se1").is_err());
        assert!(parse(&format!("Aa1{}", "x".repeat(126))).is_err());
        // Passphrases, other scripts' cases, characters not bytes.
        assert!(parse("correct horse battery").is_ok());
        assert!(parse("Ünïcödé9x").is_ok());
        assert!(parse("ÄäÖö12").is_ok());
        // Trivially guessable (zxcvbn score 0), and what the account itself gives away.
        for guessable in ["Password1", "Passw0rd", "Qwerty123", "aaaaaaaaaaaa"] {
            assert!(parse(guessable).is_err(), "{guessable}");
        }
        assert!(parse("Secret123x").is_ok());
        // The account's own name or e-mail as its password.
        let personal = ["Ada Lovelace", "ada@example.com"];
        for own in personal {
            assert!(NewPassword::parse(own, &personal).is_err(), "{own}");
            assert!(parse(own).is_ok(), "{own} is a fine passphrase for someone else");
        }
    }

    #[test]
    fn names_are_sanitized_before_the_length_check() {
        assert_eq!(UserName::parse("  <b>Ada</b> ").map(|n| n.0), Ok("Ada".to_string()));
        assert!(UserName::parse("<b>A</b>").is_err());
    }
}
