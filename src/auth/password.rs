//! Passwords: argon2id with OWASP's recommended parameters, and the policy a new
//! password must meet (length, not a common password, not the account's own name).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP Password Storage Cheat Sheet, argon2id: 19 MiB of memory, 2 iterations, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// Longest accepted password, in bytes: hashing cost must not be an attack surface.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Passwords refused outright: the most common ones of at least the minimum length,
/// from public breach-frequency lists (about a hundred; the policy also refuses the
/// account's own email and username).
const COMMON: &str = include_str!("common_passwords.txt");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("passwords need at least {0} characters")]
    TooShort(usize),
    #[error("passwords hold at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("that password is among the most common ones; choose another")]
    TooCommon,
    #[error("the password must not be the account's email or username")]
    SameAsAccount,
    #[error("hashing failed: {0}")]
    Hash(String),
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password against the policy; `account` holds the email and username.
pub fn check_policy(
    password: &str,
    min_chars: usize,
    account: &[&str],
) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < min_chars {
        return Err(PasswordError::TooShort(min_chars));
    }
    let lower = password.to_lowercase();
    if COMMON.lines().any(|c| c == lower) {
        return Err(PasswordError::TooCommon);
    }
    if account
        .iter()
        .any(|a| !a.is_empty() && a.to_lowercase() == lower)
    {
        return Err(PasswordError::SameAsAccount);
    }
    Ok(())
}

/// Hashes a password into a PHC string (algorithm, parameters and salt included).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `stored` (compared in constant time by
/// argon2). A malformed `stored` or an oversized password never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery staple").unwrap();
        let b = hash("correct horse battery staple").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapler", &a));
        assert!(!verify("anything", "not a phc string"));
        assert!(!verify(&"x".repeat(MAX_PASSWORD_BYTES + 1), &a));
    }

    #[test]
    fn policy_refuses_short_common_and_own_names() {
        assert_eq!(
            check_policy("short", 10, &[]),
            Err(PasswordError::TooShort(10))
        );
        assert_eq!(
            check_policy("Password123", 10, &[]),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(
            check_policy("qwertyuiop", 10, &[]),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(
            check_policy("ada@example.org", 10, &["ada@example.org", "ada"]),
            Err(PasswordError::SameAsAccount)
        );
        assert_eq!(
            check_policy(&"y".repeat(2000), 10, &[]),
            Err(PasswordError::TooLong)
        );
        assert!(check_policy("plum-orbit-kettle-71", 10, &["ada"]).is_ok());
    }
}
