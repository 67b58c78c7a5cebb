//! Durability: a restarted server serves every document and chat message; a server
//! killed with SIGKILL mid-edit keeps every edit it acknowledged; a room that panics
//! is restarted and its clients go on without losing acknowledged edits.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Client, Mirror, TestServer, follow};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_serves_documents_and_chat() {
    let mut server = TestServer::start(&[]).await;
    let mut a = server.client("ada").await;
    let room = a.create_room().await;
    a.open(&room, "a.txt").await;
    a.open(&room, "b.txt").await;
    a.ok(
        json!({"type": "edit", "room": room, "doc": "a.txt", "base": 0,
        "ops": [{"pos": 0, "insert": "alpha"}]}),
    )
    .await;
    a.ok(
        json!({"type": "edit", "room": room, "doc": "a.txt", "base": 1,
        "ops": [{"pos": 5, "insert": " beta"}]}),
    )
    .await;
    a.ok(
        json!({"type": "edit", "room": room, "doc": "b.txt", "base": 0,
        "ops": [{"pos": 0, "insert": "ünïcödé ✓"}]}),
    )
    .await;
    for i in 0..5 {
        a.ok(json!({"type": "chat", "room": room, "text": format!("message {i}")}))
            .await;
    }
    drop(a);
    server.restart(&[]).await;

    let mut b = server.client("ada").await;
    let joined = b.join(&room).await;
    assert_eq!(joined["role"], "owner", "roles survive a restart");
    assert_eq!(b.open(&room, "a.txt").await, ("alpha beta".into(), 2));
    assert_eq!(b.open(&room, "b.txt").await, ("ünïcödé ✓".into(), 1));
    let page = b
        .ok(json!({"type": "chat_history", "room": room, "limit": 10}))
        .await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "message 4",
            "message 3",
            "message 2",
            "message 1",
            "message 0"
        ]
    );
    // Edits continue from the stored version.
    let r = b
        .ok(
            json!({"type": "edit", "room": room, "doc": "a.txt", "base": 2,
            "ops": [{"pos": 0, "delete": 1, "insert": "A"}]}),
        )
        .await;
    assert_eq!(r["version"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_and_chunked_edits_reload_exactly() {
    // Small snapshot interval and pipelined edits: commits then hold several edits of
    // a document, sometimes with a snapshot in the middle of them.
    let overrides = [
        ("ROOMS__SNAPSHOT_EVERY", "3"),
        ("LIMITS__EDITS_PER_SEC", "100000"),
        ("LIMITS__EDITS_BURST", "100000"),
    ];
    let mut server = TestServer::start(&overrides).await;
    let mut a = server.client("ada").await;
    let room = a.create_room().await;
    a.open(&room, "s.txt").await;
    let mut expected = String::new();
    let mut ids = Vec::new();
    for i in 0..300u64 {
        let id = a.take_id();
        let word = format!("{i},");
        // Every edit against version 0 plus its own previous ones: pipelined.
        a.send_json(
            json!({"type": "edit", "id": id, "room": room, "doc": "s.txt", "base": 0,
            "ops": [{"pos": expected.len(), "insert": word}]}),
        )
        .await;
        expected.push_str(&word);
        ids.push(id);
        if i % 50 == 49 {
            // Let the base catch up so it stays inside the history window.
            for id in ids.drain(..) {
                assert_eq!(a.answer(id).await["type"], "ok");
            }
        }
    }
    for id in ids {
        assert_eq!(a.answer(id).await["type"], "ok");
    }
    let before = a.open(&room, "s.txt").await;
    assert_eq!(before, (expected.clone(), 300));
    drop(a);
    server.restart(&overrides).await;
    let mut b = server.client("ada").await;
    b.join(&room).await;
    assert_eq!(b.open(&room, "s.txt").await, (expected.clone(), 300));
    // Catch-up from a version before the last snapshot still works after reload.
    let r = b
        .ok(json!({"type": "open", "room": room, "doc": "s.txt", "version": 290}))
        .await;
    let at_290: String = (0..290).map(|i| format!("{i},")).collect();
    let mut m = Mirror::new(&at_290, 290);
    m.apply_ops(&r["ops"]);
    assert_eq!(m.string(), expected);
}

/// The real binary, started as a child process with JSON logs.
struct RunningBinary {
    child: Child,
    addr: String,
}

fn spawn_binary(data_dir: &std::path::Path) -> RunningBinary {
    let mut child = Command::new(env!("CARGO_BIN_EXE_codeplatform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("CODEPLATFORM_LOG__FORMAT", "json")
        .env("CODEPLATFORM_DEV__ANONYMOUS", "true")
        .env("CODEPLATFORM_LIMITS__EDITS_PER_SEC", "100000")
        .env("CODEPLATFORM_LIMITS__EDITS_BURST", "100000")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("binary exited before listening")
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["fields"]["message"] == "codeplatform listening" {
            break v["fields"]["addr"].as_str().unwrap().to_owned();
        }
    };
    // Keep draining its logs so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    RunningBinary { child, addr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_keeps_every_acknowledged_edit() {
    let dir = tempfile::tempdir().unwrap();
    let mut proc_ = spawn_binary(dir.path());
    let url = format!("ws://{}/ws", proc_.addr);
    let mut owner = Client::connect(&url, "owner").await;
    let room = owner.create_room().await;
    let mut writers = Vec::new();
    for w in 0..4 {
        let mut c = Client::connect(&url, &format!("w{w}")).await;
        c.join(&room).await;
        let doc = format!("doc{w}.txt");
        c.open(&room, &doc).await;
        let room = room.clone();
        // Each writer appends a numbered line per edit and records what was acked.
        writers.push(tokio::spawn(async move {
            let mut acked = String::new();
            let mut version = 0u64;
            for i in 0.. {
                let line = format!("{w}:{i}\n");
                let id = c.take_id();
                c.send_json(json!({"type": "edit", "id": id, "room": room, "doc": doc,
                    "base": version, "ops": [{"pos": acked.chars().count(), "insert": line}]}))
                    .await;
                match tokio::time::timeout(Duration::from_secs(5), c.try_answer(id)).await {
                    Ok(Some(v)) if v["type"] == "ok" => {
                        acked.push_str(&line);
                        version = v["version"].as_u64().unwrap();
                    }
                    _ => break,
                }
            }
            (doc, acked, version)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SIGKILL: no shutdown, no flush.
    proc_.child.kill().unwrap();
    proc_.child.wait().unwrap();
    let mut expected = HashMap::new();
    for w in writers {
        let (doc, acked, version) = w.await.unwrap();
        expected.insert(doc, (acked, version));
    }

    let proc2 = spawn_binary(dir.path());
    let url = format!("ws://{}/ws", proc2.addr);
    let mut check = Client::connect(&url, "checker").await;
    check.join(&room).await;
    let mut total = 0;
    for (doc, (acked, version)) in &expected {
        let (text, v) = check.open(&room, doc).await;
        assert!(
            text.starts_with(acked.as_str()),
            "{doc}: acknowledged text lost: acked {} chars, stored {}",
            acked.len(),
            text.len()
        );
        assert!(
            v >= *version,
            "{doc}: version went back from {version} to {v}"
        );
        total += version;
    }
    assert!(
        total > 20,
        "too few edits acknowledged before the kill: {total}"
    );
    let mut child = proc2.child;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_room_restarts_and_clients_continue() {
    let server = TestServer::start(&[]).await;
    let mut a = server.client("ada").await;
    let room = a.create_room().await;
    a.open(&room, "f.rs").await;
    let mut b = server.client("bob").await;
    b.join(&room).await;
    b.open(&room, "f.rs").await;
    let mut version = 0;
    for i in 0..10 {
        let r = a
            .ok(
                json!({"type": "edit", "room": room, "doc": "f.rs", "base": version,
                "ops": [{"pos": i, "insert": "x"}]}),
            )
            .await;
        version = r["version"].as_u64().unwrap();
    }
    let http = reqwest::Client::new();
    let resp = http
        .post(server.http_url(&format!("/debug/rooms/{room}/panic")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    // Both clients are told to resync; they reopen with their version.
    for c in [&mut a, &mut b] {
        let v = c.expect_push("resync").await;
        assert_eq!(v["room"], room.as_str());
        assert_eq!(v["reason"], "room_restarted");
    }
    let mut bm = Mirror::new("", 0);
    bm.text = "xxxxxxxxxx".chars().collect();
    bm.version = version;
    let r = b
        .ok(json!({"type": "open", "room": room, "doc": "f.rs", "version": version}))
        .await;
    assert_eq!(r["version"], version, "nothing acknowledged was lost");
    let r = a
        .ok(json!({"type": "open", "room": room, "doc": "f.rs", "version": version}))
        .await;
    assert_eq!(r["ops"], json!([]));
    let r = a
        .ok(
            json!({"type": "edit", "room": room, "doc": "f.rs", "base": version,
            "ops": [{"pos": 10, "insert": "!"}]}),
        )
        .await;
    assert_eq!(r["version"], version + 1);
    follow(&mut b, &room, "f.rs", &mut bm, version + 1).await;
    assert_eq!(bm.string(), "xxxxxxxxxx!");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("codeplatform_actor_restarts_total{actor=\"room\",cause=\"panic\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_failing_beyond_the_restart_intensity_escalate_to_shutdown() {
    let server = TestServer::start(&[
        ("ROOMS__RESTART_INTENSITY", "1"),
        ("ROOMS__RESTART_PERIOD_SECS", "60"),
    ])
    .await;
    let mut a = server.client("ada").await;
    let room = a.create_room().await;
    let http = reqwest::Client::new();
    let panic_url = server.http_url(&format!("/debug/rooms/{room}/panic"));
    // The first failure is within the intensity: restarted.
    assert_eq!(http.post(&panic_url).send().await.unwrap().status(), 202);
    a.expect_push("resync").await;
    assert_eq!(
        http.get(server.http_url("/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The second within the period exceeds it: the supervisor gives up, the root
    // begins an orderly shutdown that reports the failure.
    let srv = server.server.as_ref().unwrap();
    assert_eq!(http.post(&panic_url).send().await.unwrap().status(), 202);
    tokio::time::timeout(Duration::from_secs(10), srv.stopping())
        .await
        .expect("the server began shutting down");
    let mut server = server;
    let err = server.server.take().unwrap().shutdown().await.unwrap_err();
    assert!(err.to_string().contains("fatal"), "{err}");
}
