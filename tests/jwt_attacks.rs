//! The JWT attack list, each refused on REST and on the socket: `alg: none`,
//! algorithm confusion, a wrong or missing `kid`, a tampered payload, expired and
//! not-yet-valid tokens, a wrong issuer, a revoked session and a disabled user. Also
//! key rotation (an old key keeps verifying) and tokens expiring on a live socket,
//! refreshed in place with `auth`.

mod support;

use std::time::Duration;

use codeplatform::auth::jwt::{JwtKeys, SigningKey};
use data_encoding::BASE64URL_NOPAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::accounts::{Account, PASSWORD, get, login, post, register};
use support::{Client, TestServer};

const NEW: &str = "k2:the-new-signing-secret-of-at-least-32-bytes";
const OLD: &str = "k1:the-old-signing-secret-of-at-least-32-bytes";

fn secret(entry: &str) -> &str {
    entry.split_once(':').unwrap().1
}

fn keys(entries: &[&str]) -> JwtKeys {
    let keys: Vec<SigningKey> = entries
        .iter()
        .map(|e| {
            let (kid, s) = e.split_once(':').unwrap();
            SigningKey {
                kid: kid.into(),
                secret: s.as_bytes().to_vec(),
            }
        })
        .collect();
    JwtKeys::new(&keys, "codeplatform").unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(a: &Account) -> Value {
    let t = now();
    json!({"sub": a.id, "sid": a.session, "role": "user", "iss": "codeplatform", "iat": t, "nbf": t, "exp": t + 600})
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &[u8]) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(key).unwrap()).unwrap()
}

/// Every forged or dead token, with what it is.
fn attacks(victim: &Account) -> Vec<(&'static str, String)> {
    let c = claims(victim);
    let key = secret(NEW).as_bytes();
    let header = |v: Value| B64.encode(v.to_string().as_bytes());
    let body = B64.encode(c.to_string().as_bytes());
    let mut admin = c.clone();
    admin["role"] = json!("admin");
    let genuine = sign(Algorithm::HS256, Some("k2"), &c, key);
    let parts: Vec<&str> = genuine.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(admin.to_string().as_bytes()),
        parts[2]
    );
    let mut wrong_iss = c.clone();
    wrong_iss["iss"] = json!("someone-else");
    let k = keys(&[NEW]);
    vec![
        (
            "alg none",
            format!(
                "{}.{body}.",
                header(json!({"alg": "none", "typ": "JWT", "kid": "k2"}))
            ),
        ),
        (
            "alg none, no signature part",
            format!("{}.{body}", header(json!({"alg": "none", "kid": "k2"}))),
        ),
        (
            "confusion: HS512 with the same secret",
            sign(Algorithm::HS512, Some("k2"), &c, key),
        ),
        (
            "confusion: RS256 header over an HMAC",
            format!(
                "{}.{body}.{}",
                header(json!({"alg": "RS256", "kid": "k2"})),
                parts[2]
            ),
        ),
        ("wrong kid", sign(Algorithm::HS256, Some("k9"), &c, key)),
        ("missing kid", sign(Algorithm::HS256, None, &c, key)),
        (
            "right kid, wrong secret",
            sign(
                Algorithm::HS256,
                Some("k2"),
                &c,
                b"a-guessed-secret-that-is-32-bytes-long",
            ),
        ),
        ("tampered payload", tampered),
        (
            "wrong issuer",
            sign(Algorithm::HS256, Some("k2"), &wrong_iss, key),
        ),
        (
            "expired",
            k.issue(&victim.id, &victim.session, "user", now() - 3600, 60),
        ),
        (
            "not yet valid",
            k.issue(&victim.id, &victim.session, "user", now() + 3600, 600),
        ),
        ("garbage", "not.a.token".into()),
    ]
}

async fn refused_on_socket(server: &TestServer, token: &str) -> Value {
    let raw = Client::connect_raw(&server.ws_url()).await;
    let mut c = Client::from_ws(raw);
    c.send_json(json!({"type": "hello", "v": 1, "token": token}))
        .await;
    let answer = c.next_frame().await.expect("an error frame");
    while c.next_frame().await.is_some() {}
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(4001), "{answer}");
    answer
}

