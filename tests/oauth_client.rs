//! The OAuth sign-in client against an in-process provider of each flavour: the full
//! authorization-code + PKCE round trip over real HTTP, and every way it must fail
//! (tampered, reused or expired state, replayed code, wrong verifier, unconfigured
//! provider, unverified GitHub email, redirecting or oversized provider answers).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use codeplatform::Settings;
use codeplatform::auth::oauth::{OAuthClient, OAuthError, OAuthSettings, Provider, pkce};
use support::oauth_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider, FakeUser};
use tokio::time::Instant;

const PUBLIC_URL: &str = "http://127.0.0.1:9";

fn callback(p: Provider) -> String {
    format!("{PUBLIC_URL}/api/auth/{}/callback", p.name())
}

fn user(p: Provider) -> FakeUser {
    match p {
        Provider::Google => FakeUser::new("108234567890", "ada@example.org"),
        Provider::GitHub => FakeUser::new("583231", "octo@example.org"),
    }
}

/// Settings with `p` pointing at `fake`; the other provider stays unconfigured.
fn settings_for(p: Provider, fake: &FakeProvider) -> OAuthSettings {
    let mut s = Settings::defaults().oauth;
    s.public_url = PUBLIC_URL.into();
    *s.provider_mut(p) = fake.settings();
    s
}

async fn setup(p: Provider) -> (FakeProvider, OAuthClient) {
    let fake = FakeProvider::start(p, &callback(p), user(p)).await;
    let client = OAuthClient::new(&settings_for(p, &fake)).unwrap();
    (fake, client)
}

/// What the provider's code for a wrong or spent code says.
fn bad_code(p: Provider) -> OAuthError {
    OAuthError::Rejected(
        match p {
            Provider::Google => "invalid_grant",
            Provider::GitHub => "bad_verification_code",
        }
        .into(),
    )
}

/// Plays the browser: opens the authorize URL without following the redirect and
/// returns (code, state) from the callback URL in `Location`.
async fn authorize(url: &str) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let back = reqwest::Url::parse(&location).unwrap();
    let q: HashMap<String, String> = back.query_pairs().into_owned().collect();
    let asked: HashMap<String, String> = reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        location.split('?').next(),
        Some(asked["redirect_uri"].as_str())
    );
    (q["code"].clone(), q["state"].clone())
}

#[tokio::test]
async fn happy_path_both_providers() {
    for p in Provider::ALL {
        let (fake, client) = setup(p).await;
        assert!(client.configured(p));
        let now = Instant::now();
        let begin = client.begin(p, now).unwrap();
        assert_eq!(client.pending(), 1);
        let (code, state) = authorize(&begin.authorize_url).await;
        assert_eq!(state, begin.state);
        let id = client.finish(p, &code, &state, now).await.unwrap();
        let expected = user(p);
        assert_eq!(id.provider, p);
        assert_eq!(id.subject, expected.subject);
        assert_eq!(id.email, expected.email);
        assert!(id.email_verified, "{p}");
        assert_eq!(id.name, expected.name);
        let login = (p == Provider::GitHub).then(|| expected.login.clone().unwrap());
        assert_eq!(id.login, login);
        assert_eq!(client.pending(), 0);
        assert_eq!((fake.token_requests(), fake.tokens_issued()), (1, 1));
        // Google: /userinfo; GitHub: /user and /user/emails.
        let reads = if p == Provider::GitHub { 2 } else { 1 };
        assert_eq!(fake.user_requests(), reads, "{p}");
    }
}

#[tokio::test]
async fn tampered_state_is_unknown_and_burns_nothing() {
    for p in Provider::ALL {
        let (fake, client) = setup(p).await;
        let now = Instant::now();
        let begin = client.begin(p, now).unwrap();
        let (code, state) = authorize(&begin.authorize_url).await;
        let mut tampered = state.clone().into_bytes();
        tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            client.finish(p, &code, &tampered, now).await,
            Err(OAuthError::UnknownState)
        );
        assert_eq!(
            client.finish(p, &code, "", now).await,
            Err(OAuthError::UnknownState)
        );
        assert_eq!(
            fake.token_requests(),
            0,
            "no exchange without a valid state"
        );
        // The genuine state is still there for the genuine callback.
        let id = client.finish(p, &code, &state, now).await.unwrap();
        assert_eq!(id.subject, user(p).subject);
    }
}

#[tokio::test]
async fn state_for_the_other_provider_is_unknown_and_spent() {
    let p = Provider::Google;
    let fake = FakeProvider::start(p, &callback(p), user(p)).await;
    // Make GitHub "configured" too, pointing at the same fake: only the state matters.
    let mut s = settings_for(p, &fake);
    s.github = fake.settings();
    let client_both = OAuthClient::new(&s).unwrap();
    let now = Instant::now();
    let begin = client_both.begin(Provider::Google, now).unwrap();
    let (code, state) = authorize(&begin.authorize_url).await;
    assert_eq!(
        client_both
            .finish(Provider::GitHub, &code, &state, now)
            .await,
        Err(OAuthError::UnknownState)
    );
    assert_eq!(
        client_both
            .finish(Provider::Google, &code, &state, now)
            .await,
        Err(OAuthError::UnknownState),
        "presented once, gone"
    );
    assert_eq!(fake.token_requests(), 0);
}

