//! The JWT signing secret: `JWT_SECRET`, or — outside production, when it is not set — one kept in
//! the data directory, made on the first start and reused after, so a restart logs nobody out.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::MIN_JWT_SECRET_BYTES;

#[derive(Clone, Debug)]
pub enum JwtSecret {
    /// `JWT_SECRET`.
    Given(SecretString),
    /// A file of the data directory (readable by its owner only).
    KeptIn(PathBuf),
}

impl JwtSecret {
    /// The secret: the given one, or the file's (made now, when there is none yet).
    pub fn load(&self) -> anyhow::Result<SecretString> {
        match self {
            JwtSecret::Given(secret) => Ok(secret.clone()),
            JwtSecret::KeptIn(path) => load_or_create(path),
        }
    }
}

fn load_or_create(path: &Path) -> anyhow::Result<SecretString> {
    let read = |path: &Path| -> anyhow::Result<SecretString> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading the JWT secret kept in {}: {e}", path.display()))?;
        let secret = text.trim().to_owned();
        anyhow::ensure!(
            secret.len() >= MIN_JWT_SECRET_BYTES,
            "the JWT secret kept in {} is shorter than {MIN_JWT_SECRET_BYTES} bytes; delete the file to make a new one",
            path.display()
        );
        Ok(SecretString::from(secret))
    };
    if path.exists() {
        let secret = read(path)?;
        tracing::warn!(path = %path.display(), "JWT_SECRET is not set: using the secret kept in the data directory");
        return Ok(secret);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    let secret = SecretString::from(hex::encode(rand::random::<[u8; 32]>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.expose_secret().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| anyhow::anyhow!("writing the JWT secret to {}: {e}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                "JWT_SECRET is not set: made a secret and kept it in the data directory (owner-only); \
                 tokens stay valid across restarts. Production requires JWT_SECRET"
            );
            Ok(secret)
        }
        // Another instance made it a moment ago: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(error) => anyhow::bail!("creating {}: {error}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused_and_private() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let kept = JwtSecret::KeptIn(dir.path().join("data").join("jwt-secret"));
        let first = kept.load()?;
        let second = kept.load()?;
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(first.expose_secret().len() >= MIN_JWT_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("data").join("jwt-secret"))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }
}
