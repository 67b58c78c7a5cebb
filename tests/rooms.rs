//! Rooms: roles (a viewer cannot edit but receives everything), join/leave events,
//! presence, chat and its pages, and the same rooms over REST.

mod support;

use support::accounts::{get, post, register};

use serde_json::{Value, json};
use support::{Client, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_cannot_edit_but_sees_everything() {
    let server = TestServer::start(&[]).await;
    let mut owner = server.client("olive").await;
    let room = owner.create_room().await;
    owner
        .ok(json!({"type": "set_role", "room": room, "user": "anon:victor", "role": "viewer"}))
        .await;
    owner.open(&room, "a.md").await;
    let mut viewer = server.client("victor").await;
    let j = viewer.join(&room).await;
    assert_eq!(j["role"], "viewer");
    let joined = owner.expect_push("joined").await;
    assert_eq!(joined["member"]["name"], "victor");
    viewer.open(&room, "a.md").await;
    let r = viewer
        .request(
            json!({"type": "edit", "room": room, "doc": "a.md", "base": 0,
            "ops": [{"pos": 0, "insert": "hack"}]}),
        )
        .await;
    assert_eq!(r["code"], "forbidden");
    // A non-owner cannot grant roles either.
    let r = viewer
        .request(json!({"type": "set_role", "room": room, "user": "anon:victor", "role": "owner"}))
        .await;
    assert_eq!(r["code"], "forbidden");
    owner
        .ok(
            json!({"type": "edit", "room": room, "doc": "a.md", "base": 0,
            "ops": [{"pos": 0, "insert": "hello"}]}),
        )
        .await;
    let e = viewer.expect_push("edit").await;
    assert_eq!(
        e["ops"],
        json!([{"pos": 0, "delete": 0, "insert": "hello"}])
    );
    assert_eq!(e["version"], 1);
    // An editor may join as a viewer by asking for less.
    let mut shy = server.client("shy").await;
    let j = shy
        .ok(json!({"type": "join", "room": room, "role": "viewer"}))
        .await;
    assert_eq!(j["role"], "viewer");
    // Leaving is seen by the others.
    viewer.ok(json!({"type": "leave", "room": room})).await;
    loop {
        let v = owner.next_push().await;
        if v["type"] == "left" {
            assert_eq!(v["session"], viewer.session.as_str());
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_coalesced_and_chat_pages() {
    let server = TestServer::start(&[
        ("ROOMS__PRESENCE_FLUSH_MS", "100"),
        ("LIMITS__CHAT_BURST", "100"),
    ])
    .await;
    let mut a = server.client("ann").await;
    let room = a.create_room().await;
    a.open(&room, "p.txt").await;
    a.ok(
        json!({"type": "edit", "room": room, "doc": "p.txt", "base": 0,
        "ops": [{"pos": 0, "insert": "0123456789"}]}),
    )
    .await;
    let mut b = server.client("ben").await;
    b.join(&room).await;
    b.open(&room, "p.txt").await;
    // A flood of cursor moves becomes a few presence frames carrying the last one.
    for i in 0..=10 {
        a.send_json(
            json!({"type": "cursor", "room": room, "doc": "p.txt", "anchor": i, "head": i}),
        )
        .await;
    }
    let mut frames = 0;
    let last = loop {
        let v = b.expect_push("presence").await;
        frames += 1;
        let c = v["cursors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["session"] == a.session.as_str())
            .cloned();
        if let Some(c) = c
            && c["head"] == 10
        {
            break c;
        }
    };
    assert_eq!(last["name"], "ann");
    assert!(frames <= 5, "11 cursor moves took {frames} presence frames");
    // Past the end is clamped: a client behind by a few versions is not an error.
    a.ok(json!({"type": "cursor", "room": room, "doc": "p.txt", "anchor": 0, "head": 99}))
        .await;
    let v = b.expect_push("presence").await;
    assert_eq!(v["cursors"][0]["head"], 10);
    let r = a
        .request(json!({"type": "cursor", "room": room, "doc": "nope", "anchor": 0, "head": 0}))
        .await;
    assert_eq!(r["code"], "doc_not_open");

    for i in 0..25 {
        a.ok(json!({"type": "chat", "room": room, "text": format!("hi {i}")}))
            .await;
    }
    let m = b.expect_push("chat").await;
    assert_eq!(m["message"]["text"], "hi 0");
    assert_eq!(m["message"]["name"], "ann");
    let mut seen = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut req = json!({"type": "chat_history", "room": room, "limit": 10});
        if let Some(b) = before {
            req["before"] = json!(b);
        }
        let page = b.ok(req).await;
        let msgs = page["messages"].as_array().unwrap();
        seen.extend(msgs.iter().map(|m| m["text"].as_str().unwrap().to_owned()));
        before = msgs.last().map(|m| m["seq"].as_u64().unwrap());
        if page["more"] == false {
            break;
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("hi {i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_over_rest() {
    let server = TestServer::start_accounts(&[]).await;
    let rita = register(&server, "rita").await;
    let sam = register(&server, "sam").await;
    let (status, created) = post(
        &server,
        "/api/rooms",
        Some(&rita.access),
        json!({"name": "pairing", "default_role": "editor"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let room = created["id"].as_str().unwrap().to_owned();
    let (status, join) = post(
        &server,
        &format!("/api/rooms/{room}/join"),
        Some(&sam.access),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{join}");
    assert_eq!(join["role"], "editor");
    // Over the socket, the same people are in the same room.
    let mut sam_ws = Client::connect_token(&server.ws_url(), &sam.access).await;
    sam_ws.join(&room).await;
    sam_ws
        .ok(json!({"type": "chat", "room": room, "text": "from the socket"}))
        .await;
    let (_, users) = get(
        &server,
        &format!("/api/rooms/{room}/users"),
        Some(&rita.access),
    )
    .await;
    assert_eq!(users["members"][0]["name"], "sam");
    let roles = users["roles"].as_array().unwrap();
    assert!(roles.contains(&json!({"user": rita.id, "role": "owner"})));
    assert!(roles.contains(&json!({"user": sam.id, "role": "editor"})));
    let (_, chat) = get(
        &server,
        &format!("/api/rooms/{room}/chat?limit=5"),
        Some(&sam.access),
    )
    .await;
    assert_eq!(chat["messages"][0]["text"], "from the socket");
    assert_eq!(chat["more"], false);

    // Errors have a clear body and status.
    let (status, body) = get(&server, "/api/rooms/doesnotexist/chat", Some(&rita.access)).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "room_not_found");
    let (status, body) = get(&server, &format!("/api/rooms/{room}/chat"), None).await;
    assert_eq!(status, 401, "{body}");
    let http = reqwest::Client::new();
    let r = http
        .post(server.http_url("/api/rooms"))
        .bearer_auth(&rita.access)
        .header("content-type", "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (status, body) = post(
        &server,
        "/api/rooms",
        Some(&rita.access),
        json!({"name": ""}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "name");
    let (status, _) = post(
        &server,
        "/api/rooms",
        Some(&rita.access),
        json!({"name": "y".repeat(100_000)}),
    )
    .await;
    assert_eq!(status, 413);
    let (status, _) = post(
        &server,
        &format!("/api/rooms/{room}/join"),
        Some(&sam.access),
        json!({"role": "king"}),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_metrics_and_request_ids() {
    let server = TestServer::start(&[]).await;
    let http = reqwest::Client::new();
    let r = http
        .get(server.http_url("/health"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "trace-me-123");
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["components"]["storage"]["status"], "ok");
    assert_eq!(h["components"]["actors"]["status"], "ok");
    let r = http.get(server.http_url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let mut c = server.client("m").await;
    let room = c.create_room().await;
    c.open(&room, "m").await;
    c.ok(json!({"type": "edit", "room": room, "doc": "m", "base": 0, "ops": [{"pos": 0, "insert": "q"}]}))
        .await;
    let _ = c.request(json!({"type": "nope"})).await;
    let m = server.metrics().await;
    for name in [
        "codeplatform_ws_connections 1",
        "codeplatform_rooms_loaded 1",
        "codeplatform_edits_applied_total 1",
        "codeplatform_edit_ack_seconds_count 1",
        "codeplatform_storage_commit_seconds_count",
        "codeplatform_storage_commit_batch_size_bucket",
        "codeplatform_protocol_errors_total{code=\"unknown_type\"} 1",
    ] {
        assert!(m.contains(name), "metrics lack {name}:\n{m}");
    }
}
