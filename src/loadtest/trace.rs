//! Editing traces (the format of josephg/editing-traces: gzipped JSON with
//! `startContent`, `endContent` and `txns[].patches[] = [pos, delete, insert]`,
//! positions in Unicode code points), as edits the load tester can send.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::protocol::EditOp;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrace {
    #[serde(default)]
    start_content: String,
    end_content: String,
    txns: Vec<RawTxn>,
}

#[derive(Deserialize)]
struct RawTxn {
    patches: Vec<(usize, usize, String)>,
}

pub struct Trace {
    /// One edit per transaction; the first inserts `startContent` if there is one.
    pub edits: Vec<Vec<EditOp>>,
    pub end: String,
}

impl Trace {
    pub fn load(path: &Path) -> anyhow::Result<Trace> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("opening the trace {}", path.display()))?;
        let raw: RawTrace = serde_json::from_reader(flate2::read::GzDecoder::new(file))
            .with_context(|| format!("reading the trace {}", path.display()))?;
        let mut edits = Vec::with_capacity(raw.txns.len() + 1);
        if !raw.start_content.is_empty() {
            edits.push(vec![EditOp {
                pos: 0,
                delete: 0,
                insert: raw.start_content,
            }]);
        }
        edits.extend(
            raw.txns
                .into_iter()
                .filter(|t| !t.patches.is_empty())
                .map(|t| {
                    t.patches
                        .into_iter()
                        .map(|(pos, delete, insert)| EditOp {
                            pos,
                            delete,
                            insert,
                        })
                        .collect()
                }),
        );
        Ok(Trace {
            edits,
            end: raw.end_content,
        })
    }
}
