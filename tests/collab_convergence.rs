//! Eight thin clients edit one document concurrently at random for a few seconds;
//! every client's text, rebuilt only from the server's acks and pushes, ends equal
//! to what a fresh open returns.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Client, Mirror, Rng, TestServer};
use tokio::time::Instant;

/// One editing client: one edit in flight at a time (as OT clients do), each made
/// against the text it has confirmed from the server.
async fn edit_randomly(
    mut c: Client,
    room: String,
    seed: u64,
    for_how_long: Duration,
) -> (Client, Mirror, u64) {
    let r = c
        .ok(json!({"type": "open", "room": room, "doc": "main.rs"}))
        .await;
    let mut m = Mirror::new(r["text"].as_str().unwrap(), r["version"].as_u64().unwrap());
    let mut rng = Rng::new(seed);
    let deadline = Instant::now() + for_how_long;
    let mut edits = 0;
    while Instant::now() < deadline {
        let len = m.text.len() as u64;
        let ops = if len > 0 && rng.below(3) == 0 {
            let pos = rng.below(len);
            let del = 1 + rng.below((len - pos).min(6));
            json!([{"pos": pos, "delete": del}])
        } else {
            let pos = rng.below(len + 1);
            let word: String = (0..1 + rng.below(5))
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect();
            // Sometimes a replace, sometimes two ops in one edit.
            if len > pos && rng.below(4) == 0 {
                json!([{"pos": pos, "delete": 1, "insert": word}])
            } else if rng.below(5) == 0 {
                json!([{"pos": pos, "insert": word}, {"pos": 0, "insert": "#"}])
            } else {
                json!([{"pos": pos, "insert": word}])
            }
        };
        let id = c.take_id();
        c.send_json(
            json!({"type": "edit", "id": id, "room": room, "doc": "main.rs",
            "base": m.version, "ops": ops}),
        )
        .await;
        // Apply others' edits as they come, until our ack.
        loop {
            let v = c.next_frame().await.expect("socket open");
            match v["type"].as_str().unwrap() {
                "edit" => m.apply(v["version"].as_u64().unwrap(), &v["ops"]),
                "ok" if v["id"] == json!(id) => {
                    let applied = v.get("ops").cloned().unwrap_or(ops.clone());
                    m.apply(v["version"].as_u64().unwrap(), &applied);
                    break;
                }
                "error" => panic!("edit refused: {v}"),
                _ => {}
            }
        }
        edits += 1;
    }
    (c, m, edits)
}

/// `n` clients named `{prefix}{i}`, each joined to `room`.
async fn joined_clients(server: &TestServer, room: &str, prefix: &str, n: usize) -> Vec<Client> {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let mut c = server.client(&format!("{prefix}{i}")).await;
        c.join(room).await;
        clients.push(c);
    }
    clients
}

/// Drains pushes until the mirror reaches `version`.
async fn catch_up(c: &mut Client, m: &mut Mirror, version: u64) {
    while m.version < version {
        let v: Value = c.next_frame().await.expect("socket open");
        if v["type"] == "edit" {
            m.apply(v["version"].as_u64().unwrap(), &v["ops"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_clients_converge() {
    let server = TestServer::start(&[("LIMITS__EDITS_PER_SEC", "100000")]).await;
    let mut owner = server.client("owner").await;
    let room = owner.create_room().await;
    let mut tasks = Vec::new();
    for (i, c) in joined_clients(&server, &room, "editor", 8)
        .await
        .into_iter()
        .enumerate()
    {
        let room = room.clone();
        let seed = i as u64 + 1;
        tasks.push(tokio::spawn(edit_randomly(
            c,
            room,
            seed,
            Duration::from_secs(3),
        )));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let total: u64 = results.iter().map(|r| r.2).sum();
    let (text, version) = owner.open(&room, "main.rs").await;
    assert_eq!(version, total, "every acknowledged edit is one version");
    assert!(total > 100, "only {total} edits in 3 s");
    let mut concurrent = 0;
    for (mut c, mut m, _) in results {
        catch_up(&mut c, &mut m, version).await;
        assert_eq!(m.string(), text, "client {} diverged", c.session);
        concurrent += 1;
    }
    assert_eq!(concurrent, 8);
    // A second fresh client agrees, and so does a catch-up from version 0.
    let mut late = server.client("late").await;
    late.join(&room).await;
    let r = late
        .ok(json!({"type": "open", "room": room, "doc": "main.rs", "version": 0}))
        .await;
    let mut m = Mirror::new("", 0);
    if let Some(ops) = r.get("ops") {
        m.apply_ops(ops);
        assert_eq!(m.string(), text);
    } else {
        assert_eq!(r["text"].as_str().unwrap(), text);
    }
    assert_eq!(r["version"].as_u64().unwrap(), version);
}

/// A client that pipelines: it sends bursts of edits, each against the text it has
/// confirmed plus its own earlier edits in the burst, without waiting for acks.
async fn edit_in_bursts(
    mut c: Client,
    room: String,
    seed: u64,
    for_how_long: Duration,
) -> (Client, Mirror) {
    let r = c
        .ok(json!({"type": "open", "room": room, "doc": "burst.txt"}))
        .await;
    let mut m = Mirror::new(r["text"].as_str().unwrap(), r["version"].as_u64().unwrap());
    let mut rng = Rng::new(seed);
    let deadline = Instant::now() + for_how_long;
    while Instant::now() < deadline {
        let base = m.version;
        let mut local = m.clone();
        let mut sent = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let len = local.text.len() as u64;
            let ops = if len > 2 && rng.below(3) == 0 {
                let pos = rng.below(len - 1);
                json!([{"pos": pos, "delete": 1 + rng.below(2)}])
            } else {
                let word: String = (0..1 + rng.below(4))
                    .map(|_| (b'a' + rng.below(26) as u8) as char)
                    .collect();
                json!([{"pos": rng.below(len + 1), "insert": word}])
            };
            local.apply_ops(&ops);
            let id = c.take_id();
            c.send_json(
                json!({"type": "edit", "id": id, "room": room, "doc": "burst.txt",
                "base": base, "ops": ops}),
            )
            .await;
            sent.push((id, ops));
        }
        for (id, ops) in sent {
            loop {
                let v = c.next_frame().await.expect("socket open");
                match v["type"].as_str().unwrap() {
                    "edit" => m.apply(v["version"].as_u64().unwrap(), &v["ops"]),
                    "ok" if v["id"] == json!(id) => {
                        let applied = v.get("ops").cloned().unwrap_or(ops.clone());
                        m.apply(v["version"].as_u64().unwrap(), &applied);
                        break;
                    }
                    "error" => panic!("edit refused: {v}"),
                    _ => {}
                }
            }
        }
    }
    (c, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_clients_converge() {
    let server = TestServer::start(&[("LIMITS__EDITS_PER_SEC", "100000")]).await;
    let mut owner = server.client("owner").await;
    let room = owner.create_room().await;
    let mut tasks = Vec::new();
    for (i, c) in joined_clients(&server, &room, "piper", 4)
        .await
        .into_iter()
        .enumerate()
    {
        let room = room.clone();
        let seed = 100 + i as u64;
        tasks.push(tokio::spawn(edit_in_bursts(
            c,
            room,
            seed,
            Duration::from_secs(3),
        )));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let (text, version) = owner.open(&room, "burst.txt").await;
    assert!(version > 100, "only {version} edits");
    for (mut c, mut m) in results {
        catch_up(&mut c, &mut m, version).await;
        assert_eq!(m.string(), text, "client {} diverged", c.session);
    }
}
