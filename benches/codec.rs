//! The wire codec on the edit path: decoding a client's `edit` frame (the fast path in
//! `decode_client`) and encoding what the server sends for it: the push to peers
//! (`EditPush`, as the room serializes it) and the author's ack.
//!
//! `cargo bench --bench codec`

use std::hint::black_box;
use std::time::Duration;

use codeplatform::protocol::{EditOp, EditPush, OkBody, ServerMsg, decode_client, encode_server};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ROOM: &str = "0f3c9a7e5b2d4c6a8e1f0b9d7c5a3e21";
const SESSION: &str = "5e0b7d3a9c1f4e28";

/// One typed character: the common frame.
const SMALL_EDIT: &str = r#"{"type":"edit","id":7,"room":"0f3c9a7e5b2d4c6a8e1f0b9d7c5a3e21","doc":"src/main.rs","base":1234,"ops":[{"pos":10,"insert":"x"}]}"#;

/// Several ops at once: a multi-cursor replace, a delete and a short paste.
const LARGE_EDIT: &str = r#"{"type":"edit","id":8,"room":"0f3c9a7e5b2d4c6a8e1f0b9d7c5a3e21","doc":"src/main.rs","base":1234,"ops":[{"pos":10,"delete":3,"insert":"let"},{"pos":52,"delete":3,"insert":"let"},{"pos":97,"delete":3,"insert":"let"},{"pos":140,"delete":12},{"pos":160,"insert":"    println!(\"{} items, {} bytes\", items.len(), total);\n"},{"pos":230,"delete":1,"insert":"é"},{"pos":231,"insert":"}\n"},{"pos":400,"delete":40}]}"#;

fn ops_of(frame: &str) -> Vec<EditOp> {
    match decode_client(frame).expect("the bench frames decode") {
        codeplatform::protocol::ClientMsg::Edit { ops, .. } => ops,
        other => panic!("not an edit: {other:?}"),
    }
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec/decode_edit");
    for (name, frame) in [("small", SMALL_EDIT), ("8_ops", LARGE_EDIT)] {
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(name, |b| b.iter(|| decode_client(black_box(frame))));
    }
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec/encode");
    for (name, frame) in [("small", SMALL_EDIT), ("8_ops", LARGE_EDIT)] {
        let ops = ops_of(frame);
        // What the room does once per edit: one push text shared by every peer.
        g.bench_function(format!("edit_push/{name}"), |b| {
            b.iter(|| {
                let push = EditPush {
                    room: black_box(ROOM),
                    doc: black_box("src/main.rs"),
                    version: black_box(1235),
                    ops: black_box(&ops),
                    by: black_box(SESSION),
                };
                serde_json::to_string(&push).expect("an edit push serializes")
            })
        });
        // The owned form, as `encode_server` takes it (same wire text).
        let msg = ServerMsg::Edit {
            room: ROOM.into(),
            doc: "src/main.rs".into(),
            version: 1235,
            ops: ops.clone(),
            by: SESSION.into(),
        };
        let push = EditPush {
            room: ROOM,
            doc: "src/main.rs",
            version: 1235,
            ops: &ops,
            by: SESSION,
        };
        assert_eq!(serde_json::to_string(&push).unwrap(), encode_server(&msg));
        g.bench_function(format!("server_msg_edit/{name}"), |b| {
            b.iter(|| encode_server(black_box(&msg)))
        });
    }
    // The author's ack of a caught-up edit.
    let ack = ServerMsg::ok(
        Some(7),
        OkBody::Edited {
            version: 1235,
            ops: None,
        },
    );
    g.bench_function("ack", |b| b.iter(|| encode_server(black_box(&ack))));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, encode
}
criterion_main!(benches);
