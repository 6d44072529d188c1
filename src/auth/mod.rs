//! Accounts and authentication: every account rule lives here — registration, login (the
//! failed-login throttle, the password check, the upgrade of old hashes), token minting, refresh
//! rotation with reuse detection, logout, and the check every authenticated request passes. It works
//! on the storage trait and knows nothing of HTTP: the HTTP layer parses a request into domain types,
//! calls [`Accounts`], and turns an [`AuthError`] into its response.

pub mod password;
pub mod tokens;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use self::password::{PasswordHasher, Verdict};
use self::tokens::{MintedToken, TokenKeys, TokenKind, VerifiedToken, digest};
use crate::domain::ids::UserId;
use crate::domain::user::{Credentials, Registration, User};
use crate::ratelimit::{RateLimitInfo, RateLimiter};
use crate::storage::{RefreshSession, Storage, StoreError, TokenStanding};

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

/// Failed logins are counted twice: per e-mail *and client address* (a few per window), so an
/// attacker who knows a victim's e-mail cannot lock the victim out from elsewhere; and per e-mail
/// from every address (many per window), which stops guessing spread over many addresses.
pub struct LoginThrottle {
    pub per_address: RateLimiter,
    pub per_account: RateLimiter,
}

impl LoginThrottle {
    fn address_key(email: &str, client: IpAddr) -> String {
        format!("{email}:{client}")
    }
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
}

impl Accounts {
    pub fn new(
        store: Arc<dyn Storage>,
        tokens: TokenKeys,
        passwords: PasswordHasher,
        throttle: LoginThrottle,
        refresh: RefreshPolicy,
    ) -> Self {
        Self {
            store,
            tokens,
            passwords,
            throttle,
            refresh,
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
    /// failures (see [`LoginThrottle`]), and replaces a hash the old backend wrote (bcrypt) or one
    /// with weaker parameters than today's.
    pub async fn login(&self, credentials: Credentials, client: IpAddr) -> AuthResult<LoggedIn> {
        let email = credentials.email.as_str();
        let address_key = LoginThrottle::address_key(email, client);
        let (per_address, per_account) = tokio::join!(
            self.throttle.per_address.exceeded(&address_key),
            self.throttle.per_account.exceeded(email),
        );
        if let Some(refused) = per_address.or(per_account) {
            return Err(AuthError::LoginThrottled(refused.info));
        }
        let user = self.store.user_by_email(&credentials.email).await?;
        // Unknown e-mails are checked against a decoy hash: same answer, similar time.
        let verdict = self
            .passwords
            .verify(&credentials.password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let (Some(user), Verdict::Match { upgrade }) = (user, verdict) else {
            tokio::join!(
                self.throttle.per_address.hit(&address_key),
                self.throttle.per_account.hit(email),
            );
            return Err(AuthError::InvalidCredentials);
        };
        // The address's count starts over; the account's keeps counting what others tried.
        self.throttle.per_address.reset(&address_key).await;
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

    /// The caller behind an access token: signed by us with plausible times, of the access type,
    /// not revoked, and of a user that exists (one lookup answers both).
    pub async fn authenticate(&self, token: &str) -> AuthResult<Caller> {
        let token = self
            .tokens
            .verify(token, TokenKind::Access)
            .map_err(|_| AuthError::InvalidToken)?;
        match self
            .store
            .access_token_standing(&token.revocation_key, token.user_id)
            .await?
        {
            TokenStanding::Valid => Ok(Caller {
                id: token.user_id,
                token,
            }),
            TokenStanding::Revoked => Err(AuthError::RevokedToken),
            TokenStanding::UnknownUser => Err(AuthError::InvalidToken),
        }
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
    /// stolen copy, and the server cannot tell which (OAuth 2.0 Security BCP §4.14) — unless it comes
    /// within the reuse interval of its rotation while its successor is still the live token: that is
    /// two tabs (or a retried request) refreshing at once, and it gets the same successor.
    pub async fn refresh(&self, token: &str) -> AuthResult<TokenPair> {
        let verified = self
            .tokens
            .verify(token, TokenKind::Refresh)
            .map_err(|_| AuthError::InvalidRefreshToken)?;
        let hash = digest(token);
        // Stored with millisecond precision: the successor is derived from exactly what is stored.
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now);

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
        if !self.refresh.rotation {
            let access = self.tokens.mint(verified.user_id, TokenKind::Access)?;
            return Ok(TokenPair {
                access,
                refresh: token.to_owned(),
            });
        }
        // The rotation is one conditional update: of any number of concurrent uses, one wins.
        if session.rotated_at.is_none() && self.store.mark_session_rotated(&hash, now).await? {
            return self.successor(&session, now).await;
        }
        // Rotated before, or by a concurrent request just now: read when. (A rotation "in the future"
        // is another instance's clock running ahead: it counts as just now.)
        let session = match session.rotated_at {
            Some(_) => session,
            None => self
                .store
                .session_by_hash(&hash)
                .await?
                .ok_or(AuthError::InvalidRefreshToken)?,
        };
        if let Some(rotated_at) = session.rotated_at
            && session.revoked_at.is_none()
            && (now - rotated_at).to_std().unwrap_or_default() < self.refresh.reuse_interval
            && let Some(pair) = self.live_successor(&session, rotated_at).await?
        {
            return Ok(pair);
        }
        tracing::warn!(user_id = %session.user_id, "refresh token reused; revoking its session family");
        self.store.revoke_session_family(&session.family_id, now).await?;
        Err(AuthError::RevokedRefreshToken)
    }

    /// The successor of `parent`, rotated at `rotated_at` (the same token for every request that
    /// asks), recorded once, with a fresh access token.
    async fn successor(&self, parent: &RefreshSession, rotated_at: DateTime<Utc>) -> AuthResult<TokenPair> {
        let refresh = self
            .tokens
            .mint_successor(parent.user_id, &parent.token_hash, rotated_at)?;
        let recorded = self
            .store
            .insert_session(&RefreshSession {
                token_hash: digest(&refresh.token),
                user_id: parent.user_id,
                family_id: parent.family_id.clone(),
                created_at: rotated_at,
                expires_at: refresh.expires_at,
                rotated_at: None,
                revoked_at: None,
            })
            .await;
        match recorded {
            // A concurrent request recorded the same successor first.
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(error) => return Err(error.into()),
        }
        Ok(TokenPair {
            access: self.tokens.mint(parent.user_id, TokenKind::Access)?,
            refresh: refresh.token,
        })
    }

    /// The successor again, for a request that lost the race to rotate `parent` — if it is still the
    /// family's live token. `None` when it was rotated or revoked since: then `parent` is an older
    /// ancestor, and presenting it is reuse.
    async fn live_successor(
        &self,
        parent: &RefreshSession,
        rotated_at: DateTime<Utc>,
    ) -> AuthResult<Option<TokenPair>> {
        let refresh = self
            .tokens
            .mint_successor(parent.user_id, &parent.token_hash, rotated_at)?;
        match self.store.session_by_hash(&digest(&refresh.token)).await? {
            Some(live) if live.rotated_at.is_none() && live.revoked_at.is_none() => Ok(Some(TokenPair {
                access: self.tokens.mint(parent.user_id, TokenKind::Access)?,
                refresh: refresh.token,
            })),
            // The winner has not recorded it yet (or failed to): record it here.
            None => self.successor(parent, rotated_at).await.map(Some),
            Some(_) => Ok(None),
        }
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
