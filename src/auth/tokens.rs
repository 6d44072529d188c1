//! JSON Web Tokens: HS256, access tokens for 15 minutes and refresh tokens for 7 days, with the
//! claims the old backend wrote (`userId`, `type`) plus a unique `jti` (the old backend's tokens minted
//! in the same second were identical) used for revocation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::ids::UserId;

pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    fn claim(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    #[serde(rename = "userId")]
    user_id: String,
    /// Absent in tokens from before the old backend introduced refresh tokens: those were access tokens.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    exp: i64,
}

/// A freshly signed token.
pub struct MintedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A token whose signature, expiry and type checked out.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub user_id: UserId,
    /// What a revocation of this token is recorded under: its `jti`, or a digest of the whole token
    /// for the old backend's tokens that have none.
    pub revocation_key: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid or expired token")]
pub struct InvalidToken;

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        // Only HS256 is accepted: `alg: none`, other HMAC sizes and asymmetric algorithms are refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }

    pub fn mint(&self, user: UserId, kind: TokenKind) -> anyhow::Result<MintedToken> {
        let ttl = match kind {
            TokenKind::Access => ACCESS_TOKEN_TTL,
            TokenKind::Refresh => REFRESH_TOKEN_TTL,
        };
        let now = Utc::now();
        let expires_at = now + ttl;
        let claims = Claims {
            user_id: user.to_string(),
            kind: Some(kind.claim().to_owned()),
            jti: Some(hex::encode(rand::random::<[u8; 16]>())),
            iat: Some(now.timestamp()),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(MintedToken { token, expires_at })
    }

    pub fn verify(&self, token: &str, expected: TokenKind) -> Result<VerifiedToken, InvalidToken> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| InvalidToken)?
            .claims;
        let kind_ok = match (claims.kind.as_deref(), expected) {
            (Some(kind), expected) => kind == expected.claim(),
            (None, TokenKind::Access) => true,
            (None, TokenKind::Refresh) => false,
        };
        if !kind_ok {
            return Err(InvalidToken);
        }
        let user_id = UserId::parse(&claims.user_id).ok_or(InvalidToken)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(InvalidToken)?;
        let revocation_key = match claims.jti {
            Some(jti) if !jti.is_empty() && jti.len() <= 128 => jti,
            _ => format!("sha256:{}", digest(token)),
        };
        Ok(VerifiedToken {
            user_id,
            revocation_key,
            expires_at,
        })
    }
}

/// SHA-256 of a token, hex: how refresh tokens are stored (a leaked database holds no usable token).
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&SecretString::from(secret))
    }

    #[test]
    fn access_and_refresh_tokens_are_not_interchangeable() -> anyhow::Result<()> {
        let keys = keys("a-secret-that-is-long-enough-for-hs256-0123");
        let user = UserId::new();
        let access = keys.mint(user, TokenKind::Access)?.token;
        let refresh = keys.mint(user, TokenKind::Refresh)?.token;
        assert_eq!(keys.verify(&access, TokenKind::Access).map(|t| t.user_id), Ok(user));
        assert_eq!(keys.verify(&refresh, TokenKind::Access).err(), Some(InvalidToken));
        assert_eq!(keys.verify(&access, TokenKind::Refresh).err(), Some(InvalidToken));
        Ok(())
    }

    #[test]
    fn tokens_minted_together_differ() -> anyhow::Result<()> {
        let keys = keys("a-secret-that-is-long-enough-for-hs256-0123");
        let user = UserId::new();
        assert_ne!(
            keys.mint(user, TokenKind::Access)?.token,
            keys.mint(user, TokenKind::Access)?.token
        );
        Ok(())
    }

    #[test]
    fn other_keys_and_tampering_are_refused() -> anyhow::Result<()> {
        let ours = keys("a-secret-that-is-long-enough-for-hs256-0123");
        let theirs = keys("another-secret-that-is-long-enough-for-hs256");
        let token = theirs.mint(UserId::new(), TokenKind::Access)?.token;
        assert!(ours.verify(&token, TokenKind::Access).is_err());
        assert!(ours.verify("not.a.token", TokenKind::Access).is_err());
        Ok(())
    }
}
