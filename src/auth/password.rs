//! Password hashing: argon2id with one of OWASP's recommended configurations (9 MiB, 4 passes, 1 lane:
//! the same defence as 19 MiB × 2 passes for the same CPU, at half the memory per login, which keeps
//! a login storm within the server's memory budget) for new hashes; hashes with other parameters, and
//! bcrypt hashes written by the old backend, still verify and are replaced on the next successful
//! login.
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on the blocking thread pool (never on
//! the async workers that serve other requests) behind a semaphore sized to the CPU count: a login
//! storm queues here instead of stalling the server or allocating working memory per waiting request.
//!
//! Checks reuse argon2's working memory: one 9 MiB buffer per permit, kept between checks (a hash
//! with larger parameters than today's lets argon2 allocate its own), because a fresh allocation per
//! check left freed blocks resident in the allocator's per-thread arenas and paid thousands of page
//! faults per check (the figures are in BENCHMARKS.md).

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordVerifier as _, Version};
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
    scratch: Arc<ScratchPool>,
}

/// argon2 working memory kept for reuse, at most one buffer per permit.
struct ScratchPool {
    buffers: std::sync::Mutex<Vec<Vec<Block>>>,
    max: usize,
}

impl ScratchPool {
    fn take(&self) -> Vec<Block> {
        self.buffers.lock().ok().and_then(|mut b| b.pop()).unwrap_or_default()
    }

    /// Every running check holds a permit, so at most `max` buffers exist; the cap is a safeguard.
    fn give_back(&self, buffer: Vec<Block>) {
        if let Ok(mut buffers) = self.buffers.lock()
            && buffers.len() < self.max
        {
            buffers.push(buffer);
        }
    }
}

/// m = 9 MiB, t = 4, p = 1 (OWASP Password Storage Cheat Sheet, argon2id option 3).
const M_COST_KIB: u32 = 9 * 1024;
const T_COST: u32 = 4;
const P_COST: u32 = 1;

/// Checked when compiling: invalid parameters are a build error, not a silent fallback.
const PARAMS: Params = match Params::new(M_COST_KIB, T_COST, P_COST, None) {
    Ok(params) => params,
    Err(_) => panic!("invalid argon2 parameters"),
};

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// A new argon2id hash (today's parameters, a random 16-byte salt) as a PHC string, computed in
/// `memory` (grown to today's size on first use) rather than a fresh allocation.
fn hash_now(password: &str, memory: &mut Vec<Block>) -> anyhow::Result<String> {
    let failed = |e: &dyn std::fmt::Display| anyhow::anyhow!("argon2 hashing failed: {e}");
    let params = PARAMS;
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let salt: [u8; 16] = rand::random();
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let memory = memory.get_mut(..blocks).context("argon2 memory")?;
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, memory)
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Checks `password` against an argon2 PHC hash in `memory` (grown up to today's size). `None` when the hash
/// cannot be checked this way (malformed parameters, or more memory than today's parameters need):
/// the caller lets argon2 allocate instead.
fn verify_argon2_in(password: &[u8], stored: &PasswordHash, memory: &mut Vec<Block>) -> Option<bool> {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Some(false);
    };
    let algorithm = Algorithm::try_from(stored.algorithm.as_str()).ok()?;
    let version = match stored.version {
        Some(version) => Version::try_from(version).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(stored).ok()?;
    let blocks = params.block_count();
    if blocks > PARAMS.block_count() {
        return None;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut output = [0u8; Output::MAX_LENGTH];
    let output = output.get_mut(..expected.len())?;
    // Every block is written before it is read, so what a previous check left there does not matter.
    let memory = memory.get_mut(..blocks)?;
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, output, memory)
        .ok()?;
    // `Output`'s equality is constant-time.
    Some(Output::new(output).ok()? == *expected)
}

fn verify_now(password: &str, stored: &str, memory: &mut Vec<Block>) -> Verdict {
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
    let matches = verify_argon2_in(password.as_bytes(), &parsed, memory)
        .unwrap_or_else(|| argon2().verify_password(password.as_bytes(), &parsed).is_ok());
    if !matches {
        return Verdict::Mismatch;
    }
    let upgrade = parsed.algorithm != argon2::ARGON2ID_IDENT
        || Params::try_from(&parsed).ok().is_none_or(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost()) != (PARAMS.m_cost(), PARAMS.t_cost(), PARAMS.p_cost())
        });
    Verdict::Match { upgrade }
}

