//! The two back-channel requests of the flow: the code exchange at the token endpoint
//! and the user-info reads. Responses are distrusted: redirects are not followed
//! (a token endpoint that redirects is misconfigured, and following one could carry
//! the client secret elsewhere), bodies are read up to a cap, every request has a
//! deadline, and error messages carry no secret, token or response body.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::OAuthError;
use super::settings::ProviderSettings;

/// Longest response body read from a provider.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline of one request, from sending to the last byte of the body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// GitHub's API refuses requests without a User-Agent.
pub const AGENT: &str = "codeplatform";
/// Longest error code kept from a provider's error answer.
const MAX_ERROR_CODE: usize = 64;

/// An HTTP client fit for the flow: no redirects, timeouts, our User-Agent.
pub fn http_client() -> Result<reqwest::Client, OAuthError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(AGENT)
        .build()
        .map_err(|e| OAuthError::Provider(format!("cannot build the HTTP client: {e}")))
}

/// A successful or failed token answer; RFC 6749 §5.1 and §5.2 in one shape because
/// GitHub sends errors with HTTP 200.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Trades `code` (with the PKCE `verifier`) for an access token.
pub async fn exchange_code(
    http: &reqwest::Client,
    s: &ProviderSettings,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> Result<String, OAuthError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", s.client_id.as_str()),
        ("client_secret", s.client_secret.expose()),
        ("code_verifier", verifier),
    ];
    let resp = http
        .post(&s.token_url)
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, AGENT)
        .form(&form)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| transport("token", e))?;
    let status = resp.status();
    let body = read_limited(resp, "token").await?;
    let answer: Option<TokenAnswer> = serde_json::from_slice(&body).ok();
    match answer {
        Some(TokenAnswer {
            error: Some(error),
            error_description,
            ..
        }) => {
            let error = sanitize(&error);
            tracing::debug!(
                %status,
                error = %error,
                description = ?error_description.as_deref().map(sanitize),
                "oauth token request refused"
            );
            Err(OAuthError::Rejected(error))
        }
        Some(TokenAnswer {
            access_token: Some(token),
            token_type: Some(kind),
            ..
        }) if status.is_success() => {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(OAuthError::Provider(format!(
                    "token type {} is not bearer",
                    sanitize(&kind)
                )));
            }
            if token.is_empty() {
                return Err(OAuthError::Provider("empty access token".into()));
            }
            Ok(token)
        }
        _ if status.is_success() => Err(OAuthError::Provider(
            "token endpoint answered without a bearer token".into(),
        )),
        _ => Err(OAuthError::Provider(format!(
            "token endpoint answered HTTP {status}"
        ))),
    }
}

/// GETs `url` with the bearer `token` and parses the JSON answer.
pub async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    what: &str,
) -> Result<T, OAuthError> {
    let resp = http
        .get(url)
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, AGENT)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| transport(what, e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(OAuthError::Provider(format!(
            "{what} endpoint answered HTTP {status}"
        )));
    }
    let body = read_limited(resp, what).await?;
    // The serde message may quote the body (personal data): say only which call.
    serde_json::from_slice(&body)
        .map_err(|_| OAuthError::Provider(format!("{what} answer is not the expected JSON")))
}

/// The body, or an error once it passes [`MAX_BODY_BYTES`] (checked against the
/// declared length first, then while reading, since the length may be absent or lie).
async fn read_limited(mut resp: reqwest::Response, what: &str) -> Result<Vec<u8>, OAuthError> {
    let too_large = || {
        OAuthError::Provider(format!(
            "{what} answer is larger than {MAX_BODY_BYTES} bytes"
        ))
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(what, e))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport failure, described without the URL (it names the provider's endpoint,
/// harmless, but messages stay uniform) and without any request data.
fn transport(what: &str, e: reqwest::Error) -> OAuthError {
    let kind = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.without_url().to_string()
    };
    OAuthError::Provider(format!("{what} request failed: {kind}"))
}

/// A provider-chosen string made safe to log and show: printable ASCII without
/// quotes or backslashes (RFC 6749's error-code alphabet), bounded in length.
fn sanitize(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .take(MAX_ERROR_CODE)
        .collect();
    if clean.is_empty() {
        "unknown_error".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_sanitized() {
        assert_eq!(sanitize("invalid_grant"), "invalid_grant");
        assert_eq!(sanitize("bad\"\\\ncode\u{7f}é"), "badcode");
        assert_eq!(sanitize("\n"), "unknown_error");
        assert_eq!(sanitize(&"x".repeat(500)).len(), MAX_ERROR_CODE);
    }

    #[test]
    fn client_builds() {
        assert!(http_client().is_ok());
    }
}
