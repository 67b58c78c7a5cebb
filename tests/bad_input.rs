//! Bad input gets an error frame with a stable code and the connection stays usable;
//! oversized frames close with 1009; repeated abuse closes with 1008; a reader that
//! stops reading costs bounded memory and gets a resync.

mod support;

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use support::{Client, Mirror, TestServer, follow};
use tokio_tungstenite::tungstenite::Message;

async fn expect_error(c: &mut Client, frame: &str, code: &str) -> Value {
    c.ws.send(Message::text(frame.to_owned())).await.unwrap();
    let v = c.next_frame().await.expect("socket open");
    assert_eq!(v["type"], "error", "{frame} -> {v}");
    assert_eq!(v["code"], code, "{frame} -> {v}");
    v
}

async fn still_works(c: &mut Client) {
    let r = c.request(json!({"type": "ping"})).await;
    assert_eq!(r["type"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_gets_its_code_and_the_socket_keeps_working() {
    let server = TestServer::start(&[("ROOMS__HISTORY_WINDOW", "4")]).await;
    // Before hello.
    let mut raw = Client::connect_raw(&server.ws_url()).await;
    raw.send(Message::text(r#"{"type":"ping","id":1}"#))
        .await
        .unwrap();
    let mut pre = Client::from_ws(raw);
    let v = pre.next_frame().await.unwrap();
    assert_eq!(
        (v["code"].as_str(), v["id"].as_u64()),
        (Some("hello_required"), Some(1))
    );

    let mut c = server.client("mallory").await;
    let room = c.create_room().await;
    c.open(&room, "x.txt").await;
    c.ok(
        json!({"type": "edit", "room": room, "doc": "x.txt", "base": 0,
        "ops": [{"pos": 0, "insert": "abc"}]}),
    )
    .await;

    expect_error(&mut c, "{not json", "bad_json").await;
    expect_error(&mut c, "[1,2,3]", "bad_json").await;
    expect_error(&mut c, "\"just a string\"", "bad_json").await;
    let v = expect_error(&mut c, r#"{"type":"teleport","id":7}"#, "unknown_type").await;
    assert_eq!(v["id"], 7, "the id is echoed even for unknown types");
    expect_error(&mut c, r#"{"id":8}"#, "unknown_type").await;
    expect_error(
        &mut c,
        r#"{"type":"edit","id":9,"room":"r","doc":"d","base":"zero","ops":[]}"#,
        "bad_field",
    )
    .await;
    expect_error(
        &mut c,
        r#"{"type":"edit","id":10,"room":"r","doc":"d","base":-1,"ops":[]}"#,
        "bad_field",
    )
    .await;
    expect_error(
        &mut c,
        r#"{"type":"ping","id":11,"surprise":true}"#,
        "bad_field",
    )
    .await;
    expect_error(
        &mut c,
        r#"{"type":"hello","v":1,"name":"again"}"#,
        "hello_required",
    )
    .await;
    let r = r#"{"type":"join","id":12,"room":"bad room!"}"#;
    expect_error(&mut c, r, "bad_field").await;
    expect_error(
        &mut c,
        r#"{"type":"open","id":13,"room":"nope","doc":"a"}"#,
        "not_joined",
    )
    .await;
    let edit = |base: u64, ops: Value| {
        json!({"type": "edit", "id": 14, "room": room, "doc": "x.txt", "base": base, "ops": ops})
            .to_string()
    };
    expect_error(
        &mut c,
        &edit(1, json!([{"pos": 4, "insert": "z"}])),
        "out_of_range",
    )
    .await;
    expect_error(
        &mut c,
        &edit(1, json!([{"pos": 1, "delete": 3}])),
        "out_of_range",
    )
    .await;
    expect_error(
        &mut c,
        &edit(9, json!([{"pos": 0, "insert": "z"}])),
        "bad_version",
    )
    .await;
    expect_error(&mut c, &edit(1, json!([{"pos": 0}])), "bad_field").await;
    let other = json!({"type": "edit", "id": 15, "room": room, "doc": "unopened", "base": 0,
        "ops": [{"pos": 0, "insert": "z"}]});
    expect_error(&mut c, &other.to_string(), "doc_not_open").await;
    let too_long = "x".repeat(4001);
    let chat = json!({"type": "chat", "id": 16, "room": room, "text": too_long});
    expect_error(&mut c, &chat.to_string(), "chat_too_long").await;
    c.ws.send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .unwrap();
    let v = c.next_frame().await.unwrap();
    assert_eq!(v["code"], "binary_not_supported");
    // History window of 4: version 1 falls out of it after more edits.
    for v in 1..6 {
        c.ok(
            json!({"type": "edit", "room": room, "doc": "x.txt", "base": v,
            "ops": [{"pos": 0, "insert": "n"}]}),
        )
        .await;
    }
    expect_error(
        &mut c,
        &edit(1, json!([{"pos": 0, "insert": "z"}])),
        "version_too_old",
    )
    .await;
    // Nothing bad was applied, and the socket still works.
    still_works(&mut c).await;
    let (text, version) = c.open(&room, "x.txt").await;
    assert_eq!((text.as_str(), version), ("nnnnnabc", 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_with_1009() {
    let server = TestServer::start(&[("SOCKET__MAX_FRAME_BYTES", "4096")]).await;
    let mut c = server.client("big").await;
    let huge = json!({"type": "ping", "id": 1, "pad": "y".repeat(10_000)}).to_string();
    let _ = c.ws.send(Message::text(huge)).await;
    while c.next_frame().await.is_some() {}
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(1009), "{:?}", c.closed);
    // Others are unaffected.
    let mut d = server.client("small").await;
    still_works(&mut d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_abuse_closes_with_1008() {
    let server = TestServer::start(&[("SOCKET__MAX_ERRORS_PER_MINUTE", "5")]).await;
    let mut c = server.client("spammer").await;
    for _ in 0..10 {
        let _ = c.ws.send(Message::text("garbage")).await;
    }
    let mut errors = 0;
    while let Some(v) = c.next_frame().await {
        assert_eq!(v["code"], "bad_json");
        errors += 1;
    }
    assert!(errors >= 5, "got {errors} error frames");
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_with_retry_after() {
    let server =
        TestServer::start(&[("LIMITS__EDITS_PER_SEC", "1"), ("LIMITS__EDITS_BURST", "2")]).await;
    let mut c = server.client("fast").await;
    let room = c.create_room().await;
    c.open(&room, "r.txt").await;
    let mut codes = Vec::new();
    for i in 0..4u64 {
        let r = c
            .request(
                json!({"type": "edit", "room": room, "doc": "r.txt", "base": i.min(2),
                "ops": [{"pos": 0, "insert": "a"}]}),
            )
            .await;
        codes.push(r["code"].as_str().unwrap_or("ok").to_owned());
        if r["code"] == "rate_limited" {
            assert!(r["retry_after_ms"].as_u64().unwrap() > 0);
        }
    }
    assert_eq!(codes, ["ok", "ok", "rate_limited", "rate_limited"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_is_bounded_and_resyncs() {
    let server = TestServer::start(&[
        ("SOCKET__OUTBOUND_QUEUE_FRAMES", "64"),
        ("LIMITS__MAX_DOC_CHARS", "50000000"),
        ("LIMITS__EDITS_PER_SEC", "100000"),
        ("LIMITS__EDITS_BURST", "100000"),
    ])
    .await;
    let mut writer = server.client("writer").await;
    let room = writer.create_room().await;
    writer.open(&room, "log.txt").await;
    let mut sleeper = server.client("sleeper").await;
    sleeper.join(&room).await;
    let (text, version) = sleeper.open(&room, "log.txt").await;
    let mut mirror = Mirror::new(&text, version);
    // The sleeper stops reading while 1,500 edits of 10,000 characters go out: 15 MB
    // of pushes, more than the kernel's socket buffers and its queue of 64 frames.
    let line = "z".repeat(10_000);
    let mut v = 0;
    let mut len = 0;
    for _ in 0..1500 {
        let r = writer
            .ok(
                json!({"type": "edit", "room": room, "doc": "log.txt", "base": v,
                "ops": [{"pos": len, "insert": line}]}),
            )
            .await;
        v = r["version"].as_u64().unwrap();
        len += 10_000;
    }
    let metrics = server.metrics().await;
    assert!(
        support::metric(&metrics, "codeplatform_lagging_sockets_total") >= 1.0,
        "{metrics}"
    );
    // The server kept at most the queue bound for the sleeper, then dropped it to a
    // resync; reading again, the sleeper catches up by version and agrees.
    let resyncs = tokio::time::timeout(
        Duration::from_secs(30),
        follow(&mut sleeper, &room, "log.txt", &mut mirror, v),
    )
    .await
    .unwrap();
    assert!(resyncs >= 1, "expected a resync");
    assert_eq!(mirror.text.len(), 15_000_000);
    let (text, _) = writer.open(&room, "log.txt").await;
    assert_eq!(mirror.string(), text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_and_count_limits_are_enforced() {
    let server = TestServer::start(&[
        ("LIMITS__MAX_MEMBERS_PER_ROOM", "2"),
        ("LIMITS__MAX_ROOMS_PER_SESSION", "2"),
        ("LIMITS__MAX_DOC_CHARS", "10"),
        ("LIMITS__MAX_OPS_PER_EDIT", "3"),
        ("LIMITS__MAX_DOCS_PER_ROOM", "1"),
    ])
    .await;
    let mut a = server.client("a").await;
    let room = a.create_room().await;
    let mut b = server.client("b").await;
    b.join(&room).await;
    let mut c = server.client("c").await;
    let r = c.request(json!({"type": "join", "room": room})).await;
    assert_eq!(r["code"], "room_full");
    a.create_room().await;
    let r = a.request(json!({"type": "create_room"})).await;
    assert_eq!(r["code"], "too_many_rooms");
    a.open(&room, "one").await;
    let r = a
        .request(json!({"type": "open", "room": room, "doc": "two"}))
        .await;
    assert_eq!(r["code"], "too_many_docs");
    let edit =
        |ops: Value| json!({"type": "edit", "room": room, "doc": "one", "base": 0, "ops": ops});
    let r = a
        .request(edit(json!([{"pos": 0, "insert": "01234567890"}])))
        .await;
    assert_eq!(r["code"], "too_large");
    let four = json!([{"pos": 0, "insert": "a"}, {"pos": 0, "insert": "a"}, {"pos": 0, "insert": "a"}, {"pos": 0, "insert": "a"}]);
    let r = a.request(edit(four)).await;
    assert_eq!(r["code"], "too_large");
    let r = a
        .request(edit(json!([{"pos": 0, "insert": "0123456789"}])))
        .await;
    assert_eq!(r["type"], "ok");
    // A replace at the limit is fine: deletes count.
    let r = a
        .request(
            json!({"type": "edit", "room": room, "doc": "one", "base": 1,
            "ops": [{"pos": 0, "delete": 1, "insert": "X"}]}),
        )
        .await;
    assert_eq!(r["type"], "ok", "{r}");
}
