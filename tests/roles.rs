//! Roles end to end: rooms are private unless their owner says otherwise, viewers
//! cannot edit over the socket or REST, people without a role cannot join or read;
//! admins (the first one created on the command line) list, disable and promote
//! users and read the audit log.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};
use support::accounts::{Account, PASSWORD, call, get, login, post, register};
use support::{Client, TestServer};

#[tokio::test]
async fn private_rooms_viewers_and_strangers() {
    let server = TestServer::start_accounts(&[]).await;
    let olga = register(&server, "olga").await;
    let vic = register(&server, "vic").await;
    let eve = register(&server, "eve").await;

    let mut owner = Client::connect_token(&server.ws_url(), &olga.access).await;
    let created = owner
        .ok(json!({"type": "create_room", "name": "secret"}))
        .await;
    let room = created["room"].as_str().unwrap().to_owned();
    owner
        .ok(json!({"type": "open", "room": room, "doc": "main.rs"}))
        .await;
    owner
        .ok(json!({"type": "edit", "room": room, "doc": "main.rs", "base": 0, "ops": [{"pos": 0, "insert": "fn main() {}"}]}))
        .await;

    // Without a role, nobody joins a private room (socket), or sees it (REST).
    let mut stranger = Client::connect_token(&server.ws_url(), &eve.access).await;
    let r = stranger
        .request(json!({"type": "join", "room": room}))
        .await;
    assert_eq!(r["code"], "forbidden", "{r}");
    for path in ["users", "chat", "docs/main.rs"] {
        let (status, v) = get(
            &server,
            &format!("/api/rooms/{room}/{path}"),
            Some(&eve.access),
        )
        .await;
        assert_eq!(status, 404, "{path}: {v}");
    }
    let (status, _) = post(
        &server,
        &format!("/api/rooms/{room}/join"),
        Some(&eve.access),
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    // Nor can a stranger grant themself a role.
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/rooms/{room}/roles"),
        Some(&eve.access),
        Some(json!({"user": "eve", "role": "owner"})),
    )
    .await;
    assert_eq!(status, 404);

    // The owner makes vic a viewer, by username, over REST.
    let (status, v) = call(
        &server,
        Method::PUT,
        &format!("/api/rooms/{room}/roles"),
        Some(&olga.access),
        Some(json!({"user": "vic", "role": "viewer"})),
    )
    .await;
    assert_eq!(status, 204, "{v}");
    let mut viewer = Client::connect_token(&server.ws_url(), &vic.access).await;
    let joined = viewer.ok(json!({"type": "join", "room": room})).await;
    assert_eq!(joined["role"], "viewer");
    // Asking for more than granted gives what was granted.
    let opened = viewer
        .ok(json!({"type": "open", "room": room, "doc": "main.rs"}))
        .await;
    assert_eq!(opened["text"], "fn main() {}");
    let r = viewer
        .request(json!({"type": "edit", "room": room, "doc": "main.rs", "base": 1, "ops": [{"pos": 0, "insert": "x"}]}))
        .await;
    assert_eq!(r["code"], "forbidden", "{r}");
    let r = viewer
        .request(json!({"type": "open", "room": room, "doc": "new.rs"}))
        .await;
    assert_eq!(r["code"], "forbidden", "viewers create no documents: {r}");
    let r = viewer
        .request(json!({"type": "set_role", "room": room, "user": "vic", "role": "owner"}))
        .await;
    assert_eq!(r["code"], "forbidden");

    // REST: the viewer reads but cannot edit; an editor can.
    let (status, doc) = get(
        &server,
        &format!("/api/rooms/{room}/docs/main.rs"),
        Some(&vic.access),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["text"], "fn main() {}");
    assert_eq!(doc["version"], 1);
    let edit = json!({"base": 1, "ops": [{"pos": 12, "insert": "\n"}]});
    let (status, v) = post(
        &server,
        &format!("/api/rooms/{room}/docs/main.rs"),
        Some(&vic.access),
        edit.clone(),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "forbidden");
    let (status, v) = post(
        &server,
        &format!("/api/rooms/{room}/docs/main.rs"),
        Some(&olga.access),
        edit,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["version"], 2);
    // ... and the REST edit reached the socket reader, after it was durable.
    let push = viewer.expect_push("edit").await;
    assert_eq!(
        push["ops"],
        json!([{"pos": 12, "delete": 0, "insert": "\n"}])
    );
    let (status, v) = get(
        &server,
        &format!("/api/rooms/{room}/docs/none.rs"),
        Some(&olga.access),
    )
    .await;
    assert_eq!(status, 404, "{v}");

    // Taking the role away removes vic from the room at once.
    owner
        .ok(json!({"type": "set_role", "room": room, "user": vic.id, "role": "none"}))
        .await;
    let left = viewer.expect_push("left").await;
    assert_eq!(left["room"], room.as_str());
    let r = viewer
        .request(json!({"type": "members", "room": room}))
        .await;
    assert_eq!(r["code"], "not_joined", "{r}");
    let r = viewer.request(json!({"type": "join", "room": room})).await;
    assert_eq!(r["code"], "forbidden");

    // A room opened to editors by default lets anyone with an account join.
    let open = owner
        .ok(json!({"type": "create_room", "default_role": "editor"}))
        .await;
    let r = stranger
        .ok(json!({"type": "join", "room": open["room"]}))
        .await;
    assert_eq!(r["role"], "editor");
}

