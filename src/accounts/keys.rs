//! Secrets the accounts area needs: the JWT signing keys and the data key that
//! seals TOTP secrets at rest (AES-256-GCM). Both come from settings or the
//! environment; when a setting is empty, a key is generated on first start and kept
//! in the data dir (mode 0600) with a warning, so the embedded defaults still run.
//! Key material is never logged.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::AccountsError;
use crate::auth::jwt::{MIN_SECRET_BYTES, SigningKey};

const JWT_KEY_FILE: &str = "jwt-signing.key";
const DATA_KEY_FILE: &str = "data.key";

/// Reads `path` or, when missing, writes `make()` there (0600) and returns it.
fn load_or_create(path: &Path, make: impl FnOnce() -> String) -> Result<String, AccountsError> {
    match std::fs::read_to_string(path) {
        Ok(s) => return Ok(s.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(AccountsError::Internal(format!("{}: {e}", path.display()))),
    }
    let value = make();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| AccountsError::Internal(format!("{}: {e}", dir.display())))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AccountsError::Internal(format!("{}: {e}", path.display())))?;
    f.write_all(value.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| AccountsError::Internal(format!("{}: {e}", path.display())))?;
    tracing::warn!(
        file = %path.display(),
        "no key configured: generated one in the data dir; set it in settings for production"
    );
    Ok(value)
}

fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    data_encoding::BASE64.encode(&bytes)
}

/// The signing keys, newest first, from `configured` ("kid:secret" each) or the
/// data dir.
pub fn jwt_keys(configured: &[String], data_dir: &Path) -> Result<Vec<SigningKey>, AccountsError> {
    let entries: Vec<String> = if configured.is_empty() {
        let line = load_or_create(&data_dir.join(JWT_KEY_FILE), || {
            format!("k1:{}", random_b64(48))
        })?;
        vec![line]
    } else {
        configured.to_vec()
    };
    entries
        .iter()
        .map(|e| {
            let (kid, secret) = e.split_once(':').ok_or_else(|| {
                AccountsError::Internal("auth.jwt_keys entries are \"kid:secret\"".into())
            })?;
            if kid.is_empty() || secret.len() < MIN_SECRET_BYTES {
                return Err(AccountsError::Internal(format!(
                    "auth.jwt_keys: key {kid:?} needs a kid and a secret of at least {MIN_SECRET_BYTES} bytes"
                )));
            }
            Ok(SigningKey {
                kid: kid.to_owned(),
                secret: secret.as_bytes().to_vec(),
            })
        })
        .collect()
}

/// Seals and opens small secrets with AES-256-GCM; the associated data binds a
/// ciphertext to its owner, so one user's sealed secret cannot be moved to another.
#[derive(Clone)]
pub struct DataKey(std::sync::Arc<LessSafeKey>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// From `configured` (32 bytes, base64) or the data dir.
    pub fn load(configured: &str, data_dir: &Path) -> Result<Self, AccountsError> {
        let b64 = if configured.is_empty() {
            load_or_create(&data_dir.join(DATA_KEY_FILE), || random_b64(32))?
        } else {
            configured.to_owned()
        };
        let bytes = data_encoding::BASE64
            .decode(b64.as_bytes())
            .map_err(|_| AccountsError::Internal("auth.data_key is not base64".into()))?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AccountsError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| AccountsError::Internal("auth.data_key must be 32 bytes".into()))?;
        Ok(DataKey(std::sync::Arc::new(LessSafeKey::new(key))))
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plain: &[u8], owner: &str) -> Result<Vec<u8>, AccountsError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| AccountsError::Internal(e.to_string()))?;
        let mut buf = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut buf,
            )
            .map_err(|_| AccountsError::Internal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], owner: &str) -> Result<Vec<u8>, AccountsError> {
        if sealed.len() < NONCE_LEN {
            return Err(AccountsError::Internal("sealed secret too short".into()));
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| AccountsError::Internal("bad nonce".into()))?;
        let mut buf = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buf)
            .map_err(|_| {
                AccountsError::Internal("a sealed secret does not open with the data key".into())
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_owner() {
        let key = DataKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal(b"secret", "alice").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(key.open(&sealed, "alice").unwrap(), b"secret");
        assert!(key.open(&sealed, "bob").is_err());
        let other = DataKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed, "alice").is_err());
        assert!(DataKey::from_bytes(&[1u8; 16]).is_err());
    }

    #[test]
    fn generated_keys_persist_with_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = jwt_keys(&[], dir.path()).unwrap();
        let b = jwt_keys(&[], dir.path()).unwrap();
        assert_eq!(a[0].secret, b[0].secret);
        let mode = std::fs::metadata(dir.path().join(JWT_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(jwt_keys(&["k:short".into()], dir.path()).is_err());
        let k = DataKey::load("", dir.path()).unwrap();
        let sealed = k.seal(b"x", "u").unwrap();
        assert_eq!(
            DataKey::load("", dir.path())
                .unwrap()
                .open(&sealed, "u")
                .unwrap(),
            b"x"
        );
    }
}
