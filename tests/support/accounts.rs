//! Account helpers for tests: register, log in and call the API with a token, over
//! real HTTP.

use reqwest::Method;
use serde_json::{Value, json};

use super::TestServer;

pub const PASSWORD: &str = "plum-velvet-orbit-42";

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
    pub session: String,
}

impl Account {
    pub fn from_tokens(body: &Value) -> Account {
        Account {
            id: body["user"]["id"].as_str().expect("user id").to_owned(),
            username: body["user"]["username"].as_str().unwrap().to_owned(),
            email: body["user"]["email"].as_str().unwrap().to_owned(),
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
            session: body["session_id"].as_str().unwrap().to_owned(),
        }
    }
}

/// Any request; the status and the JSON body (`null` when empty).
pub async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, server.http_url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

pub async fn post(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    call(server, Method::POST, path, token, Some(body)).await
}

pub async fn get(server: &TestServer, path: &str, token: Option<&str>) -> (u16, Value) {
    call(server, Method::GET, path, token, None).await
}

/// Registers `username` (email `username@example.test`) and returns its tokens.
pub async fn register(server: &TestServer, username: &str) -> Account {
    let body = json!({
        "email": format!("{username}@example.test"),
        "username": username,
        "password": PASSWORD,
    });
    let (status, v) = post(server, "/api/auth/register", None, body).await;
    assert_eq!(status, 201, "{v}");
    Account::from_tokens(&v)
}

/// Logs in with the password; the raw answer.
pub async fn login(server: &TestServer, login: &str, password: &str) -> (u16, Value) {
    post(
        server,
        "/api/auth/login",
        None,
        json!({"login": login, "password": password}),
    )
    .await
}
