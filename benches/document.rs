//! A room's document applying edits (`collab::Document`), on a document of ~10,000
//! characters made of ~10,000 single-character ops typed at scattered places by two
//! agents (no run-length merging: a worst-ish case for the op log's size):
//!
//! - `caught_up_insert`: one typed character from a client that has seen every
//!   version (the fast path: no checkout, no transform);
//! - `concurrent_insert_3_behind`: agent B types against a `base` three versions old,
//!   after agent A typed three characters before B's position; B's edit is merged at
//!   its causal point and transformed (its position shifts by 3);
//! - `snapshot_encode`: compaction as the room does it, `records::encode(&doc.snapshot())`.
//!
//! Applying changes the document, so the apply benches rebuild it (from a snapshot,
//! as a room loads it) every `CHUNK` iterations outside the timed part: the document
//! stays between 10,000 and ~10,500 characters.
//!
//! `cargo bench --bench document`

use std::hint::black_box;
use std::time::{Duration, Instant};

use codeplatform::collab::{Document, EditLimits};
use codeplatform::protocol::EditOp;
use codeplatform::storage::{DocSnapshot, LoadedDoc, records};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The server's default `rooms.history_window`.
const HISTORY_WINDOW: usize = 4096;
const DOC_CHARS: usize = 10_000;
/// Timed applies per rebuilt document.
const CHUNK: u64 = 500;
/// How many versions agent B is behind in the concurrent bench.
const BEHIND: u64 = 3;

const LIMITS: EditLimits = EditLimits {
    max_doc_chars: 4 << 20,
    max_insert_chars: 1 << 18,
};

fn ins(pos: usize, s: &str) -> EditOp {
    EditOp {
        pos,
        delete: 0,
        insert: s.into(),
    }
}

/// The fixture: `DOC_CHARS` single-character inserts at pseudo-random positions,
/// alternating between two caught-up agents, as a stored snapshot.
fn fixture() -> DocSnapshot {
    const TEXT: &[u8] = b"fn main() { let items = vec![1, 2, 3]; println!(\"{items:?}\"); }\n";
    let mut doc = Document::new(HISTORY_WINDOW);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = [0u8; 4];
    for i in 0..DOC_CHARS {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let pos = ((seed >> 33) as usize) % (doc.len_chars() + 1);
        let c = char::from(TEXT[i % TEXT.len()]).encode_utf8(&mut buf);
        let agent = if i % 2 == 0 { "a" } else { "b" };
        doc.apply(agent, doc.version(), &[ins(pos, c)], LIMITS)
            .expect("fixture edit");
    }
    assert_eq!(doc.len_chars(), DOC_CHARS);
    doc.snapshot()
}

fn load(snapshot: &DocSnapshot) -> Document {
    let stored = LoadedDoc {
        snapshot: Some(snapshot.clone()),
        edits: Vec::new(),
    };
    Document::load(stored, HISTORY_WINDOW).expect("fixture loads")
}

/// Runs `iters` timed steps in chunks of at most `CHUNK` on freshly loaded documents;
/// `chunk` gets the document and the chunk's length and returns the time it measured.
fn chunked(
    iters: u64,
    snapshot: &DocSnapshot,
    mut chunk: impl FnMut(&mut Document, u64) -> Duration,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CHUNK);
        let mut doc = load(snapshot);
        total += chunk(&mut doc, n);
        done += n;
    }
    total
}

fn apply(c: &mut Criterion) {
    let snapshot = fixture();
    let mut g = c.benchmark_group("document/apply");
    g.throughput(Throughput::Elements(1));

    // Typing at one cursor in the middle, each edit against the latest version.
    g.bench_function("caught_up_insert", |b| {
        b.iter_custom(|iters| {
            chunked(iters, &snapshot, |doc, n| {
                let v0 = doc.version();
                let edits: Vec<[EditOp; 1]> =
                    (0..n).map(|i| [ins(5_000 + i as usize, "x")]).collect();
                let started = Instant::now();
                for (i, ops) in edits.iter().enumerate() {
                    let applied = doc.apply("typist", v0 + i as u64, ops, LIMITS);
                    black_box(applied.expect("caught-up edit"));
                }
                started.elapsed()
            })
        })
    });

    // A types three characters at 3,000; B, three versions behind, types at 7,000 in
    // its view. Only B's apply is timed.
    g.bench_function("concurrent_insert_3_behind", |b| {
        b.iter_custom(|iters| {
            chunked(iters, &snapshot, |doc, n| {
                let mut timed = Duration::ZERO;
                for i in 0..n as usize {
                    let base = doc.version();
                    for j in 0..BEHIND as usize {
                        let pos = 3_000 + BEHIND as usize * i + j;
                        doc.apply("alice", doc.version(), &[ins(pos, "a")], LIMITS)
                            .expect("A's edit");
                    }
                    let pos = 7_000 + (BEHIND as usize + 1) * i;
                    let ops = [ins(pos, "b")];
                    let started = Instant::now();
                    let applied = doc.apply("bob", base, &ops, LIMITS);
                    timed += started.elapsed();
                    let applied = applied.expect("B's edit");
                    // Merged at B's view, then shifted past A's three characters.
                    assert_eq!(applied.ops[0].pos, pos + BEHIND as usize);
                    black_box(applied);
                }
                timed
            })
        })
    });
    g.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut doc = load(&fixture());
    let bytes = records::encode(&doc.snapshot()).len();
    let mut g = c.benchmark_group("document/snapshot");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("snapshot_encode_10k_ops", |b| {
        b.iter(|| records::encode(&doc.snapshot()))
    });
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
    targets = apply, snapshot
}
criterion_main!(benches);
