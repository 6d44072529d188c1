//! Accounts and authentication: every account rule lives here — registration, login (the
//! failed-login throttle, the password check, the upgrade of old hashes), token minting, refresh
//! rotation with reuse detection, logout, and the check every authenticated request passes. It works
//! on the storage trait and knows nothing of HTTP: the HTTP layer parses a request into domain types,
//! calls [`Accounts`], and turns an [`AuthError`] into its response.

mod account;
pub mod admin;
mod login;
mod logins;
pub mod password;
pub mod personal;
pub mod scopes;
pub mod tokens;
pub mod two_factor;

pub use self::login::LoginThrottle;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use self::password::PasswordHasher;
use self::scopes::Access;
use self::tokens::{MintedToken, TokenKeys, TokenKind, VerifiedToken};
use crate::config::RegistrationMode;
use crate::domain::clock::Clock;
use crate::domain::ids::{PersonalTokenId, UserId};
use crate::domain::timezone::TimeZone;
use crate::domain::user::User;
use crate::ratelimit::RateLimitInfo;
use crate::storage::{Storage, StoreError, TokenStanding};

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the e-mail is taken")]
    EmailTaken,
    /// An unknown e-mail and a wrong password are the same failure.
    #[error("unknown e-mail or wrong password")]
    InvalidCredentials,
    #[error("too many failed logins")]
    LoginThrottled(RateLimitInfo),
    #[error("invalid or expired access token")]
    InvalidToken,
    #[error("revoked access token")]
    RevokedToken,
    #[error("invalid or expired refresh token")]
    InvalidRefreshToken,
    #[error("revoked refresh token")]
    RevokedRefreshToken,
    /// The current password given to change it was wrong.
    #[error("wrong current password")]
    CurrentPasswordIncorrect,
    /// The password given to delete the account was wrong.
    #[error("wrong password")]
    PasswordIncorrect,
    #[error("no such login")]
    UnknownLogin,
    #[error("no such personal token")]
    UnknownPersonalToken,
    /// Disabled by an administrator (told only to someone who gave the right password).
    #[error("account disabled")]
    AccountDisabled,
    #[error("registration is closed")]
    RegistrationClosed,
    /// `REGISTRATION=invite` and no usable invite code.
    #[error("invite code required")]
    InviteRequired,
    /// A login challenge unknown, expired or already used.
    #[error("invalid login challenge")]
    InvalidChallenge,
    #[error("wrong two-factor code")]
    InvalidTwoFactorCode,
    /// 2FA is on and the request carried no code.
    #[error("two-factor code required")]
    TwoFactorCodeRequired,
    #[error("two-factor login is already on")]
    TwoFactorAlreadyOn,
    #[error("two-factor login was not set up")]
    TwoFactorNotSetUp,
    #[error("two-factor login is not on")]
    TwoFactorNotOn,
    /// An admin route asked by someone who is not an (active) administrator with a login token.
    #[error("admin access required")]
    AdminRequired,
    /// The change would leave no active administrator.
    #[error("the last administrator")]
    LastAdmin,
    #[error("no such user")]
    UnknownUser,
    #[error("no such invite")]
    UnknownInvite,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AuthResult<T> = Result<T, AuthError>;

/// What a login, registration or refresh hands out.
pub struct TokenPair {
    pub access: MintedToken,
    pub refresh: String,
}

/// A registration or login that succeeded.
pub struct LoggedIn {
    pub user: User,
    pub tokens: TokenPair,
}

/// Who is asking, as far as the account rules care: the address (throttling) and the client
/// (shown with its login in the session list).
#[derive(Clone, Debug)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: UserId,
    pub token: VerifiedToken,
    /// The zone the caller's days are counted in (theirs, or the server's default).
    pub timezone: TimeZone,
    /// How many writes the caller's entries have seen (see [`TokenStanding::Valid`]).
    pub entries_version: u64,
    /// A login's token or a personal token, and so what the caller may do.
    pub access: Access,
    /// The personal token used, when it is one (its rate limit is counted by it).
    pub personal_token: Option<PersonalTokenId>,
}

/// How refresh tokens behave (`REFRESH_TOKEN_ROTATION`, `REFRESH_REUSE_INTERVAL_SECS`).
#[derive(Clone, Copy, Debug)]
pub struct RefreshPolicy {
    /// A refresh hands out a new refresh token and retires the old one.
    pub rotation: bool,
    /// A retired token presented again this soon after its rotation is a race (two tabs), not theft.
    pub reuse_interval: Duration,
}

/// The account rules over one store.
pub struct Accounts {
    store: Arc<dyn Storage>,
    tokens: TokenKeys,
    passwords: PasswordHasher,
    throttle: LoginThrottle,
    refresh: RefreshPolicy,
    /// `DEFAULT_TIMEZONE`: the zone of an account that has not set one.
    default_timezone: TimeZone,
    /// `REGISTRATION`: who may create an account.
    registration: RegistrationMode,
    /// TOTP time, challenge expiry, personal tokens' expiry and last use (tests stand it where they like).
    clock: Clock,
    /// When this instance last wrote each personal token's `lastUsedAt`.
    last_uses: personal::LastUses,
}

/// What [`Accounts`] is built with besides the store.
pub struct AccountsConfig {
    pub tokens: TokenKeys,
    pub passwords: PasswordHasher,
    pub throttle: LoginThrottle,
    pub refresh: RefreshPolicy,
    pub default_timezone: TimeZone,
    pub registration: RegistrationMode,
    pub clock: Clock,
}

impl Accounts {
    pub fn new(store: Arc<dyn Storage>, config: AccountsConfig) -> Self {
        Self {
            store,
            tokens: config.tokens,
            passwords: config.passwords,
            throttle: config.throttle,
            refresh: config.refresh,
            default_timezone: config.default_timezone,
            registration: config.registration,
            clock: config.clock,
            last_uses: personal::LastUses::default(),
        }
    }

    /// The zone a user's days are counted in: theirs, or the server's default.
    pub fn timezone_of(&self, user: &User) -> TimeZone {
        user.timezone.unwrap_or(self.default_timezone)
    }

    /// The caller behind an access token: signed by us with plausible times, of the access type, not
    /// logged out, of a login that was not ended, and of a user that exists and is not disabled (one
    /// lookup answers all). A personal token (`htp_…`) is checked by its own rules ([`personal`]).
    pub async fn authenticate(&self, token: &str) -> AuthResult<Caller> {
        if token.starts_with(personal::PREFIX) {
            return self.authenticate_personal(token).await;
        }
        let token = self
            .tokens
            .verify(token, TokenKind::Access)
            .map_err(|_| AuthError::InvalidToken)?;
        match self
            .store
            .access_token_standing(&token.revocation_key, token.user_id, token.login.as_deref())
            .await?
        {
            TokenStanding::Valid {
                timezone,
                entries_version,
            } => Ok(Caller {
                id: token.user_id,
                token,
                timezone: timezone.unwrap_or(self.default_timezone),
                entries_version,
                access: Access::Login,
                personal_token: None,
            }),
            TokenStanding::Revoked => Err(AuthError::RevokedToken),
            TokenStanding::UnknownUser => Err(AuthError::InvalidToken),
        }
    }
}
