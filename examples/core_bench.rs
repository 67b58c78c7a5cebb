//! Measurements of the server core behind `docs/benchmarks.md`, run against a server
//! in another process (release build), over real sockets on loopback.
//!
//! ```text
//! core_bench replay  --url ws://127.0.0.1:8080/ws --trace automerge-paper.json.gz
//! core_bench latency --url ... --rooms 10 --per-room 10 --rate 10 --secs 20
//! core_bench idle-conns --url ... --pid PID --n 10000
//! core_bench idle-rooms --url ... --pid PID --n 1000
//! core_bench auth --url ... --n 200
//! ```
//! The full load tester (issue 4) will supersede this; its numbers must agree.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

async fn connect(url: &str, name: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .expect("connect");
    ws.send(Message::text(
        json!({"type":"hello","v":1,"name":name}).to_string(),
    ))
    .await
    .unwrap();
    let w = next_json(&mut ws).await;
    assert_eq!(w["type"], "welcome", "{w}");
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

/// Sends a request and waits for its answer, skipping pushes.
async fn call(ws: &mut Ws, mut v: Value, id: u64) -> Value {
    v["id"] = json!(id);
    ws.send(Message::text(v.to_string())).await.unwrap();
    loop {
        let r = next_json(ws).await;
        if r["id"] == json!(id) {
            assert_eq!(r["type"], "ok", "{v} -> {r}");
            return r;
        }
    }
}

/// Characters added by a list of ops (inserts minus deletes).
fn ops_delta(ops: &Value) -> i64 {
    ops.as_array()
        .map(|ops| {
            ops.iter()
                .map(|o| {
                    o["insert"].as_str().map_or(0, |s| s.chars().count() as i64)
                        - o["delete"].as_i64().unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) a process has used, from /proc (0 without a pid).
fn cpu_secs(pid: u32) -> f64 {
    if pid == 0 {
        return 0.0;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

fn load_trace(path: &str) -> (Vec<Value>, String) {
    let file = std::fs::File::open(path).expect("trace file");
    let v: Value = serde_json::from_reader(flate2::read::GzDecoder::new(file)).unwrap();
    let txns = v["txns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            Value::Array(
                t["patches"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| json!({"pos": p[0], "delete": p[1], "insert": p[2]}))
                    .collect(),
            )
        })
        .collect();
    (txns, v["endContent"].as_str().unwrap().to_owned())
}

async fn replay(url: &str, trace: &str, window: usize, pid: u32) {
    let (txns, end) = load_trace(trace);
    let mut ws = connect(url, "typist").await;
    let room = call(
        &mut ws,
        json!({"type":"create_room","default_role":"editor"}),
        1,
    )
    .await["room"]
        .as_str()
        .unwrap()
        .to_owned();
    call(&mut ws, json!({"type":"open","room":room,"doc":"trace"}), 2).await;
    // Frames are encoded before the clock starts: we time the server, not serde.
    let frames: Vec<Option<Value>> = txns.into_iter().map(Some).collect();
    let n = frames.len();
    let (mut tx, mut rx) = ws.split();
    let seen = Arc::new(AtomicU64::new(0));
    let credit = Arc::new(tokio::sync::Semaphore::new(window));
    let cpu_before = cpu_secs(pid);
    let started = Instant::now();
    let (seen2, credit2, room2) = (seen.clone(), credit.clone(), room.clone());
    let sender = tokio::spawn(async move {
        for (i, ops) in frames.into_iter().enumerate() {
            // Frames share a syscall while credit lasts; flush before waiting for more.
            match credit2.try_acquire() {
                Ok(p) => p.forget(),
                Err(_) => {
                    tx.flush().await.unwrap();
                    credit2.acquire().await.unwrap().forget();
                }
            }
            let f = json!({"type":"edit","id":i+10,"room":room2,"doc":"trace",
                "base":seen2.load(Ordering::Relaxed),"ops":ops.unwrap()});
            tx.feed(Message::text(f.to_string())).await.unwrap();
            if i % 64 == 63 {
                tx.flush().await.unwrap();
            }
        }
        tx.flush().await.unwrap();
        tx
    });
    let mut acked = 0;
    while acked < n {
        if let Some(Ok(Message::Text(t))) = rx.next().await {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "ok" {
                seen.store(v["version"].as_u64().unwrap(), Ordering::Relaxed);
                credit.add_permits(1);
                acked += 1;
            } else if v["type"] == "error" {
                panic!("edit refused: {v}");
            }
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu_secs(pid) - cpu_before;
    let tx = sender.await.unwrap();
    let mut ws = tx.reunite(rx).unwrap();
    let r = call(&mut ws, json!({"type":"open","room":room,"doc":"trace"}), 5).await;
    let ok = r["text"].as_str() == Some(end.as_str());
    println!(
        "replay: {n} edits in {:.2} s = {:.0} edits/s (window {window}); server CPU {cpu:.2} s = {:.1} us/edit; final text matches endContent: {ok}",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        cpu * 1e6 / n as f64
    );
    assert!(ok);
}

async fn latency(url: &str, rooms: usize, per_room: usize, rate: f64, secs: u64) {
    let mut setup = connect(url, "setup").await;
    let mut ids = Vec::new();
    for i in 0..rooms {
        let r = call(
            &mut setup,
            json!({"type":"create_room","default_role":"editor"}),
            100 + i as u64,
        )
        .await;
        ids.push(r["room"].as_str().unwrap().to_owned());
    }
    let acks = Arc::new(parking_lot::Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let peers = Arc::new(parking_lot::Mutex::new(Histogram::<u64>::new(3).unwrap()));
    // Each edit inserts `<uid>`; peers look the uid up to find when it was sent (all
    // clients share this process's clock).
    let sent: Arc<parking_lot::Mutex<std::collections::HashMap<u64, Instant>>> = Default::default();
    let uids = Arc::new(AtomicU64::new(1));
    let mut tasks = Vec::new();
    let start_at = Instant::now() + Duration::from_secs(2);
    for (r, room) in ids.iter().enumerate() {
        for c in 0..per_room {
            let (url, room) = (url.to_owned(), room.clone());
            let (acks, peers, sent) = (acks.clone(), peers.clone(), sent.clone());
            let uids = uids.clone();
            tasks.push(tokio::spawn(async move {
                let mut ws = connect(&url, &format!("c{r}-{c}")).await;
                call(&mut ws, json!({"type":"join","room":room}), 1).await;
                let doc = call(&mut ws, json!({"type":"open","room":room,"doc":"d"}), 2).await;
                let mut version = doc["version"].as_u64().unwrap();
                let mut len = doc["text"].as_str().unwrap().chars().count();
                let mut id = 10u64;
                let period = Duration::from_secs_f64(1.0 / rate);
                // Spread the clients' phases over one period.
                let phase = period.mul_f64((c as f64) / per_room as f64);
                let mut next = start_at + phase;
                let end = start_at + Duration::from_secs(secs);
                let mut pending: Option<(u64, Instant, i64)> = None;
                loop {
                    let sleep = tokio::time::sleep_until(next);
                    tokio::select! {
                        _ = sleep, if pending.is_none() && next < end => {
                            id += 1;
                            let uid = uids.fetch_add(1, Ordering::Relaxed);
                            let insert = format!("<{uid}>");
                            let now = Instant::now();
                            sent.lock().insert(uid, now);
                            let f = json!({"type":"edit","id":id,"room":room,"doc":"d","base":version,
                                "ops":[{"pos":len,"insert":insert}]});
                            ws.send(Message::text(f.to_string())).await.unwrap();
                            pending = Some((id, now, insert.len() as i64));
                            next += period;
                        }
                        msg = ws.next() => {
                            let Some(Ok(Message::Text(t))) = msg else { continue };
                            let v: Value = serde_json::from_str(&t).unwrap();
                            match v["type"].as_str().unwrap() {
                                "ok" => {
                                    let (pid, at, grew) = pending.take().expect("an ack for a pending edit");
                                    assert_eq!(v["id"], json!(pid));
                                    acks.lock().record(at.elapsed().as_micros() as u64).unwrap();
                                    version = v["version"].as_u64().unwrap();
                                    len = (len as i64 + v.get("ops").map_or(grew, ops_delta)) as usize;
                                }
                                "edit" => {
                                    version = v["version"].as_u64().unwrap();
                                    len = (len as i64 + ops_delta(&v["ops"])) as usize;
                                    let ins = v["ops"][0]["insert"].as_str().unwrap_or("");
                                    let uid = ins.trim_start_matches('<').trim_end_matches('>').parse::<u64>().ok();
                                    if let Some(at) = uid.and_then(|u| sent.lock().get(&u).copied()) {
                                        peers.lock().record(at.elapsed().as_micros() as u64).unwrap();
                                    }
                                }
                                "error" => panic!("refused: {v}"),
                                _ => {}
                            }
                        }
                        _ = tokio::time::sleep_until(end + Duration::from_secs(2)) => break,
                    }
                    if pending.is_none() && Instant::now() >= end + Duration::from_secs(1) {
                        break;
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let show = |name: &str, h: &Histogram<u64>| {
        println!(
            "{name}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms p99.9={:.2} ms max={:.2} ms",
            h.len(),
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.9) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.value_at_quantile(0.999) as f64 / 1000.0,
            h.max() as f64 / 1000.0
        )
    };
    println!(
        "latency: {} clients in {rooms} rooms, each {rate} edits/s for {secs} s",
        rooms * per_room
    );
    show("ack", &acks.lock());
    show("edit-to-peer", &peers.lock());
}

async fn idle_conns(url: &str, pid: u32, n: usize) {
    let before = rss_kib(pid);
    let mut socks = Vec::with_capacity(n);
    for i in 0..n {
        socks.push(connect(url, &format!("idle{i}")).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    println!(
        "idle connections: {n} sockets after hello: server RSS {before} KiB -> {after} KiB = {:.1} KiB per connection",
        (after - before) as f64 / n as f64
    );
}

async fn idle_rooms(url: &str, pid: u32, n: usize) {
    let mut ws = connect(url, "roomer").await;
    let before = rss_kib(pid);
    let text = "fn main() {\n    println!(\"hello\");\n}\n".repeat(25); // ~1 KiB
    for i in 0..n {
        let base = 10 * i as u64;
        let r = call(
            &mut ws,
            json!({"type":"create_room","default_role":"editor"}),
            base + 1,
        )
        .await;
        let room = r["room"].as_str().unwrap().to_owned();
        call(
            &mut ws,
            json!({"type":"open","room":room,"doc":"main.rs"}),
            base + 2,
        )
        .await;
        call(
            &mut ws,
            json!({"type":"edit","room":room,"doc":"main.rs","base":0,
            "ops":[{"pos":0,"insert":text}]}),
            base + 3,
        )
        .await;
        call(&mut ws, json!({"type":"leave","room":room}), base + 4).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    println!(
        "idle loaded rooms: {n} rooms, one ~1 KiB document each, no members: server RSS {before} KiB -> {after} KiB = {:.1} KiB per room",
        (after - before) as f64 / n as f64
    );
}

fn summary(what: &str, h: &Histogram<u64>, started: Instant) {
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    println!(
        "{what}: n {} in {:.2} s ({:.0}/s); p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        h.len(),
        started.elapsed().as_secs_f64(),
        h.len() as f64 / started.elapsed().as_secs_f64(),
        q(0.5),
        q(0.9),
        q(0.99),
        h.max() as f64 / 1000.0
    );
}

/// Costs of accounts: login (argon2id), refresh (rotation, one commit), a REST call
/// with a token, and a socket `hello` with a token against an anonymous one. One
/// request at a time. The server needs `CODEPLATFORM_DEV__ANONYMOUS=true` (for the
/// anonymous hellos) and raised `AUTH__ATTEMPTS_PER_MIN_*` limits.
async fn auth(url: &str, n: usize) {
    let base = url
        .replacen("ws://", "http://", 1)
        .trim_end_matches("/ws")
        .to_owned();
    let http = reqwest::Client::new();
    let name = format!("bench{}", std::process::id());
    let password = "plum-velvet-orbit-42";
    let reg: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": format!("{name}@example.test"), "username": name, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut refresh = reg["refresh_token"]
        .as_str()
        .expect("registered")
        .to_owned();
    let _ = reg["access_token"].as_str().expect("registered");
    let mut h = Histogram::<u64>::new(3).unwrap();
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"login": name, "password": password}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        h.record(t.elapsed().as_micros() as u64).unwrap();
        // Older sessions are evicted beyond the per-user cap: keep the newest.
        let body: Value = r.json().await.unwrap();
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
    summary("login (argon2id verify + session commit)", &h, started);
    let mut access = String::new();
    let mut h = Histogram::<u64>::new(3).unwrap();
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let r: Value = http
            .post(format!("{base}/api/auth/refresh"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        refresh = r["refresh_token"].as_str().expect("rotated").to_owned();
        access = r["access_token"].as_str().unwrap().to_owned();
        h.record(t.elapsed().as_micros() as u64).unwrap();
    }
    summary("refresh (rotation, one commit)", &h, started);
    let mut h = Histogram::<u64>::new(3).unwrap();
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let r = http
            .get(format!("{base}/api/auth/me"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        h.record(t.elapsed().as_micros() as u64).unwrap();
    }
    summary(
        "GET /api/auth/me (token check: JWT + session and user read)",
        &h,
        started,
    );
    for (what, hello) in [
        (
            "socket connect + hello with a token",
            json!({"type":"hello","v":1,"token":access}),
        ),
        (
            "socket connect + hello, anonymous",
            json!({"type":"hello","v":1,"name":"anon"}),
        ),
    ] {
        let mut h = Histogram::<u64>::new(3).unwrap();
        let started = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            let (mut ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connect");
            ws.send(Message::text(hello.to_string())).await.unwrap();
            let w = next_json(&mut ws).await;
            assert_eq!(w["type"], "welcome", "{w}");
            h.record(t.elapsed().as_micros() as u64).unwrap();
            let _ = ws.close(None).await;
        }
        summary(what, &h, started);
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--url", "ws://127.0.0.1:8080/ws");
    match args.get(1).map(String::as_str) {
        Some("replay") => {
            let trace = arg(
                &args,
                "--trace",
                "../shared/bench-data/editing-traces/automerge-paper.json.gz",
            );
            let window = arg(&args, "--window", "1000").parse().unwrap();
            replay(
                &url,
                &trace,
                window,
                arg(&args, "--pid", "0").parse().unwrap(),
            )
            .await
        }
        Some("latency") => {
            latency(
                &url,
                arg(&args, "--rooms", "10").parse().unwrap(),
                arg(&args, "--per-room", "10").parse().unwrap(),
                arg(&args, "--rate", "10").parse().unwrap(),
                arg(&args, "--secs", "20").parse().unwrap(),
            )
            .await
        }
        Some("idle-conns") => {
            idle_conns(
                &url,
                arg(&args, "--pid", "0").parse().unwrap(),
                arg(&args, "--n", "10000").parse().unwrap(),
            )
            .await
        }
        Some("idle-rooms") => {
            idle_rooms(
                &url,
                arg(&args, "--pid", "0").parse().unwrap(),
                arg(&args, "--n", "1000").parse().unwrap(),
            )
            .await
        }
        Some("auth") => auth(&url, arg(&args, "--n", "200").parse().unwrap()).await,
        _ => {
            eprintln!("usage: core_bench replay|latency|idle-conns|idle-rooms|auth [--url URL] ...")
        }
    }
}
