//! The server's life: `codeplatform config`, SIGTERM shutdown that says goodbye with
//! 1001 and exits 0, the hello deadline, and idle rooms that unload and reload.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Client, TestServer};

#[test]
fn config_prints_effective_settings_and_rejects_unknown_keys() {
    let out = Command::new(env!("CARGO_BIN_EXE_codeplatform"))
        .arg("config")
        .env("CODEPLATFORM_LIMITS__MAX_CHAT_CHARS", "77")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("max_chat_chars = 77"), "{text}");
    assert!(text.contains("listen = \"0.0.0.0:8080\""), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_codeplatform"))
        .arg("config")
        .env("CODEPLATFORM_LIMITS__MAX_CHAT_CHARZ", "77")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("max_chat_charz"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_says_goodbye_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_codeplatform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CODEPLATFORM_LOG__FORMAT", "json")
        .env("CODEPLATFORM_DEV__ANONYMOUS", "true")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let v: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap_or(Value::Null);
        if v["fields"]["message"] == "codeplatform listening" {
            break v["fields"]["addr"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let mut c = Client::connect(&format!("ws://{addr}/ws"), "stayer").await;
    let room = c.create_room().await;
    c.open(&room, "f").await;
    c.ok(json!({"type": "edit", "room": room, "doc": "f", "base": 0, "ops": [{"pos": 0, "insert": "kept"}]}))
        .await;
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let bye = c.next_frame().await.unwrap();
    assert_eq!(bye["type"], "bye");
    while c.next_frame().await.is_some() {}
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(1001));
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    // Reopen the same data with an in-process server: the edit is there.
    let server = codeplatform::Server::start(support::settings(dir.path(), &[]))
        .await
        .unwrap();
    let mut c = Client::connect(&format!("ws://{}/ws", server.addr()), "stayer").await;
    c.join(&room).await;
    assert_eq!(c.open(&room, "f").await, ("kept".into(), 1));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_socket_is_closed_at_the_hello_deadline() {
    let server = TestServer::start(&[("SOCKET__HELLO_TIMEOUT_SECS", "1")]).await;
    let mut c = Client::from_ws(Client::connect_raw(&server.ws_url()).await);
    while c.next_frame().await.is_some() {}
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(4000));
    let mut c = Client::from_ws(Client::connect_raw(&server.ws_url()).await);
    c.send_json(json!({"type": "hello", "v": 99, "name": "future"}))
        .await;
    let v = c.next_frame().await.unwrap();
    assert_eq!(v["code"], "unsupported_version");
    while c.next_frame().await.is_some() {}
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(4001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_rooms_unload_and_reload_lazily() {
    let server = TestServer::start(&[("ROOMS__IDLE_PASSIVATE_SECS", "1")]).await;
    let mut c = server.client("idle").await;
    let room = c.create_room().await;
    c.open(&room, "d").await;
    c.ok(json!({"type": "edit", "room": room, "doc": "d", "base": 0, "ops": [{"pos": 0, "insert": "zzz"}]}))
        .await;
    c.ok(json!({"type": "leave", "room": room})).await;
    let ctx = server.server.as_ref().unwrap().ctx().clone();
    let mut unloaded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if ctx.rooms.lookup(&room).is_none() {
            unloaded = true;
            break;
        }
    }
    assert!(unloaded, "the idle room was not unloaded");
    c.join(&room).await;
    assert_eq!(c.open(&room, "d").await, ("zzz".into(), 1));
    assert!(ctx.rooms.lookup(&room).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_dropped_after_three_heartbeats() {
    let server = TestServer::start(&[("SOCKET__HEARTBEAT_SECS", "1")]).await;
    let mut c = server.client("quiet").await;
    // Not reading means not answering pings either: the server hears nothing.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    while c.next_frame().await.is_some() {}
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(4002), "{:?}", c.closed);
    // A client that reads (and so answers pings) stays.
    let mut d = server.client("chatty").await;
    let reader = tokio::spawn(async move {
        let r = tokio::time::timeout(Duration::from_millis(3500), d.next_frame()).await;
        (r.is_err(), d)
    });
    let (timed_out, mut d) = reader.await.unwrap();
    assert!(timed_out, "no frame, and no close, while pongs flow");
    assert_eq!(d.request(json!({"type": "ping"})).await["type"], "ok");
}
