//! Decoding client frames with precise error codes, and encoding server frames.

use super::{ClientMsg, ErrorCode, RequestId, ServerMsg};

/// A frame that could not be decoded: the code to answer with, the request id if one
/// could be read, and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub id: Option<RequestId>,
    pub code: ErrorCode,
    pub message: String,
}

/// An `edit` frame as a plain struct: serde decodes it in one pass, without the
/// buffering an internally tagged enum needs. Edits are most of the traffic.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EditFrame {
    #[serde(rename = "type")]
    _type: serde::de::IgnoredAny,
    id: Option<RequestId>,
    room: String,
    doc: String,
    base: super::Version,
    ops: Vec<super::EditOp>,
}

/// Decodes one text frame. The happy path parses once; only a failure pays for a
/// second look to tell bad JSON from an unknown type from a bad field.
pub fn decode_client(text: &str) -> Result<ClientMsg, DecodeError> {
    if text.starts_with(r#"{"type":"edit","#)
        && let Ok(e) = serde_json::from_str::<EditFrame>(text)
    {
        return Ok(ClientMsg::Edit {
            id: e.id,
            room: e.room,
            doc: e.doc,
            base: e.base,
            ops: e.ops,
        });
    }
    match serde_json::from_str::<ClientMsg>(text) {
        Ok(msg) => Ok(msg),
        Err(err) => Err(classify(text, err)),
    }
}

fn classify(text: &str, err: serde_json::Error) -> DecodeError {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return DecodeError {
                id: None,
                code: ErrorCode::BadJson,
                message: format!("invalid JSON: {e}"),
            };
        }
    };
    let Some(obj) = value.as_object() else {
        return DecodeError {
            id: None,
            code: ErrorCode::BadJson,
            message: "a frame must be a JSON object".into(),
        };
    };
    let id = obj.get("id").and_then(|v| v.as_u64());
    match obj.get("type").and_then(|t| t.as_str()) {
        None => DecodeError {
            id,
            code: ErrorCode::UnknownType,
            message: "missing string field `type`".into(),
        },
        Some(t) if !ClientMsg::TYPES.contains(&t) => DecodeError {
            id,
            code: ErrorCode::UnknownType,
            message: format!("unknown frame type `{}`", truncate(t, 64)),
        },
        Some(_) => DecodeError {
            id,
            code: ErrorCode::BadField,
            message: err.to_string(),
        },
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Encodes a server frame as JSON text. Serializing these types cannot fail (string
/// keys, no non-finite floats); should it ever, the client gets an `internal` error.
pub fn encode_server(msg: &ServerMsg) -> String {
    serde_json::to_string(msg).unwrap_or_else(|e| {
        tracing::error!(error = %e, "encoding a server frame failed");
        r#"{"type":"error","id":null,"code":"internal","message":"encoding failed"}"#.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_edit() {
        let m = decode_client(
            r#"{"type":"edit","id":3,"room":"r","doc":"a","base":0,"ops":[{"pos":0,"insert":"hi"}]}"#,
        )
        .unwrap();
        assert_eq!(m.request_id(), Some(3));
        assert_eq!(m.type_name(), "edit");
    }

    #[test]
    fn edit_fast_path_agrees_with_the_enum() {
        let text = r#"{"type":"edit","id":1,"room":"r","doc":"d","base":2,"ops":[{"pos":1,"delete":2,"insert":"é"}]}"#;
        let fast = decode_client(text).unwrap();
        let slow: ClientMsg = serde_json::from_str(text).unwrap();
        assert_eq!(fast, slow);
        // A wrong field still gets the general path's precise error.
        let e =
            decode_client(r#"{"type":"edit","id":1,"room":"r","doc":"d","base":2,"ops":[],"x":1}"#)
                .unwrap_err();
        assert_eq!((e.code, e.id), (ErrorCode::BadField, Some(1)));
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(decode_client("{nope").unwrap_err().code, ErrorCode::BadJson);
        assert_eq!(decode_client("[1,2]").unwrap_err().code, ErrorCode::BadJson);
        let e = decode_client(r#"{"type":"fly","id":9}"#).unwrap_err();
        assert_eq!((e.code, e.id), (ErrorCode::UnknownType, Some(9)));
        let e = decode_client(r#"{"id":1}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType);
        let e = decode_client(r#"{"type":"edit","id":4,"room":"r","doc":"a","base":"x","ops":[]}"#)
            .unwrap_err();
        assert_eq!((e.code, e.id), (ErrorCode::BadField, Some(4)));
        let e = decode_client(r#"{"type":"ping","id":5,"extra":1}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadField);
        let e = decode_client(r#"{"type":"edit","id":6,"room":"r","doc":"a","base":-1,"ops":[]}"#)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadField);
    }

    #[test]
    fn encodes_ok_flat() {
        let s = encode_server(&ServerMsg::ok(
            Some(2),
            super::super::OkBody::Edited {
                version: 7,
                ops: None,
            },
        ));
        assert_eq!(s, r#"{"type":"ok","id":2,"version":7}"#);
    }
}