#[tokio::test]
async fn every_attack_is_refused_on_rest_and_socket() {
    let keys_env = format!(r#"["{NEW}", "{OLD}"]"#);
    let server = TestServer::start_accounts(&[("AUTH__JWT_KEYS", &keys_env)]).await;
    let victim = register(&server, "victim").await;
    // The genuine token works on both.
    let (status, _) = get(&server, "/api/auth/me", Some(&victim.access)).await;
    assert_eq!(status, 200);
    let ok = Client::connect_token(&server.ws_url(), &victim.access).await;
    drop(ok);

    for (what, token) in attacks(&victim) {
        let (status, v) = get(&server, "/api/auth/me", Some(&token)).await;
        assert_eq!(status, 401, "REST accepted {what}: {v}");
        let code = v["error"]["code"].as_str().unwrap().to_owned();
        let expected = if what == "expired" {
            "token_expired"
        } else {
            "unauthorized"
        };
        assert_eq!(code, expected, "{what}");
        let answer = refused_on_socket(&server, &token).await;
        assert_eq!(answer["type"], "error", "{what}");
        assert_eq!(answer["code"], expected, "socket, {what}: {answer}");
    }

    // Rotation: a token signed with the previous key still verifies...
    let by_old_key = keys(&[OLD]).issue(&victim.id, &victim.session, "user", now(), 600);
    let (status, _) = get(&server, "/api/auth/me", Some(&by_old_key)).await;
    assert_eq!(
        status, 200,
        "tokens of the previous key verify until they expire"
    );
    Client::connect_token(&server.ws_url(), &by_old_key).await;

    // Revoked session: logout, then its token is refused.
    let (_, body) = login(&server, "victim", PASSWORD).await;
    let second = Account::from_tokens(&body);
    let (status, _) = post(&server, "/api/auth/logout", Some(&second.access), json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = get(&server, "/api/auth/me", Some(&second.access)).await;
    assert_eq!(status, 401, "revoked session");
    let answer = refused_on_socket(&server, &second.access).await;
    assert_eq!(answer["code"], "unauthorized");

    // ... and once the old key is removed from the set, its tokens are refused.
    let mut server = server;
    server
        .restart(&[
            ("DEV__ANONYMOUS", "false"),
            ("AUTH__JWT_KEYS", &format!(r#"["{NEW}"]"#)),
        ])
        .await;
    let (status, _) = get(&server, "/api/auth/me", Some(&by_old_key)).await;
    assert_eq!(status, 401);
    let (status, _) = get(&server, "/api/auth/me", Some(&victim.access)).await;
    assert_eq!(status, 200, "the current key's tokens survive the restart");
}

#[tokio::test]
async fn disabled_users_tokens_are_refused() {
    let mut server = TestServer::start_accounts(&[]).await;
    let user = register(&server, "soon-disabled").await;
    server.stop().await;
    // Disable directly in storage (the admin endpoint has its own test).
    let settings = support::settings(&server.data_dir(), &[]);
    let store = codeplatform::storage::Store::open(&settings.db_path(), 1 << 20).unwrap();
    let accounts = codeplatform::accounts::store::AccountStore::new(&store);
    let id = user.id.clone();
    accounts
        .write_now(|tx| {
            let mut u = tx.user(&id)?.unwrap();
            u.disabled = true;
            tx.put_user(&u)
        })
        .unwrap();
    drop(accounts);
    drop(store);
    server.restart(&[("DEV__ANONYMOUS", "false")]).await;
    let (status, v) = get(&server, "/api/auth/me", Some(&user.access)).await;
    assert_eq!(status, 401, "{v}");
    let answer = refused_on_socket(&server, &user.access).await;
    assert_eq!(answer["code"], "unauthorized", "{answer}");
}

#[tokio::test]
async fn tokens_expire_on_live_sockets_unless_refreshed_in_place() {
    let server = TestServer::start_accounts(&[("AUTH__ACCESS_TTL_SECS", "2")]).await;
    let a = register(&server, "ttl-user").await;
    let mut lapsing = Client::connect_token(&server.ws_url(), &a.access).await;
    let mut kept = Client::connect_token(&server.ws_url(), &a.access).await;
    // Refresh, and hand the new token to one socket in place.
    let (status, body) = post(
        &server,
        "/api/auth/refresh",
        None,
        json!({"refresh_token": a.refresh}),
    )
    .await;
    assert_eq!(status, 200);
    let fresh = Account::from_tokens(&body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = post(
        &server,
        "/api/auth/refresh",
        None,
        json!({"refresh_token": fresh.refresh}),
    )
    .await;
    assert_eq!(status, 200);
    let fresher = Account::from_tokens(&body);
    let r = kept
        .ok(json!({"type": "auth", "token": fresher.access}))
        .await;
    assert!(r["token_expires"].as_u64().unwrap() > now(), "{r}");
    // Someone else's token cannot be swapped in.
    let other = register(&server, "other-user").await;
    let r = kept
        .request(json!({"type": "auth", "token": other.access}))
        .await;
    assert_eq!(r["code"], "forbidden", "{r}");

    // The first socket's token runs out: closed with 4003.
    while lapsing.next_frame().await.is_some() {}
    assert_eq!(
        lapsing.closed.as_ref().map(|c| c.0),
        Some(4003),
        "{:?}",
        lapsing.closed
    );
    // The refreshed one is still served past the old expiry.
    kept.ok(json!({"type": "ping"})).await;
}
