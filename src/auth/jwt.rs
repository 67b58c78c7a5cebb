//! Access tokens: HS256 JWTs (jsonwebtoken) signed with a current key named by `kid`,
//! verified with any key still in the set, so keys rotate without logging anyone out:
//! put the new key first, keep the old one until its tokens have expired. The
//! algorithm is pinned; `alg: none`, other algorithms, unknown or missing `kid`,
//! tampered tokens, and tokens expired or not yet valid are refused.

use std::collections::HashMap;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Shortest accepted signing secret: HS256 wants at least the hash's 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

/// One signing key as configured.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The login session the token belongs to (revoking it revokes the token).
    pub sid: String,
    /// The user's global role.
    pub role: String,
    pub iss: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("no signing keys configured")]
    NoKeys,
    #[error("signing key {0} is shorter than {MIN_SECRET_BYTES} bytes")]
    KeyTooShort(String),
    #[error("the token names no key")]
    MissingKid,
    #[error("the token names an unknown key")]
    UnknownKid,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is invalid")]
    Invalid,
}

pub struct JwtKeys {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    issuer: String,
    validation: Validation,
}

impl JwtKeys {
    /// `keys[0]` signs; every key verifies.
    pub fn new(keys: &[SigningKey], issuer: &str) -> Result<Self, JwtError> {
        let first = keys.first().ok_or(JwtError::NoKeys)?;
        let mut decoding = HashMap::new();
        for k in keys {
            if k.secret.len() < MIN_SECRET_BYTES {
                return Err(JwtError::KeyTooShort(k.kid.clone()));
            }
            let key = DecodingKey::from_secret(&k.secret).map_err(|_| JwtError::NoKeys)?;
            decoding.insert(k.kid.clone(), key);
        }
        let encoding = EncodingKey::from_secret(&first.secret).map_err(|_| JwtError::NoKeys)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        Ok(JwtKeys {
            current_kid: first.kid.clone(),
            encoding,
            decoding,
            issuer: issuer.to_owned(),
            validation,
        })
    }

    /// Signs a token for `sub` in session `sid`, valid from `now` for `ttl_secs`.
    pub fn issue(&self, sub: &str, sid: &str, role: &str, now: u64, ttl_secs: u64) -> String {
        let claims = AccessClaims {
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            role: role.to_owned(),
            iss: self.issuer.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .expect("HS256 with a valid key always encodes")
    }

    /// Verifies signature, algorithm, key, issuer and validity window (against the
    /// system clock: token times are wall-clock times).
    pub fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(JwtError::Invalid);
        }
        let kid = header.kid.ok_or(JwtError::MissingKid)?;
        let key = self.decoding.get(&kid).ok_or(JwtError::UnknownKid)?;
        jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                _ => JwtError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use data_encoding::BASE64URL_NOPAD as B64;

    fn key(kid: &str, fill: u8) -> SigningKey {
        SigningKey {
            kid: kid.into(),
            secret: vec![fill; 32],
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// A token with an arbitrary header, signed (or not) by HMAC with `secret`.
    fn forge(
        header: &str,
        claims: &AccessClaims,
        sign: Option<(&[u8], aws_lc_rs::hmac::Algorithm)>,
    ) -> String {
        let body = format!(
            "{}.{}",
            B64.encode(header.as_bytes()),
            B64.encode(serde_json::to_string(claims).unwrap().as_bytes())
        );
        let sig = match sign {
            Some((secret, alg)) => {
                let k = aws_lc_rs::hmac::Key::new(alg, secret);
                B64.encode(aws_lc_rs::hmac::sign(&k, body.as_bytes()).as_ref())
            }
            None => String::new(),
        };
        format!("{body}.{sig}")
    }

    #[test]
    fn issues_and_verifies_and_rotates() {
        let old = JwtKeys::new(&[key("k1", 1)], "codeplatform").unwrap();
        let t = now();
        let token = old.issue("u1", "s1", "user", t, 900);
        let claims = old.verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str(), claims.exp),
            ("u1", "s1", t + 900)
        );
        // Rotation: k2 signs now, k1 still verifies until its tokens expire.
        let rotated = JwtKeys::new(&[key("k2", 2), key("k1", 1)], "codeplatform").unwrap();
        assert_eq!(rotated.verify(&token).unwrap().sub, "u1");
        let fresh = rotated.issue("u2", "s2", "user", t, 900);
        assert_eq!(
            jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
            Some("k2")
        );
        // Once k1 is retired, its tokens stop working.
        let retired = JwtKeys::new(&[key("k2", 2)], "codeplatform").unwrap();
        assert_eq!(retired.verify(&token), Err(JwtError::UnknownKid));
        assert_eq!(retired.verify(&fresh).unwrap().sub, "u2");
    }

