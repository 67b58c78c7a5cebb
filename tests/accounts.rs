//! Accounts end to end against the real server: register, login, me, refresh
//! rotation and reuse detection, logout, sessions and their revocation reaching
//! live sockets, validation bodies, body limits and login throttling.

mod support;

use std::time::Duration;

use serde_json::json;
use support::accounts::{self, Account, PASSWORD, get, login, post, register};
use support::{Client, TestServer};

#[tokio::test]
async fn register_login_me_refresh_logout() {
    let server = TestServer::start_accounts(&[]).await;
    let ada = register(&server, "ada").await;
    assert_eq!(ada.id.len(), 32);

    let (status, me) = get(&server, "/api/auth/me", Some(&ada.access)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "ada");
    assert_eq!(me["email"], "ada@example.test");
    assert_eq!(me["role"], "user");
    assert_eq!(me["two_factor"], false);
    assert!(me.get("password_hash").is_none(), "{me}");

    // Login by username or email, case-insensitively.
    for name in ["ada", "ADA@example.test"] {
        let (status, body) = login(&server, name, PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
    }
    let (status, body) = login(&server, "ada", "wrong-password-123").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = login(&server, "nobody", PASSWORD).await;
    assert_eq!(status, 401, "an unknown login looks like a wrong password");

    // Refresh rotates: the new pair works, the old refresh token does not.
    let (status, fresh) = post(
        &server,
        "/api/auth/refresh",
        None,
        json!({"refresh_token": ada.refresh}),
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    let rotated = Account::from_tokens(&fresh);
    assert_ne!(rotated.refresh, ada.refresh);
    assert_eq!(rotated.session, ada.session, "same session, next token");
    let (status, _) = get(&server, "/api/auth/me", Some(&rotated.access)).await;
    assert_eq!(status, 200);

    // Logout ends the session: its access and refresh tokens stop working.
    let (status, _) = post(
        &server,
        "/api/auth/logout",
        Some(&rotated.access),
        json!({}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = get(&server, "/api/auth/me", Some(&rotated.access)).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = post(
        &server,
        "/api/auth/refresh",
        None,
        json!({"refresh_token": rotated.refresh}),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn reused_refresh_token_revokes_the_family() {
    let server = TestServer::start_accounts(&[]).await;
    let bob = register(&server, "bob").await;
    let refresh = |t: String| {
        let server = &server;
        async move {
            post(
                server,
                "/api/auth/refresh",
                None,
                json!({"refresh_token": t}),
            )
            .await
        }
    };
    let (s1, a1) = refresh(bob.refresh.clone()).await;
    assert_eq!(s1, 200);
    let legit = Account::from_tokens(&a1);
    // Live socket of the legitimate holder.
    let mut ws = Client::connect_token(&server.ws_url(), &legit.access).await;

    // The thief replays the first token: refused, and the whole session ends.
    let (s2, body) = refresh(bob.refresh.clone()).await;
    assert_eq!(s2, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
    let (s3, _) = refresh(legit.refresh.clone()).await;
    assert_eq!(s3, 401, "the current token of the family is dead too");
    let (s4, _) = get(&server, "/api/auth/me", Some(&legit.access)).await;
    assert_eq!(s4, 401, "access tokens of the family are refused at once");
    // The socket of that session is closed with 4004.
    let started = tokio::time::Instant::now();
    while ws.next_frame().await.is_some() {}
    assert_eq!(
        ws.closed.as_ref().map(|c| c.0),
        Some(4004),
        "{:?}",
        ws.closed
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    // A made-up token naming the session does not count as reuse (and is refused).
    let (s5, _) = refresh(format!("{}.forged", bob.session)).await;
    assert_eq!(s5, 401);
    // Other sessions of the same person are untouched.
    let (s6, other) = login(&server, "bob", PASSWORD).await;
    assert_eq!(s6, 200, "{other}");
}

#[tokio::test]
async fn sessions_list_and_revocation_reach_sockets_within_a_second() {
    let server = TestServer::start_accounts(&[]).await;
    let laptop = register(&server, "carol").await;
    let (_, body) = login(&server, "carol", PASSWORD).await;
    let phone = Account::from_tokens(&body);
    let (_, body) = login(&server, "carol", PASSWORD).await;
    let tablet = Account::from_tokens(&body);

    let (status, list) = get(&server, "/api/auth/sessions", Some(&laptop.access)).await;
    assert_eq!(status, 200);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{list}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], laptop.session.as_str());
    assert!(
        sessions
            .iter()
            .all(|s| s["ip"] == "127.0.0.1" && s["last_seen_ms"].as_u64() > Some(0))
    );

    let mut phone_ws = Client::connect_token(&server.ws_url(), &phone.access).await;
    let mut tablet_ws = Client::connect_token(&server.ws_url(), &tablet.access).await;

    // Revoke the phone from the laptop: its socket closes within a second.
    let path = format!("/api/auth/sessions/{}", phone.session);
    let started = tokio::time::Instant::now();
    let (status, _) = accounts::call(
        &server,
        reqwest::Method::DELETE,
        &path,
        Some(&laptop.access),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let bye = phone_ws.next_frame().await.expect("bye before the close");
    assert_eq!(bye["type"], "bye", "{bye}");
    while phone_ws.next_frame().await.is_some() {}
    assert_eq!(phone_ws.closed.as_ref().map(|c| c.0), Some(4004));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let (status, _) = get(&server, "/api/auth/me", Some(&phone.access)).await;
    assert_eq!(status, 401);
    // Someone else's session id is not found (and not revoked).
    let other = register(&server, "dave").await;
    let path = format!("/api/auth/sessions/{}", other.session);
    let (status, _) = accounts::call(
        &server,
        reqwest::Method::DELETE,
        &path,
        Some(&laptop.access),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(&server, "/api/auth/me", Some(&other.access)).await;
    assert_eq!(status, 200);

    // Sign out everywhere else: the tablet goes, the laptop stays.
    let (status, body) = post(
        &server,
        "/api/auth/sessions/revoke-others",
        Some(&laptop.access),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["revoked"], 1, "{body}");
    while tablet_ws.next_frame().await.is_some() {}
    assert_eq!(tablet_ws.closed.as_ref().map(|c| c.0), Some(4004));
    let (_, list) = get(&server, "/api/auth/sessions", Some(&laptop.access)).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let server = TestServer::start_accounts(&[]).await;
    let cases = [
        (
            json!({"email": "not-an-email", "username": "erin", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "erin@example.test", "username": "e", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"email": "erin@example.test", "username": "erin", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "erin@example.test", "username": "erin", "password": "password1234"}),
            "password",
        ),
        (
            json!({"email": "erin@example.test", "username": "erin", "password": "erin@example.test"}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = post(&server, "/api/auth/register", None, body).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["code"], "bad_field", "{v}");
        assert_eq!(v["error"]["field"], field, "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    register(&server, "erin").await;
    let dup = json!({"email": "other@example.test", "username": "ERIN", "password": PASSWORD});
    let (status, v) = post(&server, "/api/auth/register", None, dup).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["field"], "username");
    let dup = json!({"email": "Erin@Example.test", "username": "erin2", "password": PASSWORD});
    let (status, v) = post(&server, "/api/auth/register", None, dup).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["field"], "email");

    // Unknown fields and broken JSON: 400; a body over the limit: 413.
    let (status, v) = post(
        &server,
        "/api/auth/login",
        None,
        json!({"login": "erin", "password": "x", "admin": true}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let resp = reqwest::Client::new()
        .post(server.http_url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{\"login\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_json");
    let huge = json!({"login": "erin", "password": "x".repeat(200_000)});
    let (status, v) = post(&server, "/api/auth/login", None, huge).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["error"]["code"], "too_large");
    // No token, or garbage: 401 with WWW-Authenticate.
    let resp = reqwest::get(server.http_url("/api/auth/me")).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn login_brute_force_is_throttled_with_retry_after() {
    let server = TestServer::start_accounts(&[
        ("AUTH__ATTEMPTS_PER_MIN_ACCOUNT", "5"),
        ("AUTH__ATTEMPTS_PER_MIN_IP", "8"),
    ])
    .await;
    register(&server, "frank").await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..7 {
        let resp = reqwest::Client::new()
            .post(server.http_url("/api/auth/login"))
            .json(&json!({"login": "frank", "password": format!("guess-number-{i}")}))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let v: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(v["error"]["code"], "rate_limited");
        }
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429; 2], "{statuses:?}");
    let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    // Even the right password waits: the account's budget is spent.
    let (status, _) = login(&server, "frank", PASSWORD).await;
    assert_eq!(status, 429);
    // Per IP: other accounts from the same address hit the IP budget (8/min).
    let (status, _) = login(&server, "someone-else", PASSWORD).await;
    assert_eq!(status, 429, "the IP's budget is spent too");
}