fn create_admin_with_cli(data_dir: &std::path::Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_codeplatform"))
        .args([
            "user",
            "create",
            "--admin",
            "--email",
            "root@example.test",
            "--username",
            "root",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("created admin root"), "{text}");
    text
}

#[tokio::test]
async fn admins_manage_users_and_read_the_audit_log() {
    let mut server = TestServer::start_accounts(&[]).await;
    let mallory = register(&server, "mallory").await;
    let nina = register(&server, "nina").await;
    server.stop().await;
    create_admin_with_cli(&server.data_dir());
    // A weak password is refused by the command line too.
    let out = Command::new(env!("CARGO_BIN_EXE_codeplatform"))
        .args([
            "user",
            "create",
            "--email",
            "x@example.test",
            "--username",
            "xavier",
            "--data-dir",
        ])
        .arg(server.data_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    server.restart(&[("DEV__ANONYMOUS", "false")]).await;

    let (status, body) = login(&server, "root", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let root = Account::from_tokens(&body);
    assert_eq!(body["user"]["role"], "admin");

    // Non-admins are refused everywhere under /api/admin.
    for path in ["/api/admin/users", "/api/admin/audit"] {
        let (status, v) = get(&server, path, Some(&nina.access)).await;
        assert_eq!(status, 403, "{v}");
    }
    let (status, _) = post(
        &server,
        &format!("/api/admin/users/{}/disable", mallory.id),
        Some(&nina.access),
        json!({}),
    )
    .await;
    assert_eq!(status, 403);

    let (status, v) = get(&server, "/api/admin/users", Some(&root.access)).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{v}");
    for n in ["root", "mallory", "nina"] {
        assert!(names.contains(&n), "{names:?}");
    }

    // Disabling ends the user's live sessions at once, and they cannot come back.
    let mut ws = Client::connect_token(&server.ws_url(), &mallory.access).await;
    let (status, v) = post(
        &server,
        &format!("/api/admin/users/{}/disable", mallory.id),
        Some(&root.access),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["disabled"], true);
    while ws.next_frame().await.is_some() {}
    assert_eq!(ws.closed.as_ref().map(|c| c.0), Some(4004));
    let (status, _) = get(&server, "/api/auth/me", Some(&mallory.access)).await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &server,
        "/api/auth/refresh",
        None,
        json!({"refresh_token": mallory.refresh}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, v) = login(&server, "mallory", PASSWORD).await;
    assert_eq!(status, 403, "{v}");
    let (status, _) = post(
        &server,
        &format!("/api/admin/users/{}/enable", mallory.id),
        Some(&root.access),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = login(&server, "mallory", PASSWORD).await;
    assert_eq!(status, 200);

    // Promotion applies at once, without a new token.
    let (status, v) = call(
        &server,
        Method::PUT,
        &format!("/api/admin/users/{}/role", nina.id),
        Some(&root.access),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = get(&server, "/api/admin/users", Some(&nina.access)).await;
    assert_eq!(status, 200);
    let (status, v) = call(
        &server,
        Method::PUT,
        &format!("/api/admin/users/{}/role", nina.id),
        Some(&root.access),
        Some(json!({"role": "emperor"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["field"], "role");
    let (status, _) = post(
        &server,
        &format!("/api/admin/users/{}/disable", root.id),
        Some(&root.access),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "admins cannot lock themselves out");

    // A reused refresh token is a security event too.
    for _ in 0..2 {
        post(
            &server,
            "/api/auth/refresh",
            None,
            json!({"refresh_token": nina.refresh}),
        )
        .await;
    }

    // The audit log holds each of those events, newest first, and no secrets.
    let (status, v) = get(&server, "/api/admin/audit?limit=100", Some(&root.access)).await;
    assert_eq!(status, 200);
    let events = v["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in [
        "register",
        "user_created",
        "login",
        "user_disabled",
        "user_enabled",
        "role_changed",
        "refresh_token_reuse",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    let disabled: &Value = events
        .iter()
        .find(|e| e["kind"] == "user_disabled")
        .unwrap();
    assert_eq!(disabled["user"], mallory.id.as_str());
    assert_eq!(disabled["actor"], root.id.as_str());
    let all = v.to_string();
    assert!(!all.contains(PASSWORD) && !all.contains(&mallory.refresh));
    let (_, page) = get(&server, "/api/admin/audit?limit=2", Some(&root.access)).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["more"], true);
}
