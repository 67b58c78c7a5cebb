//! The `[oauth]` settings: where providers send the browser back, how long a started
//! sign-in lives, and one section per provider. Client secrets live in [`Secret`],
//! which never shows itself in `Debug` and serializes as `"<redacted>"`, so neither
//! logs nor `codeplatform config` leak it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Provider;

/// What a non-empty secret looks like in `Debug` and in serialized settings.
pub const REDACTED: &str = "<redacted>";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// Public origin of this server; callbacks are `<public_url>/api/auth/<provider>/callback`.
    pub public_url: String,
    /// Seconds a started sign-in (its state and PKCE verifier) stays valid.
    pub state_ttl_secs: u64,
    /// Started, unfinished sign-ins kept at most (the oldest is dropped beyond it).
    pub max_pending: usize,
    pub google: ProviderSettings,
    pub github: ProviderSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub authorize_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    /// GitHub only: the list of the user's addresses with their verification.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub emails_url: String,
    /// Space-separated, as sent in the `scope` parameter.
    pub scopes: String,
}

impl ProviderSettings {
    /// A provider is usable once it has both a client id and a client secret.
    pub fn configured(&self) -> bool {
        !self.client_id.is_empty() && !self.client_secret.expose().is_empty()
    }
}

impl OAuthSettings {
    pub fn provider(&self, p: Provider) -> &ProviderSettings {
        match p {
            Provider::Google => &self.google,
            Provider::GitHub => &self.github,
        }
    }

    pub fn provider_mut(&mut self, p: Provider) -> &mut ProviderSettings {
        match p {
            Provider::Google => &mut self.google,
            Provider::GitHub => &mut self.github,
        }
    }

    /// The callback URL registered with `p`.
    pub fn redirect_uri(&self, p: Provider) -> String {
        format!(
            "{}/api/auth/{}/callback",
            self.public_url.trim_end_matches('/'),
            p.name()
        )
    }

    /// Checks what serde cannot: URLs parse, bounds are positive, and a secret is not
    /// the placeholder printed by `codeplatform config` (a pasted-back dump).
    pub fn validate(&self) -> Result<(), String> {
        http_url("oauth.public_url", &self.public_url)?;
        if self.state_ttl_secs == 0 {
            return Err("oauth.state_ttl_secs must be > 0".into());
        }
        if self.max_pending == 0 {
            return Err("oauth.max_pending must be > 0".into());
        }
        for p in Provider::ALL {
            let s = self.provider(p);
            let name = p.name();
            http_url(&format!("oauth.{name}.authorize_url"), &s.authorize_url)?;
            http_url(&format!("oauth.{name}.token_url"), &s.token_url)?;
            http_url(&format!("oauth.{name}.userinfo_url"), &s.userinfo_url)?;
            if p == Provider::GitHub || !s.emails_url.is_empty() {
                http_url(&format!("oauth.{name}.emails_url"), &s.emails_url)?;
            }
            if s.client_secret.expose() == REDACTED {
                return Err(format!(
                    "oauth.{name}.client_secret is the {REDACTED} placeholder, not a secret"
                ));
            }
        }
        Ok(())
    }
}

fn http_url(name: &str, value: &str) -> Result<(), String> {
    match reqwest::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(format!("{name} must be an http(s) URL, not {value:?}")),
    }
}

/// A client secret: readable only through [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    // Secrets never reach logs; an empty one says so (it means "not configured").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str(REDACTED)
        }
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { REDACTED })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    #[test]
    fn defaults_are_valid_and_unconfigured() {
        let s = Settings::defaults().oauth;
        assert!(!s.google.configured() && !s.github.configured());
        assert_eq!(
            s.redirect_uri(Provider::GitHub),
            "http://localhost:8080/api/auth/github/callback"
        );
        assert_eq!(s.state_ttl_secs, 600);
        assert!(s.google.emails_url.is_empty());
        assert_eq!(s.github.emails_url, "https://api.github.com/user/emails");
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_config_dump() {
        let mut settings = Settings::defaults();
        settings.oauth.github.client_id = "Iv1.abc".into();
        settings.oauth.github.client_secret = Secret::new("s3cr3t-value");
        assert!(settings.oauth.github.configured());
        let debug = format!("{settings:?}");
        let dump = settings.to_toml();
        for shown in [&debug, &dump] {
            assert!(!shown.contains("s3cr3t-value"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        assert!(dump.contains("[oauth.github]"), "{dump}");
        // A dump pasted back as a config file is refused rather than used.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, &dump).unwrap();
        let err = Settings::load(Some(&path), []).unwrap_err().to_string();
        assert!(err.contains("placeholder"), "{err}");
    }

    #[test]
    fn secrets_come_from_nested_env_names_and_urls_are_checked() {
        let s = Settings::load(
            None,
            [
                (
                    "CODEPLATFORM_OAUTH__GOOGLE__CLIENT_ID".into(),
                    "id.apps".into(),
                ),
                (
                    "CODEPLATFORM_OAUTH__GOOGLE__CLIENT_SECRET".into(),
                    "x".into(),
                ),
            ],
        )
        .unwrap();
        assert!(s.oauth.google.configured());
        assert_eq!(s.oauth.google.client_secret.expose(), "x");
        let bad = Settings::load(
            None,
            [("CODEPLATFORM_OAUTH__PUBLIC_URL".into(), "localhost".into())],
        );
        assert!(bad.unwrap_err().to_string().contains("public_url"));
        let unknown = Settings::load(
            None,
            [("CODEPLATFORM_OAUTH__GITHUB__NOPE".into(), "1".into())],
        );
        assert!(unknown.unwrap_err().to_string().contains("nope"));
    }
}
