//! Unit tests of the document core: transforms, validation, reload.

use super::*;

const LIMITS: EditLimits = EditLimits {
    max_doc_chars: 1 << 20,
    max_insert_chars: 1 << 16,
};

fn ins(pos: usize, s: &str) -> EditOp {
    EditOp {
        pos,
        delete: 0,
        insert: s.into(),
    }
}

fn del(pos: usize, n: usize) -> EditOp {
    EditOp {
        pos,
        delete: n,
        insert: String::new(),
    }
}

/// Applies ops to a plain string, as a thin client does.
fn apply_ops(text: &mut Vec<char>, ops: &[EditOp]) {
    for op in ops {
        text.drain(op.pos..op.pos + op.delete);
        for (i, c) in op.insert.chars().enumerate() {
            text.insert(op.pos + i, c);
        }
    }
}

#[test]
fn linear_edits_echo_and_version() {
    let mut d = Document::new(16);
    let a = d.apply("a", 0, &[ins(0, "hello")], LIMITS).unwrap();
    assert_eq!((a.version, a.ops.clone()), (1, vec![ins(0, "hello")]));
    let b = d.apply("a", 1, &[del(0, 1), ins(0, "J")], LIMITS).unwrap();
    assert_eq!(b.version, 2);
    assert_eq!(d.text(), "Jello");
}

#[test]
fn concurrent_edits_transform_and_peers_converge() {
    let mut d = Document::new(16);
    let mut peer: Vec<char> = Vec::new();
    let e = d.apply("a", 0, &[ins(0, "abcdef")], LIMITS).unwrap();
    apply_ops(&mut peer, &e.ops);
    // Both edit against version 1 without seeing each other.
    let x = d.apply("a", 1, &[ins(6, "XY")], LIMITS).unwrap();
    apply_ops(&mut peer, &x.ops);
    let y = d.apply("b", 1, &[del(1, 2), ins(1, "_")], LIMITS).unwrap();
    assert_eq!(y.version, 3);
    apply_ops(&mut peer, &y.ops);
    assert_eq!(peer.iter().collect::<String>(), d.text());
    assert_eq!(d.text(), "a_defXY");
    // "a" sends another edit before seeing b's: it builds on its own previous one.
    let z = d.apply("a", 1, &[ins(8, "!")], LIMITS).unwrap();
    apply_ops(&mut peer, &z.ops);
    assert_eq!(d.text(), "a_defXY!");
    assert_eq!(peer.iter().collect::<String>(), d.text());
    // Catch-up from version 1 reproduces the text.
    let mut old: Vec<char> = "abcdef".chars().collect();
    apply_ops(&mut old, &d.catch_up(1).unwrap());
    assert_eq!(old.iter().collect::<String>(), d.text());
}

#[test]
fn refuses_bad_input_without_changing_anything() {
    let mut d = Document::new(4);
    d.apply("a", 0, &[ins(0, "abc")], LIMITS).unwrap();
    assert!(matches!(
        d.apply("a", 1, &[ins(4, "x")], LIMITS),
        Err(DocError::OutOfRange { .. })
    ));
    assert!(matches!(
        d.apply("a", 1, &[del(2, 2)], LIMITS),
        Err(DocError::OutOfRange { .. })
    ));
    assert!(matches!(
        d.apply("a", 1, &[ins(0, "x"), del(3, 2)], LIMITS),
        Err(DocError::OutOfRange { .. })
    ));
    assert!(matches!(
        d.apply("a", 9, &[ins(0, "x")], LIMITS),
        Err(DocError::BadVersion { .. })
    ));
    assert!(matches!(
        d.apply("a", 1, &[ins(0, "")], LIMITS),
        Err(DocError::NoEffect)
    ));
    let tiny = EditLimits {
        max_doc_chars: 4,
        max_insert_chars: 10,
    };
    assert!(matches!(
        d.apply("a", 1, &[ins(0, "xy")], tiny),
        Err(DocError::TooLarge(_))
    ));
    assert_eq!((d.version(), d.text().as_str()), (1, "abc"));
    for v in 1..6 {
        d.apply("a", v, &[ins(0, "z")], LIMITS).unwrap();
    }
    assert!(matches!(
        d.apply("a", 0, &[ins(0, "x")], LIMITS),
        Err(DocError::VersionTooOld { .. })
    ));
}

#[test]
fn snapshot_and_tail_reload_identically() {
    let mut d = Document::new(64);
    d.apply("a", 0, &[ins(0, "hello world")], LIMITS).unwrap();
    d.apply("a", 1, &[del(0, 5), ins(0, "HELLO")], LIMITS)
        .unwrap();
    d.apply("b", 1, &[ins(11, "!")], LIMITS).unwrap();
    let snap = d.snapshot();
    let mut tail = Vec::new();
    let t = d.apply("b", 3, &[ins(0, ">")], LIMITS).unwrap();
    tail.push(t.record);
    let t = d.apply("c", 2, &[ins(6, "big ")], LIMITS).unwrap();
    tail.push(t.record);
    let loaded = Document::load(
        LoadedDoc {
            snapshot: Some(snap),
            edits: tail,
        },
        64,
    )
    .unwrap();
    assert_eq!(loaded.text(), d.text());
    assert_eq!(loaded.version(), d.version());
    for v in 0..=d.version() {
        assert_eq!(loaded.catch_up(v), d.catch_up(v), "catch-up from {v}");
    }
}
