//! Tokens and logins: a login's first tokens, refresh rotation with reuse detection, logout.

use chrono::{DateTime, Utc};

use super::tokens::{TokenKind, digest};
use super::{Accounts, AuthError, AuthResult, Caller, Client, TokenPair};
use crate::domain::ids::UserId;
use crate::storage::{RefreshToken, StoreError, TokenStanding};

impl Accounts {
    /// A new login: its first refresh token (recorded hashed, with the login) and an access token
    /// that names it.
    pub(super) async fn start_login(&self, user: UserId, client: &Client) -> AuthResult<TokenPair> {
        let login_id = hex::encode(rand::random::<[u8; 12]>());
        let refresh = self.tokens.mint(user, TokenKind::Refresh, None)?;
        self.store
            .insert_refresh_token(&RefreshToken {
                token_hash: digest(&refresh.token),
                user_id: user,
                login_id: login_id.clone(),
                created_at: Utc::now(),
                expires_at: refresh.expires_at,
                rotated_at: None,
                revoked_at: None,
                user_agent: client.user_agent.clone(),
            })
            .await?;
        Ok(TokenPair {
            access: self.tokens.mint(user, TokenKind::Access, Some(&login_id))?,
            refresh: refresh.token,
        })
    }

    /// A new access token and (with rotation) a new refresh token. Presenting a token that was
    /// already rotated ends its whole login: either the client or an attacker holds a
    /// stolen copy, and the server cannot tell which (OAuth 2.0 Security BCP §4.14) — unless it comes
    /// within the reuse interval of its rotation while its successor is still the live token: that is
    /// two tabs (or a retried request) refreshing at once, and it gets the same successor.
    pub async fn refresh(&self, token: &str, client: &Client) -> AuthResult<TokenPair> {
        let verified = self
            .tokens
            .verify(token, TokenKind::Refresh)
            .map_err(|_| AuthError::InvalidRefreshToken)?;
        let hash = digest(token);
        // Stored with millisecond precision: the successor is derived from exactly what is stored.
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now);

        let Some(stored) = self.store.refresh_token_by_hash(&hash).await? else {
            // A token the old backend stored in clear: honoured once, then replaced by one of ours.
            if self.store.take_legacy_refresh_token(verified.user_id, token).await? {
                return self.start_login(verified.user_id, client).await;
            }
            return Err(AuthError::InvalidRefreshToken);
        };
        if stored.user_id != verified.user_id || stored.expires_at <= now {
            return Err(AuthError::InvalidRefreshToken);
        }
        if stored.revoked_at.is_some() {
            return Err(AuthError::RevokedRefreshToken);
        }
        if !self.refresh.rotation {
            let access = self
                .tokens
                .mint(verified.user_id, TokenKind::Access, Some(&stored.login_id))?;
            return Ok(TokenPair {
                access,
                refresh: token.to_owned(),
            });
        }
        // The rotation is one conditional update: of any number of concurrent uses, one wins.
        if stored.rotated_at.is_none() && self.store.mark_refresh_token_rotated(&hash, now).await? {
            return self.successor(&stored, now).await;
        }
        // Rotated before, or by a concurrent request just now: read when. (A rotation "in the future"
        // is another instance's clock running ahead: it counts as just now.)
        let stored = match stored.rotated_at {
            Some(_) => stored,
            None => self
                .store
                .refresh_token_by_hash(&hash)
                .await?
                .ok_or(AuthError::InvalidRefreshToken)?,
        };
        if let Some(rotated_at) = stored.rotated_at
            && stored.revoked_at.is_none()
            && (now - rotated_at).to_std().unwrap_or_default() < self.refresh.reuse_interval
            && let Some(pair) = self.live_successor(&stored, rotated_at).await?
        {
            return Ok(pair);
        }
        tracing::warn!(user_id = %stored.user_id, "refresh token reused; ending its login");
        self.store.end_login(&stored.login_id, now).await?;
        Err(AuthError::RevokedRefreshToken)
    }

    /// The successor of `parent`, rotated at `rotated_at` (the same token for every request that
    /// asks), recorded once, with a fresh access token.
    async fn successor(&self, parent: &RefreshToken, rotated_at: DateTime<Utc>) -> AuthResult<TokenPair> {
        let refresh = self
            .tokens
            .mint_successor(parent.user_id, &parent.token_hash, rotated_at)?;
        let recorded = self
            .store
            .insert_refresh_token(&RefreshToken {
                token_hash: digest(&refresh.token),
                user_id: parent.user_id,
                login_id: parent.login_id.clone(),
                created_at: rotated_at,
                expires_at: refresh.expires_at,
                rotated_at: None,
                revoked_at: None,
                user_agent: None,
            })
            .await;
        match recorded {
            // A concurrent request recorded the same successor first.
            Ok(()) | Err(StoreError::Conflict) => {}
            // The account was deleted meanwhile.
            Err(StoreError::NoSuchUser) => return Err(AuthError::InvalidRefreshToken),
            Err(error) => return Err(error.into()),
        }
        let pair = TokenPair {
            access: self
                .tokens
                .mint(parent.user_id, TokenKind::Access, Some(&parent.login_id))?,
            refresh: refresh.token,
        };
        self.handed_out_only_if_live(parent, pair).await
    }

    /// `pair` (of `parent`'s login), if that login is still live now that its successor is recorded.
    /// Ending a login (logout everywhere, `DELETE /auth/sessions/{id}`) marks the login ended before
    /// it revokes the login's refresh tokens, so a refresh racing it either recorded its successor
    /// in time to be revoked with the others, or sees the login ended here — then the successor is
    /// ended with its login and nothing is handed out. Either way, what a refresh that lost the
    /// race hands out is refused afterwards.
    async fn handed_out_only_if_live(&self, parent: &RefreshToken, pair: TokenPair) -> AuthResult<TokenPair> {
        let access = self
            .tokens
            .verify(&pair.access.token, TokenKind::Access)
            .map_err(|_| AuthError::Internal(anyhow::anyhow!("an access token just minted does not verify")))?;
        let standing = self
            .store
            .access_token_standing(&access.revocation_key, access.user_id, access.login.as_deref())
            .await?;
        match standing {
            TokenStanding::Valid { .. } => Ok(pair),
            TokenStanding::Revoked => {
                self.store.end_login(&parent.login_id, Utc::now()).await?;
                Err(AuthError::RevokedRefreshToken)
            }
            TokenStanding::UnknownUser => Err(AuthError::InvalidRefreshToken),
        }
    }

    /// The successor again, for a request that lost the race to rotate `parent` — if it is still the
    /// login's live token. `None` when it was rotated or revoked since: then `parent` is an older
    /// ancestor, and presenting it is reuse.
    async fn live_successor(&self, parent: &RefreshToken, rotated_at: DateTime<Utc>) -> AuthResult<Option<TokenPair>> {
        let refresh = self
            .tokens
            .mint_successor(parent.user_id, &parent.token_hash, rotated_at)?;
        match self.store.refresh_token_by_hash(&digest(&refresh.token)).await? {
            Some(live) if live.rotated_at.is_none() && live.revoked_at.is_none() => {
                let pair = TokenPair {
                    access: self
                        .tokens
                        .mint(parent.user_id, TokenKind::Access, Some(&parent.login_id))?,
                    refresh: refresh.token,
                };
                self.handed_out_only_if_live(parent, pair).await.map(Some)
            }
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
                self.store.end_login_of_refresh_token(user, &digest(token), now).await?;
                self.store.take_legacy_refresh_token(user, token).await?;
            }
            None => self.store.end_every_login(user, now).await?,
        }
        Ok(())
    }
}
