//! Two-factor login (TOTP, RFC 6238: SHA-1, 6 digits, 30 s steps, one step of drift either way):
//! setup, enabling, disabling, the login's second step, and the step-up that sensitive account
//! changes ask for. Every wrong code counts as a failed login in the same [`LoginThrottle`]
//! (super::LoginThrottle), per e-mail and address; a code is accepted once (the last accepted step is
//! kept in the database, so a second instance refuses the replay too); a recovery code once ever.
//! TOTP time is the accounts' [`Clock`](crate::domain::clock::Clock), so tests can stand on a step.

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use serde_json::Value;
use totp_rs::{Builder, Secret, Totp};

use super::tokens::digest;
use super::{Accounts, AuthError, AuthResult, Caller, Client, LoggedIn};
use crate::domain::user::User;
use crate::domain::validation::{FieldError, Problems};
use crate::storage::security::{AccountFlags, TwoFactorRecord};

/// How long a login challenge lives.
pub const CHALLENGE_LIFETIME: TimeDelta = TimeDelta::minutes(5);
const RECOVERY_CODES: usize = 10;
const STEP_SECS: i64 = 30;
const ISSUER: &str = "HealthTracker";

/// The second factor a request carries: `code` (from the app) or `recoveryCode`.
#[derive(Clone, Debug)]
pub enum SecondFactor {
    Code(String),
    Recovery(String),
}

impl SecondFactor {
    /// `code` or `recoveryCode` of a JSON body (an empty string, or a number for `code`, as a form
    /// may send it, is read as what it is); `None` when neither is there.
    pub fn from_body(body: &Value) -> Option<Self> {
        let text = |name: &str| match body.get(name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        text("code")
            .map(SecondFactor::Code)
            .or_else(|| text("recoveryCode").map(SecondFactor::Recovery))
    }

    /// [`Self::from_body`] for a route that must refuse a malformed step-up field even when the
    /// account has no two-factor login, where it would otherwise pass unnoticed (`POST
    /// /auth/tokens`): `code` blank or six digits, `recoveryCode` a string; null or absent is no
    /// field. Each failing field is named (its value not echoed).
    pub fn from_body_checked(body: &Value) -> Result<Option<Self>, Vec<FieldError>> {
        let mut problems = Problems::new();
        let code_ok = match body.get("code") {
            None | Some(Value::Null) => true,
            Some(Value::String(text)) => {
                let text = text.trim();
                text.is_empty() || (text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()))
            }
            Some(_) => false,
        };
        if !code_ok {
            problems.add_secret("code", "code must be 6 digits");
        }
        if body.get("recoveryCode").is_some_and(|v| !v.is_null() && !v.is_string()) {
            problems.add_secret("recoveryCode", "recoveryCode must be a string");
        }
        problems.finish(|| Self::from_body(body))
    }
}

/// What setup hands the user for their authenticator app.
pub struct TwoFactorSetup {
    /// Base32.
    pub secret: String,
    pub otpauth_url: String,
}

/// A password login: done, or waiting for the second factor.
pub enum LoginOutcome {
    LoggedIn(LoggedIn),
    /// The password was right and the account has 2FA: `challenge` (one use, five minutes) goes
    /// with the code to `POST /auth/login/2fa`. It authenticates nothing else.
    TwoFactorRequired {
        challenge: String,
    },
}

/// The TOTP of a stored secret, labelled with the account.
fn totp(secret: &str, account: &str) -> AuthResult<Totp> {
    let bytes = Secret::try_from_base32(secret)
        .map_err(|_| AuthError::Internal(anyhow::anyhow!("a stored TOTP secret is not base32")))?;
    Builder::new()
        .with_secret(bytes)
        .with_skew(1)
        .with_step_duration(STEP_SECS as u64)
        .with_issuer(Some(ISSUER))
        // The label's separator is `:`; an e-mail never needs one.
        .with_account_name(account.replace(':', "_"))
        .build()
        .map_err(|error| AuthError::Internal(anyhow::anyhow!("TOTP: {error:?}")))
}

/// The time step `code` belongs to at `now` (this one or one either side), if it is right.
fn matching_step(totp: &Totp, code: &str, now: DateTime<Utc>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now.timestamp()).ok()?;
    totp.check(&code, now).and_then(|step| i64::try_from(step).ok())
}

