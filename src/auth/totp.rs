//! Time-based one-time passwords (RFC 6238): HMAC-SHA-1, 6 digits, 30-second steps
//! for accounts; other algorithms and lengths only to check the RFC's test vectors.
//! A code is accepted one step either side of now (clock skew) and never twice: the
//! caller stores the step of the last accepted code and passes it back.

use aws_lc_rs::hmac;

/// Bytes of a new secret (160 bits, as RFC 4226 recommends for SHA-1).
pub const SECRET_BYTES: usize = 20;
const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;

/// A TOTP generator and checker for one secret.
pub struct Totp {
    key: hmac::Key,
    secret: Vec<u8>,
    digits: usize,
}

impl Totp {
    /// The account configuration: SHA-1, 6 digits, 30 s.
    pub fn new(secret: Vec<u8>) -> Self {
        Self::with(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, DIGITS, secret)
    }

    fn with(algorithm: hmac::Algorithm, digits: usize, secret: Vec<u8>) -> Self {
        Totp {
            key: hmac::Key::new(algorithm, &secret),
            secret,
            digits,
        }
    }

    /// HOTP (RFC 4226): HMAC of the big-endian counter, dynamically truncated.
    fn hotp(&self, counter: u64) -> String {
        let mac = hmac::sign(&self.key, &counter.to_be_bytes());
        let mac = mac.as_ref();
        let offset = (mac[mac.len() - 1] & 0x0f) as usize;
        let binary = u32::from_be_bytes([
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]) & 0x7fff_ffff;
        let code = u64::from(binary) % 10u64.pow(self.digits as u32);
        format!("{code:0width$}", width = self.digits)
    }

    /// A fresh random secret.
    pub fn generate_secret() -> Result<Vec<u8>, getrandom::Error> {
        let mut secret = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut secret)?;
        Ok(secret)
    }

    /// The code for the step containing `unix_secs`.
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.hotp(unix_secs / STEP_SECS)
    }

    /// The step of `code` if it is valid at `unix_secs` (±1 step) and its step is
    /// after `last_used_step`; `None` otherwise. Compared in constant time.
    pub fn verify(&self, code: &str, unix_secs: u64, last_used_step: Option<u64>) -> Option<u64> {
        if code.len() != self.digits || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = unix_secs / STEP_SECS;
        let mut found = None;
        // Check every candidate, not stopping early, so timing says nothing.
        for step in [now.saturating_sub(1), now, now + 1] {
            let expected = self.hotp(step);
            if constant_time_eq(expected.as_bytes(), code.as_bytes())
                && last_used_step.is_none_or(|last| step > last)
            {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI authenticator apps read (usually from a QR code).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let secret = data_encoding::BASE32_NOPAD.encode(&self.secret);
        format!(
            "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            urlencode(issuer),
            urlencode(account),
            urlencode(issuer)
        )
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: (time, SHA-1, SHA-256, SHA-512), 8 digits.
    const VECTORS: &[(u64, &str, &str, &str)] = &[
        (59, "94287082", "46119246", "90693936"),
        (1111111109, "07081804", "68084774", "25091201"),
        (1111111111, "14050471", "67062674", "99943326"),
        (1234567890, "89005924", "91819424", "93441116"),
        (2000000000, "69279037", "90698825", "38618901"),
        (20000000000, "65353130", "77737706", "47863826"),
    ];

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let sha1 = Totp::with(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            8,
            b"12345678901234567890".to_vec(),
        );
        let sha256 = Totp::with(
            hmac::HMAC_SHA256,
            8,
            b"12345678901234567890123456789012".to_vec(),
        );
        let sha512 = Totp::with(
            hmac::HMAC_SHA512,
            8,
            b"1234567890123456789012345678901234567890123456789012345678901234".to_vec(),
        );
        for &(t, a, b, c) in VECTORS {
            assert_eq!(sha1.code_at(t), a, "SHA-1 at {t}");
            assert_eq!(sha256.code_at(t), b, "SHA-256 at {t}");
            assert_eq!(sha512.code_at(t), c, "SHA-512 at {t}");
        }
    }

    #[test]
    fn skew_of_one_step_and_no_reuse() {
        let totp = Totp::new(Totp::generate_secret().unwrap());
        let t = 1_700_000_000;
        let code = totp.code_at(t);
        let step = totp.verify(&code, t, None).expect("valid now");
        assert_eq!(step, t / 30);
        assert_eq!(
            totp.verify(&code, t + 30, None),
            Some(step),
            "one step late"
        );
        assert_eq!(
            totp.verify(&code, t - 30, None),
            Some(step),
            "one step early"
        );
        assert_eq!(totp.verify(&code, t + 60, None), None, "two steps late");
        assert_eq!(totp.verify(&code, t, Some(step)), None, "used once already");
        assert_eq!(totp.verify("12345", t, None), None);
        assert_eq!(totp.verify("abcdef", t, None), None);
    }

    #[test]
    fn otpauth_uri_carries_the_secret() {
        let totp = Totp::new(b"12345678901234567890".to_vec());
        let uri = totp.otpauth_uri("Code Platform", "ada@example.org");
        assert_eq!(
            uri,
            "otpauth://totp/Code%20Platform:ada%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Code%20Platform&algorithm=SHA1&digits=6&period=30"
        );
    }
}
