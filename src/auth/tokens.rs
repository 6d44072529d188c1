//! JSON Web Tokens: HS256, access tokens for 15 minutes and refresh tokens for 7 days, with the
//! claims the old backend wrote (`userId`, `type`, `iat`) plus a unique `jti` (the old backend's
//! tokens minted in the same second were identical) used for revocation.
//!
//! A token is refused unless its signature, algorithm and type check out, it is not expired, it was
//! not issued (`iat`) or made valid (`nbf`) in the future beyond [`CLOCK_LEEWAY`], and it does not
//! claim a longer life than its kind has: a correctly signed token with `exp` in 2100 is a leaked
//! key's forgery, not one of ours.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::ids::UserId;

pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How far another server's clock may run ahead of ours.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(30);
/// How long after its `exp` a token is still taken (jsonwebtoken's `leeway`).
const EXPIRY_LEEWAY_SECS: u64 = 5;
/// Access tokens kept verified (see [`Verified`]): ~400 bytes each.
const VERIFIED_CAPACITY: usize = 4096;

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

    pub fn ttl(self) -> Duration {
        match self {
            TokenKind::Access => ACCESS_TOKEN_TTL,
            TokenKind::Refresh => REFRESH_TOKEN_TTL,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    #[serde(rename = "userId")]
    user_id: String,
    /// Always set, by the old backend too; a token without it is refused.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    exp: i64,
    /// The login an access token belongs to (shared by its refresh tokens), so ending the login refuses
    /// it at once. Absent in tokens minted before logins were tracked, and in the old backend's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
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
    /// The login it belongs to (`sid`), when it names one.
    pub login: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid or expired token")]
pub struct InvalidToken;

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    verified: Verified,
}

/// Access tokens whose signature and claims already checked out, by their whole text. A client
/// sends the same access token with every request for 15 minutes, and checking it again costs
/// more than anything else an authenticated read does: HMAC-SHA256 over it, base64 and JSON
/// decoding (~40,000 of a list's ~218,000 instructions, counted with callgrind). What can change
/// with time is checked again on every use: expiry. Revocation, the login's standing and the
/// user's existence are the store's, looked up on every request as before. Only tokens we signed
/// enter, and only while there is room (full: emptied, then filled again).
struct Verified {
    seed: u64,
    kept: Mutex<HashMap<u64, (Box<str>, VerifiedToken)>>,
}

impl Verified {
    fn new() -> Self {
        Self {
            seed: rand::random(),
            kept: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, token: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64_with_seed(token.as_bytes(), self.seed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Box<str>, VerifiedToken)>> {
        // Every change is one insert or clear: nothing is left half-done by a panic.
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The token as verified before, if it was: refused once expired at `now` (seconds), as
    /// jsonwebtoken would refuse it.
    fn get(&self, token: &str, now: i64) -> Option<Result<VerifiedToken, InvalidToken>> {
        let kept = self.lock();
        let (text, verified) = kept.get(&self.key(token))?;
        if **text != *token {
            return None;
        }
        Some(if verified.expires_at.timestamp() >= now - EXPIRY_LEEWAY_SECS as i64 {
            Ok(verified.clone())
        } else {
            Err(InvalidToken)
        })
    }

    fn put(&self, token: &str, verified: &VerifiedToken) {
        let key = self.key(token);
        let mut kept = self.lock();
        if kept.len() >= VERIFIED_CAPACITY {
            kept.clear();
        }
        kept.insert(key, (token.into(), verified.clone()));
    }
}

impl TokenKeys {
    pub fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        // Only HS256 is accepted: `alg: none`, other HMAC sizes and asymmetric algorithms are refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = EXPIRY_LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            verified: Verified::new(),
        }
    }

    /// A new token; an access token names its login (`sid`), a refresh token's login is on
    /// its server-side record.
    pub fn mint(&self, user: UserId, kind: TokenKind, login: Option<&str>) -> anyhow::Result<MintedToken> {
        let login = if kind == TokenKind::Access { login } else { None };
        self.sign(user, kind, hex::encode(rand::random::<[u8; 16]>()), Utc::now(), login)
    }

    /// The refresh token that replaces the one whose digest is `parent_hash`, rotated at
    /// `rotated_at`: the same token every time it is asked for (its `jti` comes from the parent, its
    /// times from the rotation), so requests racing with one refresh token all get one successor.
    pub fn mint_successor(
        &self,
        user: UserId,
        parent_hash: &str,
        rotated_at: DateTime<Utc>,
    ) -> anyhow::Result<MintedToken> {
        let jti = digest(&format!("successor-of:{parent_hash}"))[..32].to_owned();
        self.sign(user, TokenKind::Refresh, jti, rotated_at, None)
    }

    fn sign(
        &self,
        user: UserId,
        kind: TokenKind,
        jti: String,
        issued: DateTime<Utc>,
        login: Option<&str>,
    ) -> anyhow::Result<MintedToken> {
        let issued_at = issued.timestamp();
        let expires_at = DateTime::from_timestamp(issued_at, 0).unwrap_or(issued) + kind.ttl();
        let claims = Claims {
            user_id: user.to_string(),
            kind: Some(kind.claim().to_owned()),
            jti: Some(jti),
            iat: Some(issued_at),
            nbf: None,
            exp: expires_at.timestamp(),
            sid: login.map(str::to_owned),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(MintedToken { token, expires_at })
    }

    pub fn verify(&self, token: &str, expected: TokenKind) -> Result<VerifiedToken, InvalidToken> {
        self.verify_at(token, expected, Utc::now().timestamp())
    }

    /// [`Self::verify`] at `now` (seconds) as far as a token verified before is concerned (a new
    /// one's expiry is jsonwebtoken's to check, on the real clock).
    fn verify_at(&self, token: &str, expected: TokenKind, now: i64) -> Result<VerifiedToken, InvalidToken> {
        if expected != TokenKind::Access {
            return self.verify_signed(token, expected);
        }
        if let Some(known) = self.verified.get(token, now) {
            return known;
        }
        let verified = self.verify_signed(token, expected)?;
        self.verified.put(token, &verified);
        Ok(verified)
    }

    /// Signature, algorithm, type and times, from the token itself.
    fn verify_signed(&self, token: &str, expected: TokenKind) -> Result<VerifiedToken, InvalidToken> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| InvalidToken)?
            .claims;
        if claims.kind.as_deref() != Some(expected.claim()) {
            return Err(InvalidToken);
        }
        let latest_plausible = Utc::now().timestamp() + CLOCK_LEEWAY.as_secs() as i64;
        let issued_at = claims.iat.ok_or(InvalidToken)?;
        let lifetime = claims.exp.saturating_sub(issued_at);
        if issued_at > latest_plausible
            || claims.nbf.is_some_and(|nbf| nbf > latest_plausible)
            || lifetime > expected.ttl().as_secs() as i64
        {
            return Err(InvalidToken);
        }
        let user_id = UserId::parse(&claims.user_id).ok_or(InvalidToken)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(InvalidToken)?;
        let revocation_key = match claims.jti {
            Some(jti) if !jti.is_empty() && jti.len() <= 128 => jti,
            _ => format!("sha256:{}", digest(token)),
        };
        let login = match claims.sid {
            Some(sid) if sid.is_empty() || sid.len() > 64 => return Err(InvalidToken),
            sid => sid,
        };
        Ok(VerifiedToken {
            user_id,
            revocation_key,
            expires_at,
            login,
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
        let access = keys.mint(user, TokenKind::Access, None)?.token;
        let refresh = keys.mint(user, TokenKind::Refresh, None)?.token;
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
            keys.mint(user, TokenKind::Access, None)?.token,
            keys.mint(user, TokenKind::Access, None)?.token
        );
        Ok(())
    }

    #[test]
    fn other_keys_and_tampering_are_refused() -> anyhow::Result<()> {
        let ours = keys("a-secret-that-is-long-enough-for-hs256-0123");
        let theirs = keys("another-secret-that-is-long-enough-for-hs256");
        let token = theirs.mint(UserId::new(), TokenKind::Access, None)?.token;
        assert!(ours.verify(&token, TokenKind::Access).is_err());
        assert!(ours.verify("not.a.token", TokenKind::Access).is_err());
        Ok(())
    }

    #[test]
    fn a_token_verified_before_is_still_checked_for_expiry_type_and_tampering() -> anyhow::Result<()> {
        let keys = keys("a-secret-that-is-long-enough-for-hs256-0123");
        let user = UserId::new();
        let access = keys.mint(user, TokenKind::Access, Some("login-1"))?.token;
        let first = keys
            .verify(&access, TokenKind::Access)
            .map_err(|_| anyhow::anyhow!("refused"))?;
        let again = keys
            .verify(&access, TokenKind::Access)
            .map_err(|_| anyhow::anyhow!("refused"))?;
        assert_eq!(
            (again.user_id, &again.revocation_key, again.expires_at, &again.login),
            (first.user_id, &first.revocation_key, first.expires_at, &first.login)
        );
        assert_eq!(again.login.as_deref(), Some("login-1"));
        // Expired, as jsonwebtoken has it: refused once `exp` is more than the leeway behind.
        let exp = first.expires_at.timestamp();
        let leeway = EXPIRY_LEEWAY_SECS as i64;
        assert!(keys.verify_at(&access, TokenKind::Access, exp + leeway).is_ok());
        assert_eq!(
            keys.verify_at(&access, TokenKind::Access, exp + leeway + 1).err(),
            Some(InvalidToken)
        );
        // Not a refresh token because it was verified as an access token.
        assert_eq!(keys.verify(&access, TokenKind::Refresh).err(), Some(InvalidToken));
        // Any change to the text is a token of its own, checked from scratch.
        let mut tampered = access.clone();
        tampered.push('A');
        assert_eq!(keys.verify(&tampered, TokenKind::Access).err(), Some(InvalidToken));
        // Other keys keep their own: a token of this key is nothing to another.
        let other = super::TokenKeys::new(&SecretString::from("another-secret-that-is-long-enough-for-hs256"));
        assert_eq!(other.verify(&access, TokenKind::Access).err(), Some(InvalidToken));
        Ok(())
    }

    #[test]
    fn a_successor_is_the_same_token_every_time() -> anyhow::Result<()> {
        let keys = keys("a-secret-that-is-long-enough-for-hs256-0123");
        let user = UserId::new();
        let at = Utc::now();
        let first = keys.mint_successor(user, "parent", at)?.token;
        assert_eq!(first, keys.mint_successor(user, "parent", at)?.token);
        assert_ne!(first, keys.mint_successor(user, "another parent", at)?.token);
        assert!(keys.verify(&first, TokenKind::Refresh).is_ok());
        Ok(())
    }
}