#[tokio::test]
async fn state_is_single_use() {
    for p in Provider::ALL {
        let (fake, client) = setup(p).await;
        let now = Instant::now();
        let begin = client.begin(p, now).unwrap();
        let (code, state) = authorize(&begin.authorize_url).await;
        client.finish(p, &code, &state, now).await.unwrap();
        assert_eq!(
            client.finish(p, &code, &state, now).await,
            Err(OAuthError::UnknownState)
        );
        assert_eq!(
            fake.token_requests(),
            1,
            "the reuse never reached the provider"
        );
    }
}

#[tokio::test]
async fn replayed_code_with_fresh_state_is_rejected_by_the_provider() {
    for p in Provider::ALL {
        let (fake, client) = setup(p).await;
        let now = Instant::now();
        let first = client.begin(p, now).unwrap();
        let (code, state) = authorize(&first.authorize_url).await;
        client.finish(p, &code, &state, now).await.unwrap();
        let fresh = client.begin(p, now).unwrap();
        assert_eq!(
            client.finish(p, &code, &fresh.state, now).await,
            Err(bad_code(p))
        );
        assert_eq!(fake.last_refusal().as_deref(), Some("code already used"));
        assert_eq!((fake.token_requests(), fake.tokens_issued()), (2, 1));
        assert_eq!(client.pending(), 0, "the fresh state was spent too");
    }
}

#[tokio::test]
async fn a_code_issued_for_another_challenge_fails_pkce() {
    for p in Provider::ALL {
        let (fake, client) = setup(p).await;
        let now = Instant::now();
        let begin = client.begin(p, now).unwrap();
        // An attacker's authorization (its own verifier) injected into our callback.
        let mut url = reqwest::Url::parse(&begin.authorize_url).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let attacker = pkce::challenge(&pkce::random_token().unwrap());
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs.iter().map(|(k, v)| {
                let v = if k == "code_challenge" { &attacker } else { v };
                (k.as_str(), v.as_str())
            }));
        let (code, state) = authorize(url.as_str()).await;
        assert_eq!(
            client.finish(p, &code, &state, now).await,
            Err(OAuthError::Rejected("invalid_grant".into()))
        );
        assert_eq!(
            fake.last_refusal().as_deref(),
            Some("PKCE verification failed")
        );
        assert_eq!(fake.tokens_issued(), 0);
    }
}

/// The fake itself checks PKCE, codes and credentials (so the tests above prove
/// something): raw requests with a known verifier.
#[tokio::test]
async fn fake_provider_enforces_pkce_and_single_use() {
    let p = Provider::Google;
    let fake = FakeProvider::start(p, &callback(p), user(p)).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let authorize_url = |challenge: &str| {
        let mut u = reqwest::Url::parse(&fake.url("/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &callback(p))
            .append_pair("state", "s")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        u.to_string()
    };
    let http = reqwest::Client::new();
    let token_url = fake.url("/token");
    let redirect_uri = callback(p);
    let exchange = async |code: &str, verifier: &str, secret: &str| {
        let resp = http
            .post(&token_url)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri.as_str()),
                ("client_id", CLIENT_ID),
                ("client_secret", secret),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<serde_json::Value>().await.unwrap())
    };
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let (code, _) = authorize(&authorize_url(challenge)).await;
    let wrong = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (status, body) = exchange(&code, wrong, CLIENT_SECRET).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        fake.last_refusal().as_deref(),
        Some("PKCE verification failed")
    );

    let (code, _) = authorize(&authorize_url(challenge)).await;
    let (status, body) = exchange(&code, verifier, "wrong-secret").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (code, _) = authorize(&authorize_url(challenge)).await;
    let (status, body) = exchange(&code, verifier, CLIENT_SECRET).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let (status, body) = exchange(&code, verifier, CLIENT_SECRET).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(fake.last_refusal().as_deref(), Some("code already used"));

    // A plain challenge method, or a foreign redirect URI, gets no code at all.
    let plain = authorize_url(challenge).replace("S256", "plain");
    let resp = http.get(plain).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let foreign = authorize_url(challenge).replace("127.0.0.1%3A9", "evil.example");
    assert_ne!(foreign, authorize_url(challenge));
    let resp = http.get(foreign).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(fake.authorizations(), 3);
    assert_eq!(fake.tokens_issued(), 1);
}

