//! The providers and what each says about a user: Google answers OpenID Connect
//! userinfo (`sub`, `email`, `email_verified`); GitHub answers `/user` (numeric `id`,
//! `login`) and, separately, `/user/emails`, the only place that says whether an
//! address is verified. These are pure conversions; the requests are in `wire`.

use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::OAuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Google,
    GitHub,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Google, Provider::GitHub];

    /// The name in URLs and settings: `google`, `github`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::GitHub => "github",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Provider {
    type Err = OAuthError;

    /// Exactly the lowercase names (they come from URL paths).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or(OAuthError::UnknownProvider)
    }
}

/// Who the provider says signed in. `subject` is the provider's stable user id (never
/// the email, which can change hands); `email_verified` is true only when the
/// provider vouches for the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub provider: Provider,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// GitHub's username; `None` for Google.
    pub login: Option<String>,
}

/// OpenID Connect userinfo, as Google sends it.
#[derive(Debug, Deserialize)]
pub struct GoogleUser {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
}

/// GitHub's `/user`.
#[derive(Debug, Deserialize)]
pub struct GitHubUser {
    pub id: u64,
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The public address, if the user chose one; not known to be verified.
    #[serde(default)]
    pub email: Option<String>,
}

/// One entry of GitHub's `/user/emails`.
#[derive(Debug, Deserialize)]
pub struct GitHubEmail {
    pub email: String,
    #[serde(default)]
    pub primary: bool,
    #[serde(default)]
    pub verified: bool,
}

/// Some OpenID providers send `"email_verified": "true"`; accept both spellings.
fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::Bool(b)) => b,
        Some(B::Str(s)) => s == "true",
        None => false,
    })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

pub fn google_identity(u: GoogleUser) -> Result<ProviderIdentity, OAuthError> {
    if u.sub.is_empty() {
        return Err(OAuthError::Provider("userinfo has an empty subject".into()));
    }
    let email = non_empty(u.email);
    Ok(ProviderIdentity {
        provider: Provider::Google,
        subject: u.sub,
        email_verified: email.is_some() && u.email_verified,
        email,
        name: non_empty(u.name),
        login: None,
    })
}

/// The primary address if GitHub has verified it; otherwise the primary (or public)
/// address, marked unverified. A verified address that is not primary is not used:
/// the primary one is what the user chose to be reached at.
pub fn github_identity(u: GitHubUser, emails: Vec<GitHubEmail>) -> ProviderIdentity {
    let primary = emails.into_iter().find(|e| e.primary);
    let (email, email_verified) = match primary {
        Some(e) => (Some(e.email), e.verified),
        None => (u.email, false),
    };
    let email = non_empty(email);
    ProviderIdentity {
        provider: Provider::GitHub,
        subject: u.id.to_string(),
        email_verified: email.is_some() && email_verified,
        email,
        name: non_empty(u.name),
        login: Some(u.login),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.name().parse::<Provider>().unwrap(), p);
            assert_eq!(p.to_string(), p.name());
        }
        assert_eq!(
            "GitHub".parse::<Provider>(),
            Err(OAuthError::UnknownProvider)
        );
        assert_eq!("".parse::<Provider>(), Err(OAuthError::UnknownProvider));
    }

    #[test]
    fn google_shapes() {
        let u: GoogleUser = serde_json::from_str(
            r#"{"sub":"1234","email":"a@x.org","email_verified":"true","name":"A","picture":"p"}"#,
        )
        .unwrap();
        let id = google_identity(u).unwrap();
        assert_eq!(
            (id.subject.as_str(), id.email.as_deref(), id.email_verified),
            ("1234", Some("a@x.org"), true)
        );
        let u: GoogleUser = serde_json::from_str(r#"{"sub":"9","email_verified":true}"#).unwrap();
        let id = google_identity(u).unwrap();
        assert_eq!((id.email, id.email_verified, id.name), (None, false, None));
        let u: GoogleUser = serde_json::from_str(r#"{"sub":""}"#).unwrap();
        assert!(google_identity(u).is_err());
    }

    #[test]
    fn github_takes_the_primary_address_and_its_verification() {
        let user = || GitHubUser {
            id: 42,
            login: "octo".into(),
            name: None,
            email: Some("public@x.org".into()),
        };
        let emails: Vec<GitHubEmail> = serde_json::from_str(
            r#"[{"email":"other@x.org","primary":false,"verified":true,"visibility":null},
                {"email":"main@x.org","primary":true,"verified":false,"visibility":"private"}]"#,
        )
        .unwrap();
        let id = github_identity(user(), emails);
        assert_eq!(id.subject, "42");
        assert_eq!(id.login.as_deref(), Some("octo"));
        assert_eq!(
            (id.email.as_deref(), id.email_verified),
            (Some("main@x.org"), false)
        );
        let id = github_identity(user(), vec![]);
        assert_eq!(
            (id.email.as_deref(), id.email_verified),
            (Some("public@x.org"), false)
        );
    }
}