impl PasswordHasher {
    /// `parallelism`: how many hashes may run at once (the number of cores is right: more only
    /// adds memory, not throughput).
    pub fn new(parallelism: usize) -> anyhow::Result<Self> {
        let mut memory = Vec::new();
        let decoy = hash_now("decoy password that matches nothing", &mut memory).context("computing the decoy hash")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(parallelism.max(1))),
            decoy_hash: decoy.into(),
            scratch: Arc::new(ScratchPool {
                buffers: std::sync::Mutex::new(vec![memory]),
                max: parallelism.max(1),
            }),
        })
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = SecretString::from(password);
        let scratch = Arc::clone(&self.scratch);
        self.run(move || {
            let mut memory = scratch.take();
            let hash = hash_now(password.expose_secret(), &mut memory);
            scratch.give_back(memory);
            hash
        })
        .await?
    }

    /// Checks `password` against `stored`; with no stored hash (unknown user) it checks against a
    /// decoy so the answer takes as long as a real mismatch.
    pub async fn verify(&self, password: &SecretString, stored: Option<String>) -> anyhow::Result<Verdict> {
        let password = password.clone();
        let decoy = Arc::clone(&self.decoy_hash);
        let scratch = Arc::clone(&self.scratch);
        self.run(move || {
            let mut memory = scratch.take();
            let verdict = match stored {
                Some(stored) => verify_now(password.expose_secret(), &stored, &mut memory),
                None => {
                    let _ = verify_now(password.expose_secret(), &decoy, &mut memory);
                    Verdict::Mismatch
                }
            };
            scratch.give_back(memory);
            verdict
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .context("password hasher shut down")?;
        // The permit goes with the work: when a client hangs up mid-check, the check still runs to
        // its end and keeps its permit (and its buffer) until then, so a wave of disconnects cannot
        // start more checks, or allocate more buffers, than there are permits.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .context("password hashing task failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher as _;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_check_whose_caller_hung_up_keeps_its_permit_until_it_ends() -> anyhow::Result<()> {
        let hasher = PasswordHasher::new(1)?;
        let stored = hasher.hash("Secret1").await?;
        let password = SecretString::from("Secret1");
        // The caller gives up long before the check can finish (a client that disconnects).
        let abandoned = tokio::time::timeout(
            std::time::Duration::from_micros(1),
            hasher.verify(&password, Some(stored.clone())),
        )
        .await;
        assert!(abandoned.is_err(), "the check cannot finish in a microsecond");
        // The check still runs: no second check may start, or a wave of disconnects would run
        // (and allocate for) more checks than there are cores.
        assert_eq!(
            hasher.permits.available_permits(),
            0,
            "the abandoned check released its permit while still running"
        );
        let started = std::time::Instant::now();
        while hasher.permits.available_permits() == 0 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the permit never came back"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let kept_buffers = hasher.scratch.buffers.lock().map(|b| b.len()).unwrap_or_default();
        assert_eq!(
            kept_buffers, 1,
            "one buffer per permit, given back when the check ended"
        );
        assert_eq!(
            hasher.verify(&password, Some(stored)).await?,
            Verdict::Match { upgrade: false }
        );
        Ok(())
    }

    #[tokio::test]
    async fn argon2_round_trip_and_bcrypt_upgrade() -> anyhow::Result<()> {
        let hasher = PasswordHasher::new(2)?;
        let hash = hasher.hash("Secret1").await?;
        assert!(hash.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{hash}");
        // The reference implementation accepts our hash, and ours accepts the reference's.
        let parsed = PasswordHash::new(&hash).map_err(anyhow::Error::msg)?;
        assert!(argon2().verify_password(b"Secret123".as_slice(), &parsed).is_err());
        assert!(argon2().verify_password(b"Secret1".as_slice(), &parsed).is_ok());
        let reference = argon2()
            .hash_password(b"Secret1")
            .map_err(anyhow::Error::msg)?
            .to_string();
        assert_eq!(
            verify_now("Secret1", &reference, &mut Vec::new()),
            Verdict::Match { upgrade: false }
        );
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
        // One buffer for every check, as in the server: what a check with other parameters left in
        // it must not change the next answer.
        let mut memory = Vec::new();
        let today = hash_now("Secret1", &mut memory)?;
        assert_eq!(
            verify_now("Secret1", &weak, &mut memory),
            Verdict::Match { upgrade: true }
        );
        assert_eq!(verify_now("Secret2", &weak, &mut memory), Verdict::Mismatch);
        // Hashes made with argon2's own defaults (19 MiB, t = 2) still verify, and are re-made with
        // today's configuration (their memory exceeds the reused buffer, so argon2 allocates).
        let older = Argon2::default()
            .hash_password(b"Secret1")
            .map_err(anyhow::Error::msg)?
            .to_string();
        assert!(older.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            verify_now("Secret1", &older, &mut memory),
            Verdict::Match { upgrade: true }
        );
        assert_eq!(verify_now("Secret2", &older, &mut memory), Verdict::Mismatch);
        assert_eq!(
            verify_now("Secret1", &today, &mut memory),
            Verdict::Match { upgrade: false }
        );
        assert_eq!(
            verify_now("Secret1", &weak, &mut memory),
            Verdict::Match { upgrade: true }
        );
        Ok(())
    }
}
