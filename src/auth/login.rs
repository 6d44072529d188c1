//! Registration and login, and the throttle that keeps guessing slow without locking anyone out.

use std::net::IpAddr;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use super::password::Verdict;
use super::two_factor::LoginOutcome;
use super::{Accounts, AuthError, AuthResult, Client, LoggedIn};
use crate::config::RegistrationMode;
use crate::domain::ids::UserId;
use crate::domain::user::{Credentials, Email, Registration, User};
use crate::ratelimit::RateLimiter;
use crate::storage::StoreError;

/// Failed password checks (logins, and the password asked for by a password change or an account
/// deletion) are counted twice: per e-mail *and client address* (a few per window), so an attacker
/// who knows a victim's e-mail cannot lock the victim out from elsewhere; and per e-mail from every
/// address (many per window), which stops guessing spread over many addresses.
pub struct LoginThrottle {
    pub per_address: RateLimiter,
    pub per_account: RateLimiter,
}

impl LoginThrottle {
    /// The per-address counter's key: the e-mail first, so an account's counters can be found by
    /// prefix ([`LoginThrottle::forget`]).
    fn address_key(email: &str, client: IpAddr) -> String {
        format!("{}{client}", Self::address_prefix(email))
    }

    fn address_prefix(email: &str) -> String {
        format!("{email}:")
    }

    /// Refuses while either count is over its limit.
    pub(super) async fn check(&self, email: &str, client: IpAddr) -> AuthResult<()> {
        let address_key = Self::address_key(email, client);
        let (per_address, per_account) = tokio::join!(
            self.per_address.exceeded(&address_key),
            self.per_account.exceeded(email)
        );
        match per_address.or(per_account) {
            Some(refused) => Err(AuthError::LoginThrottled(refused.info)),
            None => Ok(()),
        }
    }

    pub(super) async fn failed(&self, email: &str, client: IpAddr) {
        let address_key = Self::address_key(email, client);
        tokio::join!(self.per_address.hit(&address_key), self.per_account.hit(email));
    }

    /// The address's count starts over; the account's keeps counting what others tried.
    pub(super) async fn succeeded(&self, email: &str, client: IpAddr) {
        self.per_address.reset(&Self::address_key(email, client)).await;
    }

    /// Every count of the account (it is being deleted).
    pub(super) async fn forget(&self, email: &Email) {
        let email = email.as_str();
        let prefix = Self::address_prefix(email);
        tokio::join!(self.per_address.reset_prefix(&prefix), self.per_account.reset(email));
    }
}

impl Accounts {
    /// Creates the account and logs it in, as `REGISTRATION` allows: anyone (`open`), with an
    /// invite code that still has a use (`invite`; the use is taken atomically), or no one (`closed`).
    pub async fn register(
        &self,
        registration: Registration,
        invite: Option<&str>,
        client: &Client,
    ) -> AuthResult<LoggedIn> {
        if self.registration == RegistrationMode::Closed {
            return Err(AuthError::RegistrationClosed);
        }
        // Checked before hashing so a taken e-mail costs no hash; the insert still catches races.
        if self.store.user_by_email(&registration.email).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        if self.registration == RegistrationMode::Invite {
            let code = invite.ok_or(AuthError::InviteRequired)?;
            if !self.store.take_invite(code, self.clock.now()).await? {
                return Err(AuthError::InviteRequired);
            }
        }
        let now = Utc::now();
        let user = User {
            id: UserId::new(),
            name: registration.name,
            email: registration.email,
            password_hash: self.passwords.hash(registration.password.expose()).await?,
            timezone: None,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_user(&user).await {
            Err(StoreError::Conflict) => return Err(AuthError::EmailTaken),
            other => other?,
        }
        let tokens = self.start_login(user.id, client).await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(LoggedIn { user, tokens })
    }

    /// Checks the password (an unknown e-mail costs what a wrong password costs), throttles repeated
    /// failures (see [`LoginThrottle`]), and replaces a hash the old backend wrote (bcrypt) or one
    /// with weaker parameters than today's. A disabled account is refused only after its password
    /// matched: a guesser learns nothing from it. With 2FA on, the answer is a challenge for
    /// [`Accounts::login_second_step`], and the failure count is not reset until that step
    /// succeeds (a password alone must not buy more guesses at the code).
    pub async fn login(&self, credentials: Credentials, client: &Client) -> AuthResult<LoginOutcome> {
        let email = credentials.email.as_str();
        self.throttle.check(email, client.ip).await?;
        let user = self.store.user_by_email(&credentials.email).await?;
        // Unknown e-mails are checked against a decoy hash: same answer, similar time.
        let verdict = self
            .passwords
            .verify(&credentials.password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let (Some(user), Verdict::Match { upgrade }) = (user, verdict) else {
            self.throttle.failed(email, client.ip).await;
            return Err(AuthError::InvalidCredentials);
        };
        let flags = self.flags(&user).await?;
        if flags.disabled {
            return Err(AuthError::AccountDisabled);
        }
        if upgrade {
            self.upgrade_hash(&user, &credentials.password).await?;
        }
        if flags.two_factor_on() {
            let challenge = self.issue_challenge(&user).await?;
            return Ok(LoginOutcome::TwoFactorRequired { challenge });
        }
        self.throttle.succeeded(email, client.ip).await;
        let tokens = self.start_login(user.id, client).await?;
        Ok(LoginOutcome::LoggedIn(LoggedIn { user, tokens }))
    }

    /// Checks `password` against the account's hash, counting a wrong one as a failed login (the
    /// password change and the account deletion ask for it): `wrong` when it does not match.
    pub(super) async fn confirm_password(
        &self,
        user: &User,
        password: &SecretString,
        client: &Client,
        wrong: AuthError,
    ) -> AuthResult<()> {
        let email = user.email.as_str();
        self.throttle.check(email, client.ip).await?;
        match self
            .passwords
            .verify(password, Some(user.password_hash.clone()))
            .await?
        {
            Verdict::Match { .. } => Ok(()),
            Verdict::Mismatch => {
                self.throttle.failed(email, client.ip).await;
                Err(wrong)
            }
        }
    }

    /// Replaces a hash the old backend wrote (bcrypt), or one with weaker parameters than today's.
    async fn upgrade_hash(&self, user: &User, password: &SecretString) -> AuthResult<()> {
        match self.passwords.hash(password.expose_secret()).await {
            Ok(hash) => {
                self.store.set_password_hash(user.id, &hash).await?;
                tracing::info!(user_id = %user.id, "password hash upgraded to argon2id");
            }
            Err(error) => {
                tracing::warn!(user_id = %user.id, error = format!("{error:#}"), "could not upgrade password hash")
            }
        }
        Ok(())
    }

    /// The account of a caller (the token was checked: it exists, unless deleted just now).
    pub(super) async fn caller_account(&self, user: UserId) -> AuthResult<User> {
        self.store.user_by_id(user).await?.ok_or(AuthError::InvalidToken)
    }
}
