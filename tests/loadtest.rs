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
    let plot = server.data_dir().join("latency.svg");
    let plot_arg = plot.display().to_string();
    let (status, r, text) = tokio::task::block_in_place(|| {
        loadtest(
            &server,
            &[
                "--max-errors",
                "0",
                "--plot",
                &plot_arg,
                "--cursor-rate",
                "4",
                "--chat-every",
                "700ms",
            ],
        )
    });
    assert!(status.success(), "{text}");
    let svg = std::fs::read_to_string(&plot).expect("the plot was written");
    assert!(
        svg.starts_with("<svg") && svg.contains("p99"),
        "{}",
        &svg[..200.min(svg.len())]
    );
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
    // People also move their cursors (coalesced into presence for the whole room) and
    // chat (acknowledged once durable, pushed to the others).
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} missing: {r}"));
    assert!(n("cursors_sent") >= 16, "{r}");
    assert!(n("presence_received") > 0, "{r}");
    assert!(n("chats_sent") >= 16, "{r}");
    assert!(
        n("chats_acked") > 0 && n("chats_acked") <= n("chats_sent"),
        "{r}"
    );
    assert!(n("chats_received") > n("chats_acked"), "{r}");

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

/// Writes a small editing trace in the josephg/editing-traces format.
fn write_trace(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    use std::io::Write;
    let mut text: Vec<char> = Vec::new();
    let mut txns = Vec::new();
    for i in 0..400usize {
        let patch = if i % 5 == 4 && text.len() > 3 {
            let pos = (i * 7) % (text.len() - 2);
            text.drain(pos..pos + 2);
            serde_json::json!([pos, 2, ""])
        } else {
            let pos = (i * 13) % (text.len() + 1);
            let ins = format!("w{i}é ");
            for (k, c) in ins.chars().enumerate() {
                text.insert(pos + k, c);
            }
            serde_json::json!([pos, 0, ins])
        };
        txns.push(serde_json::json!({"time": "", "patches": [patch]}));
    }
    let end: String = text.into_iter().collect();
    let json = serde_json::json!({"startContent": "", "endContent": end, "txns": txns});
    let path = dir.join("small.json.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(json.to_string().as_bytes()).unwrap();
    gz.finish().unwrap();
    (path, end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_slow_readers_and_a_reconnect_storm() {
    let server = TestServer::start(&[]).await;
    // A trace replayed in every room ends exactly as the trace does.
    let (trace, _) = write_trace(&server.data_dir());
    let trace = trace.display().to_string();
    let (status, r, text) = tokio::task::block_in_place(|| loadtest(&server, &["--trace", &trace]));
    assert!(status.success(), "{text}");
    assert_eq!(r["edits_acked"], 4 * 400, "{r}");
    assert_eq!(r["converged"], true);
    assert!(text.contains("replaying"), "{text}");

    // Slow readers do not stop the others; a storm brings everyone back, caught up.
    let (status, r, text) = tokio::task::block_in_place(|| {
        loadtest(&server, &["--slow-readers", "3", "--reconnect-storm"])
    });
    assert!(status.success(), "{text}");
    assert_eq!(r["connections"], 19, "{r}");
    assert_eq!(r["slow_readers"], 3);
    assert_eq!(r["reconnects"], 16, "{r}");
    assert!(r["reconnect_storm_secs"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["converged"], true, "{r}");
}
