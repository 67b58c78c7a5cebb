//! The storage writer's commit: one redb write transaction (immediate durability, so
//! one fsync) storing a batch of N edit records, through the same
//! `storage::writer::commit` the writer actor runs. The records are those of one
//! document (typed characters), so they become one chunk in `doc_edits`, as a commit
//! stores one document's edits. fsync dominates: this measures the disk under the
//! bench's temporary directory as much as the code.
//!
//! `cargo bench --bench storage`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use codeplatform::protocol::EditOp;
use codeplatform::storage::writer::commit;
use codeplatform::storage::{EditRecord, Store, WriteOp, records};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// The server's default `storage.cache_mib` is far above what this writes.
const CACHE_BYTES: usize = 64 << 20;

fn batch(room: &Arc<str>, doc: &Arc<str>, first: u64, n: u64) -> Vec<WriteOp> {
    (first..first + n)
        .map(|version| {
            let record = EditRecord {
                version,
                agent: "5e0b7d3a9c1f4e28".into(),
                parents: vec![version as usize - 1],
                ops: vec![EditOp {
                    pos: 10 + version as usize,
                    delete: 0,
                    insert: "x".into(),
                }],
            };
            WriteOp::AppendEdit {
                room: room.clone(),
                doc: doc.clone(),
                version,
                record: records::encode(&record),
            }
        })
        .collect()
}

fn commit_batch(c: &mut Criterion) {
    // On the build disk, not a possibly memory-backed /tmp: the fsync must be real.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let store = Store::open(&dir.path().join("bench.redb"), CACHE_BYTES).expect("open store");
    let room: Arc<str> = "0f3c9a7e5b2d4c6a8e1f0b9d7c5a3e21".into();
    let doc: Arc<str> = "src/main.rs".into();
    let mut next_version = 1u64;

    let mut g = c.benchmark_group("storage/commit_edits");
    for n in [1u64, 64, 1024] {
        g.throughput(Throughput::Elements(n));
        g.bench_function(n.to_string(), |b| {
            b.iter_batched(
                || {
                    // Encoding the records is the room's work, not the commit's.
                    let ops = batch(&room, &doc, next_version, n);
                    next_version += n;
                    ops
                },
                |ops| commit(black_box(&store), ops).expect("commit"),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = commit_batch
}
criterion_main!(benches);
