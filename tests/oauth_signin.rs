//! Sign-in with Google and GitHub through the real server, against in-test
//! providers speaking the OAuth 2.0 wire format: the redirect with state and PKCE,
//! the callback creating or linking accounts, and the refusals (state mismatch,
//! replayed code, unverified email, unconfigured provider).

mod support;

use codeplatform::auth::oauth::Provider;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use support::TestServer;
use support::accounts::{PASSWORD, get, post};
use support::oauth_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider, FakeUser};

/// The public URL the server believes it has; the test maps it to the real address.
const PUBLIC: &str = "http://codeplatform.test";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

struct World {
    server: TestServer,
    google: FakeProvider,
    github: FakeProvider,
}

async fn world() -> World {
    let cb = |p: Provider| format!("{PUBLIC}/api/auth/{}/callback", p.name());
    let google = FakeProvider::start(
        Provider::Google,
        &cb(Provider::Google),
        FakeUser::new("108234567890", "ada@example.org"),
    )
    .await;
    let github = FakeProvider::start(
        Provider::GitHub,
        &cb(Provider::GitHub),
        FakeUser::new("583231", "octo@example.org"),
    )
    .await;
    let mut env: Vec<(String, String)> = vec![("OAUTH__PUBLIC_URL".into(), PUBLIC.into())];
    for (name, fake) in [("GOOGLE", &google), ("GITHUB", &github)] {
        let s = fake.settings();
        for (key, value) in [
            ("CLIENT_ID", CLIENT_ID.to_owned()),
            ("CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("AUTHORIZE_URL", s.authorize_url),
            ("TOKEN_URL", s.token_url),
            ("USERINFO_URL", s.userinfo_url),
            ("EMAILS_URL", s.emails_url),
        ] {
            env.push((format!("OAUTH__{name}__{key}"), value));
        }
    }
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = TestServer::start_accounts(&refs).await;
    World {
        server,
        google,
        github,
    }
}

/// A started sign-in: the provider's callback path+query and the state cookie.
struct Flow {
    callback: String,
    cookie: String,
}

async fn begin(w: &World, p: Provider) -> Flow {
    let resp = browser()
        .get(w.server.http_url(&format!("/api/auth/{}", p.name())))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let url = reqwest::Url::parse(&location).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert!(!q["state"].is_empty() && !q["code_challenge"].is_empty());
    // The provider sends the browser back with a code.
    let resp = browser().get(&location).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let back = resp.headers()["location"].to_str().unwrap();
    let callback = back.strip_prefix(PUBLIC).expect("our callback").to_owned();
    Flow {
        callback,
        cookie: cookie.split(';').next().unwrap().to_owned(),
    }
}

async fn finish(w: &World, path: &str, cookie: Option<&str>) -> (u16, Value) {
    let mut req = browser().get(w.server.http_url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn google_and_github_sign_in_create_and_link_accounts() {
    let w = world().await;
    // A password account with Google's (verified) email exists: Google links to it.
    let (status, reg) = post(
        &w.server,
        "/api/auth/register",
        None,
        json!({"email": "ada@example.org", "username": "ada", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201);
    let flow = begin(&w, Provider::Google).await;
    let (status, body) = finish(&w, &flow.callback, Some(&flow.cookie)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["user"]["id"], reg["user"]["id"],
        "linked by verified email"
    );
    assert_eq!(body["user"]["linked"], json!(["google"]));
    assert_eq!(body["user"]["email_verified"], true);
    let (status, me) = get(&w.server, "/api/auth/me", body["access_token"].as_str()).await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "ada");
    assert_eq!(w.google.tokens_issued(), 1);

    // GitHub: a new person gets a new account named after their login.
    let flow = begin(&w, Provider::GitHub).await;
    let (status, body) = finish(&w, &flow.callback, Some(&flow.cookie)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "user583231");
    assert_eq!(body["user"]["email"], "octo@example.org");
    assert_eq!(body["user"]["has_password"], false);
    let first = body["user"]["id"].clone();
    // Signing in again finds the same account through the link.
    let flow = begin(&w, Provider::GitHub).await;
    let (_, again) = finish(&w, &flow.callback, Some(&flow.cookie)).await;
    assert_eq!(again["user"]["id"], first);

    // An unverified email is never used to create or link an account.
    let mut shady = FakeUser::new("999", "ada@example.org");
    shady.email_verified = false;
    w.github.set_user(shady);
    let flow = begin(&w, Provider::GitHub).await;
    let (status, body) = finish(&w, &flow.callback, Some(&flow.cookie)).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("verified email")
    );
}

#[tokio::test]
async fn state_mismatch_and_replayed_codes_are_refused() {
    let w = world().await;
    let flow = begin(&w, Provider::Google).await;
    // Without the browser's state cookie (a callback planted elsewhere): refused.
    let (status, body) = finish(&w, &flow.callback, None).await;
    assert_eq!(status, 401, "{body}");
    // A tampered state: refused, whatever the cookie says.
    let tampered = flow.callback.replace("state=", "state=x");
    let (status, _) = finish(&w, &tampered, Some(&flow.cookie)).await;
    assert_eq!(status, 401);
    let fake_cookie = format!("cp_oauth_state={}", "x".repeat(10));
    let (status, _) = finish(&w, &tampered, Some(&fake_cookie)).await;
    assert_eq!(status, 401);
    assert_eq!(w.google.token_requests(), 0, "nothing reached the provider");

    // The genuine callback works once.
    let (status, body) = finish(&w, &flow.callback, Some(&flow.cookie)).await;
    assert_eq!(status, 200, "{body}");
    // Replaying it: the state is spent.
    let (status, body) = finish(&w, &flow.callback, Some(&flow.cookie)).await;
    assert_eq!(status, 401, "{body}");
    // The old code under a fresh state: the provider refuses the replayed code.
    let fresh = begin(&w, Provider::Google).await;
    let old_code = flow
        .callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let new_state = fresh
        .callback
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let path = format!("/api/auth/google/callback?code={old_code}&state={new_state}");
    let (status, body) = finish(&w, &path, Some(&fresh.cookie)).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{body}"
    );
    // The provider reporting an error (the person declined) is a clear 401.
    let (status, body) = finish(&w, "/api/auth/google/callback?error=access_denied", None).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("access_denied")
    );
}

#[tokio::test]
async fn unconfigured_providers_answer_503() {
    let server = TestServer::start_accounts(&[]).await;
    for p in ["google", "github"] {
        let resp = browser()
            .get(server.http_url(&format!("/api/auth/{p}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "not_configured", "{v}");
    }
    let resp = browser()
        .get(server.http_url("/api/auth/myspace"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
