//! What a username and an email may look like.

use super::AccountsError;

pub const MAX_EMAIL_BYTES: usize = 254;

/// 3 to 32 of `[A-Za-z0-9_.-]`, starting with a letter or digit, and not containing
/// `@` (logins tell emails from usernames by it).
pub fn username(name: &str) -> Result<(), AccountsError> {
    let ok_len = (3..=32).contains(&name.len());
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    let ok_start = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(AccountsError::invalid(
            "username",
            "3 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit",
        ))
    }
}

/// A plausible address: one `@`, a non-empty local part, a dotted domain, no spaces
/// or control characters, at most 254 bytes. (Ownership is proven by a provider's
/// verified email, not by this check.)
pub fn email(email: &str) -> Result<(), AccountsError> {
    let bad = || AccountsError::invalid("email", "not a valid email address");
    if email.len() > MAX_EMAIL_BYTES || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames_and_emails() {
        for ok in ["ada", "ada.lovelace", "a_1-b", "007"] {
            super::username(ok).unwrap();
        }
        for bad in ["ab", "-ada", "ada@x", "ada lovelace", "é", &"a".repeat(33)] {
            assert!(super::username(bad).is_err(), "{bad}");
        }
        for ok in ["a@b.co", "first.last+tag@example.org"] {
            super::email(ok).unwrap();
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@b.co.", "a@.b",
        ] {
            assert!(super::email(bad).is_err(), "{bad}");
        }
    }
}