/// A recovery code as stored: SHA-256 of its letters and digits, lower-cased (dashes and spaces as
/// typed do not matter).
fn recovery_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    digest(&normalized)
}

/// Ten codes of ten characters (`xxxxx-xxxxx`, 50 random bits each).
fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

impl Accounts {
    /// The account's role, disabled flag and TOTP (the account was found: it exists).
    pub async fn flags(&self, user: &User) -> AuthResult<AccountFlags> {
        Ok(self.store.account_flags(user.id).await?.unwrap_or_default())
    }

    /// A new secret for the caller's authenticator app, given their password. Not on until
    /// [`Self::enable_two_factor`] sees a code from it.
    pub async fn setup_two_factor(
        &self,
        caller: &Caller,
        password: &SecretString,
        client: &Client,
    ) -> AuthResult<TwoFactorSetup> {
        let account = self.caller_account(caller.id).await?;
        if self.flags(&account).await?.two_factor_on() {
            return Err(AuthError::TwoFactorAlreadyOn);
        }
        self.confirm_password(&account, password, client, AuthError::PasswordIncorrect)
            .await?;
        let secret = Secret::from(rand::random::<[u8; 20]>().to_vec()).to_base32();
        if !self.store.set_pending_two_factor(account.id, &secret).await? {
            return Err(AuthError::TwoFactorAlreadyOn);
        }
        let otpauth_url = totp(&secret, account.email.as_str())?
            .to_url()
            .map_err(|error| AuthError::Internal(anyhow::anyhow!("TOTP URL: {error:?}")))?;
        tracing::info!(user_id = %account.id, "two-factor setup started");
        Ok(TwoFactorSetup { secret, otpauth_url })
    }

    /// Turns 2FA on with a code from the app (proving it holds the secret); the recovery codes,
    /// shown this once, stored hashed.
    pub async fn enable_two_factor(&self, caller: &Caller, code: &str, client: &Client) -> AuthResult<Vec<String>> {
        let account = self.caller_account(caller.id).await?;
        let record = match self.flags(&account).await?.two_factor {
            Some(record) if record.enabled => return Err(AuthError::TwoFactorAlreadyOn),
            Some(record) => record,
            None => return Err(AuthError::TwoFactorNotSetUp),
        };
        let email = account.email.as_str();
        self.throttle.check(email, client.ip).await?;
        let totp = totp(&record.secret, email)?;
        let Some(step) = matching_step(&totp, code, self.clock.now()) else {
            self.throttle.failed(email, client.ip).await;
            return Err(AuthError::InvalidTwoFactorCode);
        };
        let codes = new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
        if !self.store.enable_two_factor(account.id, &hashes, step).await? {
            return Err(AuthError::TwoFactorNotSetUp);
        }
        tracing::info!(user_id = %account.id, "two-factor login enabled");
        Ok(codes)
    }

    /// Turns 2FA off, given the password and a current code (or a recovery code).
    pub async fn disable_two_factor(
        &self,
        caller: &Caller,
        password: &SecretString,
        second: Option<&SecondFactor>,
        client: &Client,
    ) -> AuthResult<()> {
        let account = self.caller_account(caller.id).await?;
        let Some(record) = self.flags(&account).await?.two_factor.filter(|t| t.enabled) else {
            return Err(AuthError::TwoFactorNotOn);
        };
        self.confirm_password(&account, password, client, AuthError::PasswordIncorrect)
            .await?;
        // The step-up, on the record just read (`step_up` would read it again).
        let second = second.ok_or(AuthError::TwoFactorCodeRequired)?;
        self.check_second_factor(&account, &record, second, client).await?;
        self.store.disable_two_factor(account.id).await?;
        tracing::info!(user_id = %account.id, "two-factor login disabled");
        Ok(())
    }