    #[test]
    fn refuses_the_attack_list() {
        let keys = JwtKeys::new(&[key("k1", 1)], "codeplatform").unwrap();
        let t = now();
        let good = keys.issue("u1", "s1", "user", t, 900);
        let claims = keys.verify(&good).unwrap();
        let secret = vec![1u8; 32];
        use aws_lc_rs::hmac::{HMAC_SHA256, HMAC_SHA512};

        let none = forge(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#, &claims, None);
        assert_eq!(keys.verify(&none), Err(JwtError::Invalid), "alg none");
        let hs512 = forge(
            r#"{"alg":"HS512","typ":"JWT","kid":"k1"}"#,
            &claims,
            Some((&secret, HMAC_SHA512)),
        );
        assert_eq!(
            keys.verify(&hs512),
            Err(JwtError::Invalid),
            "another HMAC algorithm"
        );
        let rs256 = forge(
            r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#,
            &claims,
            Some((&secret, HMAC_SHA256)),
        );
        assert_eq!(
            keys.verify(&rs256),
            Err(JwtError::Invalid),
            "algorithm confusion"
        );
        let no_kid = forge(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims,
            Some((&secret, HMAC_SHA256)),
        );
        assert_eq!(keys.verify(&no_kid), Err(JwtError::MissingKid));
        let wrong_kid = forge(
            r#"{"alg":"HS256","typ":"JWT","kid":"k9"}"#,
            &claims,
            Some((&secret, HMAC_SHA256)),
        );
        assert_eq!(keys.verify(&wrong_kid), Err(JwtError::UnknownKid));
        let right = forge(
            r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
            &claims,
            Some((&secret, HMAC_SHA256)),
        );
        assert!(
            keys.verify(&right).is_ok(),
            "the forge helper makes valid tokens with the key"
        );
        let other_secret = forge(
            r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
            &claims,
            Some((&[7u8; 32], HMAC_SHA256)),
        );
        assert_eq!(
            keys.verify(&other_secret),
            Err(JwtError::Invalid),
            "signed with another key"
        );

        // Tampered payload: same signature, different subject.
        let parts: Vec<&str> = good.split('.').collect();
        let mut evil = claims.clone();
        evil.sub = "admin".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(serde_json::to_string(&evil).unwrap().as_bytes()),
            parts[2]
        );
        assert_eq!(keys.verify(&tampered), Err(JwtError::Invalid));

        let expired = keys.issue("u1", "s1", "user", t - 1000, 900);
        assert_eq!(keys.verify(&expired), Err(JwtError::Expired));
        let future = keys.issue("u1", "s1", "user", t + 600, 900);
        assert_eq!(keys.verify(&future), Err(JwtError::NotYetValid));
        let other_issuer = JwtKeys::new(&[key("k1", 1)], "someone-else").unwrap();
        assert_eq!(
            keys.verify(&other_issuer.issue("u1", "s1", "user", t, 900)),
            Err(JwtError::Invalid)
        );
        assert_eq!(keys.verify("not.a.token"), Err(JwtError::Invalid));
        assert_eq!(keys.verify(""), Err(JwtError::Invalid));
    }

    #[test]
    fn short_keys_and_empty_sets_are_refused() {
        let short = SigningKey {
            kid: "k".into(),
            secret: vec![1; 16],
        };
        assert!(matches!(
            JwtKeys::new(&[short], "x"),
            Err(JwtError::KeyTooShort(_))
        ));
        assert!(matches!(JwtKeys::new(&[], "x"), Err(JwtError::NoKeys)));
        let shown = format!("{:?}", key("k1", 1));
        assert!(
            shown.contains("<redacted>") && !shown.contains("[1, 1"),
            "{shown}"
        );
    }
}
