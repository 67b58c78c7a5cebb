//! `docs/protocol.md` is the contract: every frame type and error code in the code
//! must be documented there.

use codeplatform::protocol::{ClientMsg, CloseCode, ErrorCode, ServerMsg};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md");
    std::fs::read_to_string(path).expect("docs/protocol.md exists")
}

#[test]
fn every_message_type_and_code_is_documented() {
    let doc = doc();
    let mut missing = Vec::new();
    for t in ClientMsg::TYPES.iter().chain(ServerMsg::TYPES) {
        if !doc.contains(&format!("`{t}`")) {
            missing.push(format!("message type `{t}`"));
        }
    }
    for code in ErrorCode::ALL {
        if !doc.contains(&format!("`{}`", code.as_str())) {
            missing.push(format!("error code `{}`", code.as_str()));
        }
    }
    for close in CloseCode::ALL {
        if !doc.contains(&close.code().to_string()) {
            missing.push(format!("close code {}", close.code()));
        }
    }
    assert!(missing.is_empty(), "docs/protocol.md lacks: {missing:?}");
}

#[test]
fn type_lists_match_the_enums() {
    // The TYPES lists drive the check above; make sure they are complete by decoding
    // a minimal frame of each client type (a wrong name would be `unknown_type`).
    for t in ClientMsg::TYPES {
        let err = codeplatform::protocol::decode_client(&format!(r#"{{"type":"{t}"}}"#));
        if let Err(e) = err {
            assert_ne!(e.code, ErrorCode::UnknownType, "{t} is not a client type");
        }
    }
    // Serialize one of each server message and compare its tag with the list.
    let samples = [
        ServerMsg::Bye { reason: "x".into() },
        ServerMsg::error(None, ErrorCode::Internal, "x"),
        ServerMsg::Resync {
            room: None,
            reason: "x".into(),
        },
        ServerMsg::Left {
            room: "r".into(),
            session: "s".into(),
        },
    ];
    let push = codeplatform::protocol::EditPush {
        room: "r",
        doc: "d",
        version: 3,
        ops: &[],
        by: "s",
    };
    let borrowed = serde_json::to_value(&push).unwrap();
    let owned: serde_json::Value =
        serde_json::from_str(&codeplatform::protocol::encode_server(&ServerMsg::Edit {
            room: "r".into(),
            doc: "d".into(),
            version: 3,
            ops: vec![],
            by: "s".into(),
        }))
        .unwrap();
    assert_eq!(
        borrowed, owned,
        "the borrowed edit push has the documented form"
    );
    for s in samples {
        let v: serde_json::Value =
            serde_json::from_str(&codeplatform::protocol::encode_server(&s)).unwrap();
        assert!(ServerMsg::TYPES.contains(&v["type"].as_str().unwrap()));
    }
    assert_eq!(
        ErrorCode::ALL.len(),
        27,
        "update ErrorCode::ALL with the enum"
    );
}