    /// The step-up of a sensitive change (password change, account deletion, disabling 2FA,
    /// creating a personal token): when the account has 2FA on, `second` must be a current code
    /// (once) or an unused recovery code. Missing: `TwoFactorCodeRequired`; wrong: a failed login
    /// in the throttle and `InvalidTwoFactorCode`. Nothing to check without 2FA.
    pub async fn step_up(&self, user: &User, second: Option<&SecondFactor>, client: &Client) -> AuthResult<()> {
        let Some(record) = self.flags(user).await?.two_factor.filter(|t| t.enabled) else {
            return Ok(());
        };
        let second = second.ok_or(AuthError::TwoFactorCodeRequired)?;
        self.check_second_factor(user, &record, second, client).await
    }

    /// Checks a code (accepted once: its step must be later than the last accepted, atomically in
    /// the database) or a recovery code (removed as it is used), through the failed-login throttle.
    async fn check_second_factor(
        &self,
        user: &User,
        record: &TwoFactorRecord,
        second: &SecondFactor,
        client: &Client,
    ) -> AuthResult<()> {
        let email = user.email.as_str();
        self.throttle.check(email, client.ip).await?;
        let accepted = match second {
            SecondFactor::Code(code) => match matching_step(&totp(&record.secret, email)?, code, self.clock.now()) {
                Some(step) => self.store.accept_totp_step(user.id, step).await?,
                None => false,
            },
            SecondFactor::Recovery(code) => {
                let taken = self.store.take_recovery_code(user.id, &recovery_hash(code)).await?;
                if taken {
                    tracing::info!(user_id = %user.id, "recovery code used");
                }
                taken
            }
        };
        if accepted {
            Ok(())
        } else {
            self.throttle.failed(email, client.ip).await;
            Err(AuthError::InvalidTwoFactorCode)
        }
    }

    /// A challenge for the second step of a password login (stored hashed; five minutes, one use).
    pub(super) async fn issue_challenge(&self, user: &User) -> AuthResult<String> {
        let challenge = hex::encode(rand::random::<[u8; 32]>());
        self.store
            .insert_challenge(&digest(&challenge), user.id, self.clock.now() + CHALLENGE_LIFETIME)
            .await?;
        Ok(challenge)
    }

    /// The second step of a login: a live challenge and a right code (or recovery code) start the
    /// login exactly as a password login does (same session list, same tokens). Wrong codes count
    /// as failed logins; the challenge is used up only by the step that succeeds.
    pub async fn login_second_step(
        &self,
        challenge: &str,
        second: &SecondFactor,
        client: &Client,
    ) -> AuthResult<LoggedIn> {
        let hash = digest(challenge);
        let user_id = self
            .store
            .challenge_user(&hash, self.clock.now())
            .await?
            .ok_or(AuthError::InvalidChallenge)?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(AuthError::InvalidChallenge)?;
        let flags = self.flags(&user).await?;
        if flags.disabled {
            return Err(AuthError::AccountDisabled);
        }
        let record = flags
            .two_factor
            .filter(|t| t.enabled)
            .ok_or(AuthError::InvalidChallenge)?;
        self.check_second_factor(&user, &record, second, client).await?;
        // One use, on every instance: of two requests with a right code, one takes it.
        if !self.store.take_challenge(&hash, self.clock.now()).await? {
            return Err(AuthError::InvalidChallenge);
        }
        self.throttle.succeeded(user.email.as_str(), client.ip).await;
        let tokens = self.start_login(user.id, client).await?;
        Ok(LoggedIn { user, tokens })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_code_is_the_same_however_it_is_typed() {
        assert_eq!(recovery_hash("abcde-fghjk"), recovery_hash(" ABCDE FGHJK "));
        assert_ne!(recovery_hash("abcde-fghjk"), recovery_hash("abcde-fghjm"));
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
    }

    #[test]
    fn only_six_digits_are_a_code() {
        let secret = Secret::from(vec![7u8; 20]).to_base32();
        let totp = totp(&secret, "a@example.com").expect("totp");
        let now = DateTime::from_timestamp(1_700_000_010, 0).expect("time");
        let code = totp.generate(now.timestamp() as u64).to_string();
        assert_eq!(matching_step(&totp, &code, now), Some(1_700_000_010 / 30));
        assert_eq!(
            matching_step(&totp, &format!("{} {}", &code[..3], &code[3..]), now),
            Some(1_700_000_010 / 30)
        );
        for wrong in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(matching_step(&totp, wrong, now), None, "{wrong}");
        }
    }
}
