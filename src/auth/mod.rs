//! Accounts and authentication: every account rule lives here — registration, login (the
//! failed-login throttle, the password check, the upgrade of old hashes), token minting, refresh
//! rotation with reuse detection, logout, and the check every authenticated request passes. It works
//! on the storage trait and knows nothing of HTTP: the HTTP layer parses a request into domain types,
//! calls [`Accounts`], and turns an [`AuthError`] into its response.

pub mod password;
pub mod tokens;

use std::sync::Arc;

use chrono::Utc;
use secrecy::ExposeSecret;

use self::password::{PasswordHasher, Verdict};
use self::tokens::{MintedToken, TokenKeys, TokenKind, VerifiedToken, digest};
use crate::domain::ids::UserId;
use crate::domain::user::{Credentials, Registration, User};
use crate::ratelimit::{RateLimitInfo, RateLimiter};
use crate::storage::{RefreshSession, Storage, StoreError};

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

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: UserId,
    pub token: VerifiedToken,
}

/// The account rules over one store.
pub struct Accounts {
    store: Arc<dyn Storage>,
    tokens: TokenKeys,
    passwords: PasswordHasher,
    /// Failed logins, per e-mail.
    login_failures: RateLimiter,
    /// `REFRESH_TOKEN_ROTATION`: a refresh hands out a new refresh token and retires the old one.
    rotation: bool,
}

impl Accounts {
    pub fn new(
        store: Arc<dyn Storage>,
        tokens: TokenKeys,
        passwords: PasswordHasher,
        login_failures: RateLimiter,
        rotation: bool,
    ) -> Self {
        Self {
            store,
            tokens,
            passwords,
            login_failures,
            rotation,
        }
    }

    /// Creates the account and logs it in.
    pub async fn register(&self, registration: Registration) -> AuthResult<LoggedIn> {
        // Checked before hashing so a taken e-mail costs no hash; the insert still catches races.
        if self.store.user_by_email(&registration.email).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let now = Utc::now();
        let user = User {
            id: UserId::new(),
            name: registration.name,
            email: registration.email,
            password_hash: self.passwords.hash(registration.password.expose()).await?,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_user(&user).await {
            Err(StoreError::Conflict) => return Err(AuthError::EmailTaken),
            other => other?,
        }
        let tokens = self.issue_tokens(user.id, None).await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(LoggedIn { user, tokens })
    }

    /// Checks the password (an unknown e-mail costs what a wrong password costs), throttles repeated
    /// failures, and replaces a hash the old backend wrote (bcrypt) or weaker parameters than today's.
    pub async fn login(&self, credentials: Credentials) -> AuthResult<LoggedIn> {
        let throttle_key = credentials.email.as_str();
        if let Some(decision) = self.login_failures.exceeded(throttle_key).await {
            return Err(AuthError::LoginThrottled(decision.info));
        }
        let user = self.store.user_by_email(&credentials.email).await?;
        // Unknown e-mails are checked against a decoy hash: same answer, similar time.
        let verdict = self
            .passwords
            .verify(&credentials.password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let (Some(user), Verdict::Match { upgrade }) = (user, verdict) else {
            self.login_failures.hit(throttle_key).await;
            return Err(AuthError::InvalidCredentials);
        };
        self.login_failures.reset(throttle_key).await;
        if upgrade {
            match self.passwords.hash(credentials.password.expose_secret()).await {
                Ok(hash) => {
                    self.store.set_password_hash(user.id, &hash).await?;
                    tracing::info!(user_id = %user.id, "password hash upgraded to argon2id");
                }
                Err(error) => {
                    tracing::warn!(user_id = %user.id, error = format!("{error:#}"), "could not upgrade password hash")
                }
            }
        }
        let tokens = self.issue_tokens(user.id, None).await?;
        Ok(LoggedIn { user, tokens })
    }

    /// The caller behind an access token: signed by us, of the access type, not expired, not revoked.
    pub async fn authenticate(&self, token: &str) -> AuthResult<Caller> {
        let token = self
            .tokens
            .verify(token, TokenKind::Access)
            .map_err(|_| AuthError::InvalidToken)?;
        if self.store.is_access_token_revoked(&token.revocation_key).await? {
            return Err(AuthError::RevokedToken);
        }
        Ok(Caller {
            id: token.user_id,
            token,
        })
    }

    /// Issues an access token and a refresh token, recording the refresh token (hashed). `family`
    /// ties a rotated token to the login it descends from; `None` starts a new family.
    async fn issue_tokens(&self, user: UserId, family: Option<String>) -> AuthResult<TokenPair> {
        let access = self.tokens.mint(user, TokenKind::Access)?;
        let refresh = self.tokens.mint(user, TokenKind::Refresh)?;
        let now = Utc::now();
        self.store
            .insert_session(&RefreshSession {
                token_hash: digest(&refresh.token),
                user_id: user,
                family_id: family.unwrap_or_else(|| hex::encode(rand::random::<[u8; 12]>())),
                created_at: now,
                expires_at: refresh.expires_at,
                rotated_at: None,
                revoked_at: None,
            })
            .await?;
        Ok(TokenPair {
            access,
            refresh: refresh.token,
        })
    }

    /// A new access token and (with rotation) a new refresh token. Presenting a token that was
    /// already rotated revokes every token of its family: either the client or an attacker holds a
    /// stolen copy, and the server cannot tell which (OAuth 2.0 Security BCP §4.14).
    pub async fn refresh(&self, token: &str) -> AuthResult<TokenPair> {
        let verified = self
            .tokens
            .verify(token, TokenKind::Refresh)
            .map_err(|_| AuthError::InvalidRefreshToken)?;
        let hash = digest(token);
        let now = Utc::now();

        let Some(session) = self.store.session_by_hash(&hash).await? else {
            // A token the old backend stored in clear: honoured once, then replaced by one of ours.
            if self.store.take_legacy_refresh_token(verified.user_id, token).await? {
                return self.issue_tokens(verified.user_id, None).await;
            }
            return Err(AuthError::InvalidRefreshToken);
        };
        if session.user_id != verified.user_id || session.expires_at <= now {
            return Err(AuthError::InvalidRefreshToken);
        }
        if session.revoked_at.is_some() {
            return Err(AuthError::RevokedRefreshToken);
        }

        if !self.rotation {
            let access = self.tokens.mint(verified.user_id, TokenKind::Access)?;
            return Ok(TokenPair {
                access,
                refresh: token.to_owned(),
            });
        }
        if session.rotated_at.is_some() || !self.store.mark_session_rotated(&hash, now).await? {
            tracing::warn!(user_id = %session.user_id, "refresh token reused; revoking its session family");
            self.store.revoke_session_family(&session.family_id, now).await?;
            return Err(AuthError::RevokedRefreshToken);
        }
        self.issue_tokens(verified.user_id, Some(session.family_id)).await
    }

    /// The access token used for the call stops working at once, on every instance; so does the
    /// given refresh token, or all of the user's refresh tokens when none is given.
    pub async fn logout(&self, caller: &Caller, refresh: Option<&str>) -> AuthResult<()> {
        let now = Utc::now();
        let user = caller.id;
        let access = &caller.token;
        self.store
            .revoke_access_token(&access.revocation_key, user, access.expires_at)
            .await?;
        match refresh {
            Some(token) => {
                self.store.revoke_session(user, &digest(token), now).await?;
                self.store.take_legacy_refresh_token(user, token).await?;
            }
            None => self.store.revoke_user_sessions(user, now).await?,
        }
        Ok(())
    }
}
