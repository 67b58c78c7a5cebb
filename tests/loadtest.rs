//! The load tester against a real server: a short scenario whose JSON report shows
//! edits, latencies and convergence; and a server made to drop edits (a test hook),
//! where the convergence check must fail and the exit code be non-zero.

mod support;

use std::process::Command;

use serde_json::Value;
use support::TestServer;

/// Runs `codeplatform loadtest` against `server`; its exit status and JSON report.
fn loadtest(server: &TestServer, extra: &[&str]) -> (std::process::ExitStatus, Value, String) {
    let report = server.data_dir().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_codeplatform"))
        .args(["loadtest", "--url", &server.ws_url()])
        .args([
            "--rooms",
            "4",
            "--clients-per-room",
            "4",
            "--typists-per-room",
            "2",
        ])
        .args(["--rate", "20", "--duration", "2s", "--ramp-up", "500ms"])
        .arg("--report")
        .arg(&report)
        .args(extra)
        .output()
        .expect("run the load tester");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &*String::from_utf8_lossy(&out.stderr);
    let json =
        std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("no report ({e}): {text}"));
    (out.status, serde_json::from_str(&json).unwrap(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_measures_and_converges() {
    let server = TestServer::start(&[]).await;
    let (status, r, text) =
        tokio::task::block_in_place(|| loadtest(&server, &["--max-errors", "0"]));
    assert!(status.success(), "{text}");
    assert_eq!(r["connections"], 16, "{r}");
    assert!(r["edits_acked"].as_u64().unwrap() > 50, "{r}");
    assert_eq!(r["edits_acked"], r["edits_sent"]);
    // Each edit reaches the three other clients of its room (those that had joined:
    // typists start typing during the ramp-up).
    let peer = &r["edit_to_peer_ms"];
    let (seen, acked) = (
        peer["count"].as_u64().unwrap(),
        r["edits_acked"].as_u64().unwrap(),
    );
    assert!(
        seen <= 3 * acked && seen > 2 * acked,
        "{seen} receipts for {acked} edits: {r}"
    );
    assert!(peer["p50"].as_f64().unwrap() > 0.0 && peer["p99"].as_f64() >= peer["p50"].as_f64());
    assert!(r["ack_ms"]["count"].as_u64().unwrap() > 0);
    assert_eq!(r["connect_ms"]["count"], 16);
    assert_eq!(r["converged"], true, "{r}");
    assert_eq!(r["errors_total"], 0);
    assert!(!r["timeline"].as_array().unwrap().is_empty());
    assert!(text.contains("converged: true"), "{text}");

    // A limit that cannot hold fails the run.
    let (status, r, _) =
        tokio::task::block_in_place(|| loadtest(&server, &["--max-p99-ms", "0.000001"]));
    assert_eq!(status.code(), Some(1));
    assert!(r["failures"][0].as_str().unwrap().contains("p99"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_drops_edits_fails_the_convergence_check() {
    let server = TestServer::start(&[]).await;
    let resp = reqwest::Client::new()
        .post(server.http_url("/debug/drop-edits/25"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (status, r, text) = tokio::task::block_in_place(|| loadtest(&server, &[]));
    assert_eq!(status.code(), Some(1), "{text}");
    assert_eq!(r["converged"], false, "{r}");
    assert!(r["divergent_clients"].as_u64().unwrap() > 0);
    assert!(text.contains("not converged"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_users_sign_in_with_tokens() {
    // Anonymous sockets are refused here: every client must use a token.
    let server = TestServer::start_accounts(&[]).await;
    let (status, r, text) =
        tokio::task::block_in_place(|| loadtest(&server, &["--register", "--users", "3"]));
    assert!(status.success(), "{text}");
    assert_eq!(r["connections"], 16, "{r}");
    assert_eq!(r["converged"], true);
    assert!(r["edits_acked"].as_u64().unwrap() > 50);
}
