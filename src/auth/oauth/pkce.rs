//! Random values of a sign-in: the `state` that ties the callback to the browser that
//! started it, and the PKCE pair (RFC 7636, method S256) that ties the code exchange
//! to this server, so an intercepted authorization code is useless on its own.

use aws_lc_rs::digest;
use data_encoding::BASE64URL_NOPAD;

/// Random bytes behind a state or a verifier: 256 bits, 43 base64url characters.
pub const RANDOM_BYTES: usize = 32;

/// 32 bytes from the system generator, base64url without padding. As a verifier this
/// meets RFC 7636 §4.1 (43 characters of the unreserved set).
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(BASE64URL_NOPAD.encode(&bytes))
}

/// The S256 challenge of `verifier`: BASE64URL(SHA256(ASCII(verifier))).
pub fn challenge(verifier: &str) -> String {
    BASE64URL_NOPAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        // The RFC's 32 random octets, their verifier, and its S256 challenge.
        let octets = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = BASE64URL_NOPAD.encode(&octets);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn tokens_are_43_unreserved_chars_and_differ() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert_eq!(t.len(), 43);
            assert!(
                t.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
                "{t}"
            );
            assert_eq!(challenge(t).len(), 43);
        }
    }
}