#[tokio::test]
async fn expired_state_is_unknown() {
    for p in Provider::ALL {
        let (fake, client) = setup(p).await;
        let t0 = Instant::now();
        let begin = client.begin(p, t0).unwrap();
        let (code, state) = authorize(&begin.authorize_url).await;
        let late = t0 + Duration::from_secs(600);
        assert_eq!(
            client.finish(p, &code, &state, late).await,
            Err(OAuthError::UnknownState)
        );
        assert_eq!(fake.token_requests(), 0);
        // One second inside the TTL is fine.
        let begin = client.begin(p, t0).unwrap();
        let (code, state) = authorize(&begin.authorize_url).await;
        let id = client
            .finish(p, &code, &state, t0 + Duration::from_secs(599))
            .await
            .unwrap();
        assert_eq!(id.provider, p);
    }
}

/// With tokio's clock (paused: no HTTP here, the state check comes first).
#[tokio::test(start_paused = true)]
async fn expiry_follows_tokio_time() {
    let p = Provider::Google;
    let mut s = Settings::defaults().oauth;
    s.state_ttl_secs = 2;
    s.google.client_id = CLIENT_ID.into();
    s.google.client_secret = codeplatform::auth::oauth::Secret::new(CLIENT_SECRET);
    let client = OAuthClient::new(&s).unwrap();
    let begin = client.begin(p, Instant::now()).unwrap();
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        client.finish(p, "code", &begin.state, Instant::now()).await,
        Err(OAuthError::UnknownState)
    );
    assert_eq!(client.pending(), 0);
}

#[tokio::test]
async fn unconfigured_provider() {
    let client = OAuthClient::new(&Settings::defaults().oauth).unwrap();
    for p in Provider::ALL {
        assert!(!client.configured(p));
        assert_eq!(
            client.begin(p, Instant::now()),
            Err(OAuthError::NotConfigured(p))
        );
        assert_eq!(
            client.finish(p, "code", "state", Instant::now()).await,
            Err(OAuthError::NotConfigured(p))
        );
    }
    // A client id without a secret is not enough.
    let mut s = Settings::defaults().oauth;
    s.github.client_id = "Iv1.x".into();
    let client = OAuthClient::new(&s).unwrap();
    assert_eq!(
        client.begin(Provider::GitHub, Instant::now()),
        Err(OAuthError::NotConfigured(Provider::GitHub))
    );
}

#[tokio::test]
async fn github_without_verified_primary_email() {
    let p = Provider::GitHub;
    let (fake, client) = setup(p).await;
    let mut unverified = user(p);
    unverified.email_verified = false;
    fake.set_user(unverified);
    let now = Instant::now();
    let begin = client.begin(p, now).unwrap();
    let (code, state) = authorize(&begin.authorize_url).await;
    let id = client.finish(p, &code, &state, now).await.unwrap();
    assert_eq!(id.email.as_deref(), Some("octo@example.org"));
    assert!(!id.email_verified, "only the no-reply address is verified");

    let mut no_email = user(p);
    no_email.email = None;
    fake.set_user(no_email);
    let begin = client.begin(p, now).unwrap();
    let (code, state) = authorize(&begin.authorize_url).await;
    let id = client.finish(p, &code, &state, now).await.unwrap();
    assert_eq!((id.email, id.email_verified), (None, false));
    assert_eq!(id.subject, "583231");
}

#[tokio::test]
async fn redirects_are_not_followed_and_big_answers_are_refused() {
    let p = Provider::Google;
    let fake = FakeProvider::start(p, &callback(p), user(p)).await;
    let mut s = settings_for(p, &fake);
    s.google.token_url = fake.url("/moved");
    let client = OAuthClient::new(&s).unwrap();
    let now = Instant::now();
    let begin = client.begin(p, now).unwrap();
    let (code, state) = authorize(&begin.authorize_url).await;
    let err = client.finish(p, &code, &state, now).await.unwrap_err();
    assert_eq!(
        err,
        OAuthError::Provider("token endpoint answered HTTP 307 Temporary Redirect".into())
    );
    assert!(!err.to_string().contains(CLIENT_SECRET));
    assert_eq!(fake.token_requests(), 0, "the redirect was not followed");

    let mut s = settings_for(p, &fake);
    s.google.userinfo_url = fake.url("/big");
    let client = OAuthClient::new(&s).unwrap();
    let begin = client.begin(p, now).unwrap();
    let (code, state) = authorize(&begin.authorize_url).await;
    let err = client.finish(p, &code, &state, now).await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::Provider(m) if m.contains("larger than 65536")),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_provider_is_a_provider_error() {
    let p = Provider::GitHub;
    let fake = FakeProvider::start(p, &callback(p), user(p)).await;
    let mut s = settings_for(p, &fake);
    // A port that was just free: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    s.github.token_url = format!("http://127.0.0.1:{port}/token");
    let client = OAuthClient::new(&s).unwrap();
    let now = Instant::now();
    let begin = client.begin(p, now).unwrap();
    let (code, state) = authorize(&begin.authorize_url).await;
    let err = client.finish(p, &code, &state, now).await.unwrap_err();
    assert_eq!(
        err,
        OAuthError::Provider("token request failed: could not connect".into())
    );
}
