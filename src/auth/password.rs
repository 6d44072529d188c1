//! Password hashing: argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane) for new
//! hashes; bcrypt hashes written by the old backend still verify and are upgraded on the next
//! successful login.
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on the blocking thread pool (never on
//! the async workers that serve other requests) behind a semaphore sized to the CPU count: a login
//! storm queues here instead of stalling the server or allocating 19 MiB per waiting request.

use std::sync::Arc;

use anyhow::Context;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// The outcome of checking a password.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    /// The password is right; `upgrade` when the stored hash is bcrypt or weaker than today's
    /// parameters and should be replaced.
    Match {
        upgrade: bool,
    },
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when the e-mail is unknown, so that case costs what a wrong password costs.
    decoy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

fn verify_now(password: &str, stored: &str) -> Verdict {
    if stored.starts_with("$2") {
        // bcrypt as the old backend's bcryptjs wrote it ($2a$/$2b$/$2y$); it truncates at 72 bytes too.
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verdict::Match { upgrade: true },
            _ => Verdict::Mismatch,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verdict::Mismatch;
    };
    if argon2().verify_password(password.as_bytes(), &parsed).is_err() {
        return Verdict::Mismatch;
    }
    let current = Params::try_from(&parsed).ok();
    let upgrade = parsed.algorithm.as_str() != "argon2id"
        || current.is_none_or(|p| p.m_cost() < Params::DEFAULT_M_COST || p.t_cost() < Params::DEFAULT_T_COST);
    Verdict::Match { upgrade }
}

impl PasswordHasher {
    /// `parallelism`: how many hashes may run at once (the number of cores is right: more only
    /// adds memory, not throughput).
    pub fn new(parallelism: usize) -> anyhow::Result<Self> {
        let decoy = hash_now("decoy password that matches nothing").context("computing the decoy hash")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(parallelism.max(1))),
            decoy_hash: decoy.into(),
        })
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = SecretString::from(password);
        self.run(move || hash_now(password.expose_secret())).await?
    }

    /// Checks `password` against `stored`; with no stored hash (unknown user) it checks against a
    /// decoy so the answer takes as long as a real mismatch.
    pub async fn verify(&self, password: &SecretString, stored: Option<String>) -> anyhow::Result<Verdict> {
        let password = password.clone();
        let decoy = Arc::clone(&self.decoy_hash);
        self.run(move || match stored {
            Some(stored) => verify_now(password.expose_secret(), &stored),
            None => {
                let _ = verify_now(password.expose_secret(), &decoy);
                Verdict::Mismatch
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let _permit = self.permits.acquire().await.context("password hasher shut down")?;
        tokio::task::spawn_blocking(work)
            .await
            .context("password hashing task failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2_round_trip_and_bcrypt_upgrade() -> anyhow::Result<()> {
        let hasher = PasswordHasher::new(2)?;
        let hash = hasher.hash("Secret1").await?;
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let secret = SecretString::from("Secret1");
        assert_eq!(
            hasher.verify(&secret, Some(hash.clone())).await?,
            Verdict::Match { upgrade: false }
        );
        assert_eq!(
            hasher.verify(&SecretString::from("Wrong1"), Some(hash)).await?,
            Verdict::Mismatch
        );

        let legacy = bcrypt::hash("Secret1", 4)?.replacen("$2b$", "$2a$", 1);
        assert_eq!(
            hasher.verify(&secret, Some(legacy.clone())).await?,
            Verdict::Match { upgrade: true }
        );
        assert_eq!(
            hasher.verify(&SecretString::from("Secret2"), Some(legacy)).await?,
            Verdict::Mismatch
        );
        assert_eq!(hasher.verify(&secret, None).await?, Verdict::Mismatch);
        assert_eq!(hasher.verify(&secret, Some("garbage".into())).await?, Verdict::Mismatch);
        Ok(())
    }

    #[test]
    fn weaker_argon2_parameters_are_upgraded() -> anyhow::Result<()> {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).map_err(anyhow::Error::msg)?,
        )
        .hash_password(b"Secret1")
        .map_err(anyhow::Error::msg)?
        .to_string();
        assert_eq!(verify_now("Secret1", &weak), Verdict::Match { upgrade: true });
        Ok(())
    }
}
