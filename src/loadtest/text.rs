//! A simulated editor's copy of a document, kept by the protocol's thin-client rules
//! (`docs/protocol.md`, "Thin-client algorithm", one edit in flight), and the edits a
//! typist makes: mostly typing at the cursor, some deletes, now and then a burst.

use jumprope::JumpRope;
use serde_json::Value;

use crate::protocol::EditOp;

/// The confirmed text of one document at `version`, built only from what the
/// server sent (and the client's own acknowledged edits). A rope, so that an edit
/// costs O(log n) however long the document grows (a replayed trace reaches
/// hundreds of kilobytes, where splicing a flat buffer dominated the load tester).
#[derive(Debug, Default)]
pub struct Confirmed {
    text: JumpRope,
    pub version: u64,
}

/// What a sequenced change did to a copy.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// The next version: applied.
    Next,
    /// Already in the copy.
    Old,
    /// A version is missing: the copy must resynchronise.
    Gap,
}

impl Confirmed {
    pub fn new(text: &str, version: u64) -> Self {
        Confirmed {
            text: JumpRope::from(text),
            version,
        }
    }

    /// Length in Unicode code points.
    pub fn len(&self) -> usize {
        self.text.len_chars()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Applies positional ops; false if one reaches past the end (a broken server).
    pub fn apply_ops(&mut self, ops: &[EditOp]) -> bool {
        for op in ops {
            let end = op.pos.saturating_add(op.delete);
            if end > self.text.len_chars() {
                return false;
            }
            if op.delete > 0 {
                self.text.remove(op.pos..end);
            }
            if !op.insert.is_empty() {
                self.text.insert(op.pos, &op.insert);
            }
        }
        true
    }

    /// Applies the change that made `version`.
    pub fn apply(&mut self, version: u64, ops: &[EditOp]) -> Applied {
        if version <= self.version {
            return Applied::Old;
        }
        if version > self.version + 1 || !self.apply_ops(ops) {
            return Applied::Gap;
        }
        self.version = version;
        Applied::Next
    }

    pub fn string(&self) -> String {
        self.text.to_string()
    }
}

/// Parses the `ops` array of a frame.
pub fn ops_of(v: &Value) -> Option<Vec<EditOp>> {
    serde_json::from_value(v.clone()).ok()
}

/// A small deterministic PRNG (xorshift), so runs with the same seed type the same.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
            | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const WORDS: &[&str] = &[
    "let ", "fn ", "x", "y", " = ", "1", "0", ";", "\n", "    ", "(", ")", "{", "}", "self", ".",
    "map", "value", " + ", "ok", "é", "λ", "→",
];

/// The typist: a cursor that wanders, mostly types, sometimes deletes.
pub struct Typist {
    rng: Rng,
    cursor: usize,
}

impl Typist {
    pub fn new(seed: u64) -> Self {
        Typist {
            rng: Rng::new(seed),
            cursor: 0,
        }
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Where the caret is now (after its last edit).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The next edit against a text of `len` code points: 80% typing a token at the
    /// cursor, 15% deleting a few characters before it, 5% a burst (a pasted line),
    /// moving the cursor elsewhere one time in ten. Documents stay under `max_len`
    /// characters.
    pub fn next_edit(&mut self, len: usize, max_len: usize) -> EditOp {
        if self.cursor > len || self.rng.below(10) == 0 {
            self.cursor = self.rng.below(len as u64 + 1) as usize;
        }
        let roll = self.rng.below(100);
        if (roll < 15 || len >= max_len) && self.cursor > 0 {
            let n = (1 + self.rng.below(4) as usize).min(self.cursor);
            self.cursor -= n;
            return EditOp {
                pos: self.cursor,
                delete: n,
                insert: String::new(),
            };
        }
        let insert = if roll >= 95 {
            let mut line = String::new();
            for _ in 0..8 {
                line.push_str(WORDS[self.rng.below(WORDS.len() as u64) as usize]);
            }
            line.push('\n');
            line
        } else {
            WORDS[self.rng.below(WORDS.len() as u64) as usize].to_owned()
        };
        let pos = self.cursor;
        self.cursor += insert.chars().count();
        EditOp {
            pos,
            delete: 0,
            insert,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typist_edits_always_fit_the_text() {
        let mut t = Typist::new(7);
        let mut c = Confirmed::default();
        for v in 1..=5000 {
            let op = t.next_edit(c.len(), 500);
            assert_eq!(
                c.apply(v, std::slice::from_ref(&op)),
                Applied::Next,
                "{op:?}"
            );
            assert!(c.len() <= 600);
        }
        assert!(!c.is_empty());
        assert_eq!(c.apply(3, &[]), Applied::Old);
        assert_eq!(c.apply(5002, &[]), Applied::Gap);
        let past_end = EditOp {
            pos: 10_000,
            delete: 0,
            insert: "x".into(),
        };
        assert_eq!(c.apply(5001, &[past_end]), Applied::Gap);
    }

    #[test]
    fn the_copy_matches_a_plain_model_of_the_same_edits() {
        let mut t = Typist::new(11);
        let mut c = Confirmed::new("héllo\n", 0);
        let mut model: Vec<char> = "héllo\n".chars().collect();
        for v in 1..=3000 {
            let op = t.next_edit(model.len(), 400);
            model.splice(op.pos..op.pos + op.delete, op.insert.chars());
            assert_eq!(c.apply(v, std::slice::from_ref(&op)), Applied::Next);
        }
        assert_eq!(c.len(), model.len());
        assert_eq!(c.string(), model.iter().collect::<String>());
        assert!(t.cursor() <= c.len());
    }
}
