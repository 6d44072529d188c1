//! Authentication: passwords, tokens, and the refresh-session rules (rotation with reuse detection,
//! revocation on logout) on top of the storage trait.

pub mod password;
pub mod tokens;

use chrono::Utc;

use self::tokens::{MintedToken, TokenKind, VerifiedToken, digest};
use crate::domain::ids::UserId;
use crate::error::{ApiError, ApiResult};
use crate::state::AppContext;
use crate::storage::RefreshSession;

/// What a login, registration or refresh hands out.
pub struct TokenPair {
    pub access: MintedToken,
    pub refresh: String,
}

const INVALID_REFRESH: ApiError = ApiError::Unauthorized("Invalid or expired refresh token");
const REVOKED_REFRESH: ApiError = ApiError::Unauthorized("Refresh token has been revoked");

/// Issues an access token and a refresh token, recording the refresh token (hashed). `family` ties
/// a rotated token to the login it descends from; `None` starts a new family.
pub async fn issue_tokens(ctx: &AppContext, user: UserId, family: Option<String>) -> ApiResult<TokenPair> {
    let access = ctx.tokens.mint(user, TokenKind::Access)?;
    let refresh = ctx.tokens.mint(user, TokenKind::Refresh)?;
    let now = Utc::now();
    ctx.store
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

/// `POST /auth/refresh`: a new access token and (with rotation) a new refresh token. Presenting a
/// token that was already rotated revokes every token of its family: either the client or an
/// attacker holds a stolen copy, and the server cannot tell which (OAuth 2.0 Security BCP §4.14).
pub async fn refresh(ctx: &AppContext, token: &str) -> ApiResult<TokenPair> {
    let verified = ctx
        .tokens
        .verify(token, TokenKind::Refresh)
        .map_err(|_| INVALID_REFRESH)?;
    let hash = digest(token);
    let now = Utc::now();

    let Some(session) = ctx.store.session_by_hash(&hash).await? else {
        // A token the old backend stored in clear: honoured once, then replaced by one of ours.
        if ctx.store.take_legacy_refresh_token(verified.user_id, token).await? {
            return issue_tokens(ctx, verified.user_id, None).await;
        }
        return Err(INVALID_REFRESH);
    };
    if session.user_id != verified.user_id || session.expires_at <= now {
        return Err(INVALID_REFRESH);
    }
    if session.revoked_at.is_some() {
        return Err(REVOKED_REFRESH);
    }

    if !ctx.settings.refresh_token_rotation {
        let access = ctx.tokens.mint(verified.user_id, TokenKind::Access)?;
        return Ok(TokenPair {
            access,
            refresh: token.to_owned(),
        });
    }
    if session.rotated_at.is_some() || !ctx.store.mark_session_rotated(&hash, now).await? {
        tracing::warn!(user_id = %session.user_id, "refresh token reused; revoking its session family");
        ctx.store.revoke_session_family(&session.family_id, now).await?;
        return Err(REVOKED_REFRESH);
    }
    issue_tokens(ctx, verified.user_id, Some(session.family_id)).await
}

/// `POST /auth/logout`: the access token used for the call stops working at once, on every instance;
/// so does the given refresh token, or all of the user's refresh tokens when none is given.
pub async fn logout(ctx: &AppContext, access: &VerifiedToken, refresh: Option<&str>) -> ApiResult<()> {
    let now = Utc::now();
    let user = access.user_id;
    ctx.store
        .revoke_access_token(&access.revocation_key, user, access.expires_at)
        .await?;
    match refresh {
        Some(token) => {
            ctx.store.revoke_session(user, &digest(token), now).await?;
            ctx.store.take_legacy_refresh_token(user, token).await?;
        }
        None => ctx.store.revoke_user_sessions(user, now).await?,
    }
    Ok(())
}
