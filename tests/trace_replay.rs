//! The automerge-paper editing trace (259,778 keystrokes) replayed through one
//! socket, pipelined as an editor typing ahead of its acks, ends in exactly its
//! `endContent`; a second client that watched the whole replay ends there too.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{Client, Mirror, TestServer, follow, load_trace};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automerge_paper_replays_exactly() {
    let (txns, end) = load_trace("automerge-paper.json.gz");
    let server = TestServer::start(&[
        ("LIMITS__EDITS_PER_SEC", "10000000"),
        ("LIMITS__EDITS_BURST", "10000000"),
    ])
    .await;
    let mut typist = server.client("typist").await;
    let room = typist.create_room().await;
    typist.open(&room, "paper.tex").await;
    let mut watcher = server.client("watcher").await;
    watcher.join(&room).await;
    let (text, version) = watcher.open(&room, "paper.tex").await;
    let n = txns.len();
    let room3 = room.clone();
    let watching = tokio::spawn(async move {
        let mut mirror = Mirror::new(&text, version);
        follow(&mut watcher, &room3, "paper.tex", &mut mirror, n as u64).await;
        mirror
    });

    let (mut tx, mut rx) = typist.ws.split();
    let room2 = room.clone();
    // Each edit is sent against the last version acknowledged so far, plus this
    // socket's own edits since: the server merges it after the typist's previous one.
    // Like an editor, it keeps at most `max_in_flight` (from `welcome`) unanswered.
    let seen = Arc::new(AtomicU64::new(0));
    let seen2 = seen.clone();
    let window = Arc::new(tokio::sync::Semaphore::new(1000));
    let window2 = window.clone();
    let sender = tokio::spawn(async move {
        for (i, patches) in txns.into_iter().enumerate() {
            window2.acquire().await.unwrap().forget();
            let ops: Vec<Value> = patches
                .into_iter()
                .map(|(pos, del, ins)| json!({"pos": pos, "delete": del, "insert": ins}))
                .collect();
            let frame = json!({"type": "edit", "id": i + 1000, "room": room2,
                "doc": "paper.tex", "base": seen2.load(Ordering::Relaxed), "ops": ops});
            tx.send(Message::text(frame.to_string())).await.unwrap();
        }
        tx
    });
    let mut acked = 0;
    let mut last_version = 0;
    while acked < n {
        match rx.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "joined" || v["type"] == "presence" {
                    continue;
                }
                assert_eq!(v["type"], "ok", "unexpected frame {v}");
                assert!(
                    v.get("ops").is_none(),
                    "a lone typist's edits need no transform"
                );
                let version = v["version"].as_u64().unwrap();
                assert_eq!(version, last_version + 1, "acks arrive in order");
                last_version = version;
                seen.store(version, Ordering::Relaxed);
                window.add_permits(1);
                acked += 1;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("socket ended early: {other:?}"),
        }
    }
    let _sink = sender.await.unwrap();
    assert_eq!(last_version as usize, n);

    // The watcher followed every edit (catching up by version if it fell behind).
    let mirror = watching.await.unwrap();
    assert!(
        mirror.string() == end,
        "watcher's text differs from endContent"
    );

    let mut fresh = Client::connect(&server.ws_url(), "fresh").await;
    fresh.join(&room).await;
    let (text, version) = fresh.open(&room, "paper.tex").await;
    assert_eq!(version as usize, n);
    assert!(text == end, "server text differs from endContent");
}
