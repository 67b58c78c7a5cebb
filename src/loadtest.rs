//! `codeplatform loadtest`: simulated editors against a running server (or several),
//! over real WebSockets, reporting what people feel: edit-to-peer and ack latency,
//! connect time, throughput, errors, and whether every copy converged to the
//! server's text.

pub mod client;
pub mod plot;
pub mod report;
pub mod stats;
pub mod text;
pub mod trace;
pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use self::client::{DOC, Phase, Plan};
use self::report::{Quantiles, Report};
use self::stats::{RoomLatency, Stats};
use self::wire::{call, connect};

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Server socket URL (`ws://HOST:PORT/ws`); repeat to spread clients over nodes.
    #[arg(long = "url", required = true)]
    pub urls: Vec<String>,
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    #[arg(long, default_value_t = 10)]
    pub clients_per_room: usize,
    #[arg(long, default_value_t = 2)]
    pub typists_per_room: usize,
    /// Edits per second per typist.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// How long typists type (e.g. 60s, 2m, 500ms).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Connections are spread evenly over this time.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub ramp_up: Duration,
    /// Create test users through the API and sign in with tokens (the server needs
    /// raised `auth.attempts_per_min_*`); otherwise say `hello` anonymously (the
    /// server needs `dev.anonymous`).
    #[arg(long)]
    pub register: bool,
    /// Accounts to create with `--register`; clients share them round-robin.
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Write the JSON report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write a plot of latency over time and its distribution (.svg or .png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Fail (exit 1) if edit-to-peer p99 exceeds this many milliseconds.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
    /// Fail (exit 1) if more errors than this were received.
    #[arg(long)]
    pub max_errors: Option<u64>,
    /// Seed of the typists' random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replay this editing trace (.json.gz) in every room, one typist per room, as
    /// fast as acks come; the run ends when every room has replayed it, and each
    /// room's final text must equal the trace's end.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Halfway through, every client drops its socket and reconnects at once; the
    /// report says how long until all were back.
    #[arg(long)]
    pub reconnect_storm: bool,
    /// Extra clients (spread over the rooms) that open the document and then never
    /// read.
    #[arg(long, default_value_t = 0)]
    pub slow_readers: usize,
    /// Cursor moves per second per client (0: none). Moves are coalesced by the
    /// server into `presence` pushes to the whole room.
    #[arg(long, default_value_t = 0.2)]
    pub cursor_rate: f64,
    /// Each client sends a chat message this often on average (0: never).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub chat_every: Duration,
}

/// Raises the open-file limit to the hard limit; says so when `needed` is above it.
fn raise_fd_limit(needed: usize) {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        if (lim.rlim_cur as usize) < needed + 64 {
            eprintln!(
                "warning: this machine allows {} open files; {needed} connections need more \
                 (raise the hard limit: ulimit -Hn, /etc/security/limits.conf)",
                lim.rlim_cur
            );
        }
    }
}

/// The `hello` of each identity: tokens of registered users, or anonymous names.
async fn identities(args: &LoadArgs) -> anyhow::Result<Vec<Value>> {
    if !args.register {
        return Ok((0..args.users.max(1))
            .map(|i| json!({"type": "hello", "v": 1, "name": format!("lt-{i}")}))
            .collect());
    }
    let base = args.urls[0]
        .replacen("ws://", "http://", 1)
        .replacen("wss://", "https://", 1);
    let base = base.trim_end_matches("/ws");
    let http = reqwest::Client::new();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut hellos = Vec::new();
    for i in 0..args.users.max(1) {
        let name = format!("lt{}u{i}", &run[..8]);
        let body = json!({"email": format!("{name}@loadtest.invalid"), "username": name,
            "password": format!("{run}-load-test")});
        let resp = http
            .post(format!("{base}/api/auth/register"))
            .json(&body)
            .send()
            .await
            .context("registering a test user")?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        let Some(token) = v["access_token"].as_str() else {
            bail!("registering a test user: {status} {v}");
        };
        hellos.push(json!({"type": "hello", "v": 1, "token": token}));
    }
    Ok(hellos)
}

/// Creates the rooms (open to editors) and their document.
async fn create_rooms(url: &str, hello: &Value, n: usize) -> anyhow::Result<Vec<String>> {
    let (mut ws, _) = connect(url, hello).await.map_err(anyhow::Error::msg)?;
    let mut held = std::collections::VecDeque::new();
    let mut rooms = Vec::with_capacity(n);
    for i in 0..n {
        let id = 10 + 2 * i as u64;
        let req =
            json!({"type": "create_room", "name": format!("load {i}"), "default_role": "editor"});
        let r = call(&mut ws, req, id, &mut held)
            .await
            .map_err(|e| anyhow::anyhow!("create_room: {e}"))?;
        let room = r["room"].as_str().context("room id")?.to_owned();
        call(
            &mut ws,
            json!({"type": "open", "room": room, "doc": DOC}),
            id + 1,
            &mut held,
        )
        .await
        .map_err(|e| anyhow::anyhow!("open: {e}"))?;
        call(
            &mut ws,
            json!({"type": "leave", "room": room}),
            1_000_000 + id,
            &mut held,
        )
        .await
        .map_err(|e| anyhow::anyhow!("leave: {e}"))?;
        rooms.push(room);
        held.clear();
    }
    Ok(rooms)
}

/// The server's text and version of a room's document, read on a fresh socket.
async fn server_text(url: &str, hello: &Value, room: &str) -> Result<(String, u64), String> {
    let (mut ws, _) = connect(url, hello).await?;
    let mut held = std::collections::VecDeque::new();
    call(&mut ws, json!({"type": "join", "room": room}), 1, &mut held).await?;
    let r = call(
        &mut ws,
        json!({"type": "open", "room": room, "doc": DOC}),
        2,
        &mut held,
    )
    .await?;
    let _ = ws.close(None).await;
    Ok((
        r["text"].as_str().unwrap_or_default().to_owned(),
        r["version"].as_u64().unwrap_or(0),
    ))
}

fn progress(stats: &Stats, bar: &indicatif::ProgressBar) {
    let c = &stats.counters;
    let p99 = stats.edit_to_peer();
    let p99 = if p99.is_empty() {
        0.0
    } else {
        p99.value_at_quantile(0.99) as f64 / 1000.0
    };
    let secs = stats.started.elapsed().as_secs_f64().max(0.001);
    bar.set_message(format!(
        "{} connected, {:.0} edits/s, edit-to-peer p99 {p99:.2} ms, {} errors",
        c.connections.load(Ordering::Relaxed) - c.disconnects.load(Ordering::Relaxed),
        c.edits_acked.load(Ordering::Relaxed) as f64 / secs,
        stats.errors().values().sum::<u64>(),
    ));
}

/// Drops every client's socket at once; seconds until all of the `expected` are
/// back (joined and caught up), or `None` if some never came back in two minutes.
async fn storm(
    tx: &watch::Sender<u64>,
    back: &mut mpsc::UnboundedReceiver<Instant>,
    expected: usize,
    stats: &Stats,
    bar: &indicatif::ProgressBar,
) -> Option<f64> {
    let started = Instant::now();
    tx.send_modify(|g| *g += 1);
    let deadline = started + Duration::from_secs(120);
    let mut last = started;
    for _ in 0..expected {
        tokio::select! {
            at = back.recv() => match at {
                Some(at) => last = last.max(at),
                None => return None,
            },
            _ = tokio::time::sleep_until(deadline) => return None,
        }
        progress(stats, bar);
    }
    Some(last.duration_since(started).as_secs_f64())
}

/// Runs the load test; the report (already judged against the limits).
pub async fn run(args: LoadArgs) -> anyhow::Result<Report> {
    let total = args.rooms * args.clients_per_room;
    if args.typists_per_room > args.clients_per_room {
        bail!("--typists-per-room cannot exceed --clients-per-room");
    }
    if let Some(path) = &args.plot {
        plot::check_path(path)?;
    }
    raise_fd_limit(total + args.slow_readers + args.rooms);
    let trace = match &args.trace {
        Some(path) => Some(Arc::new(trace::Trace::load(path)?)),
        None => None,
    };
    let hellos = identities(&args).await?;
    let rooms = create_rooms(&args.urls[0], &hellos[0], args.rooms).await?;
    let stats = Arc::new(Stats::default());
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));

    let run_started = Instant::now();
    let (storm_tx, storm_rx) = watch::channel(0u64);
    let (back_tx, mut back_rx) = mpsc::unbounded_channel();
    let total = total + args.slow_readers;
    let (ready_tx, mut ready_rx) = mpsc::channel(total.max(1));
    let mut phases = Vec::new();
    let mut handles = Vec::new();
    let step = args.ramp_up.div_f64(total.max(1) as f64);
    for (r, room) in rooms.iter().enumerate() {
        let (phase_tx, phase_rx) = watch::channel(Phase::Run);
        phases.push(phase_tx);
        let latency = Arc::new(RoomLatency::default());
        // Slow readers are spread over the rooms, after the regular clients.
        let slow_here = (args.slow_readers + args.rooms - 1 - r) / args.rooms;
        for c in 0..args.clients_per_room + slow_here {
            let i = r * args.clients_per_room + c;
            let typist = match &trace {
                Some(_) => c == 0,
                None => c < args.typists_per_room,
            };
            let plan = Plan {
                url: args.urls[i % args.urls.len()].clone(),
                hello: hellos[i % hellos.len()].clone(),
                room: room.clone(),
                latency: latency.clone(),
                rate: typist.then_some(args.rate),
                trace: trace.clone().filter(|_| typist),
                slow: c >= args.clients_per_room,
                cursor_every: (args.cursor_rate > 0.0)
                    .then(|| Duration::from_secs_f64(1.0 / args.cursor_rate)),
                chat_every: (!args.chat_every.is_zero()).then_some(args.chat_every),
                seed: args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
                storm: storm_rx.clone(),
                back: back_tx.clone(),
            };
            let (stats, phase, ready) = (stats.clone(), phase_rx.clone(), ready_tx.clone());
            let start = step * i as u32;
            handles.push((
                r,
                tokio::spawn(async move {
                    tokio::time::sleep(start).await;
                    client::run(plan, stats, phase, ready).await
                }),
            ));
        }
    }
    drop(ready_tx);
    // Wait for everyone to connect (or fail), then time the run from there.
    let mut answered = 0;
    let deadline = Instant::now() + args.ramp_up + Duration::from_secs(60);
    while answered < total {
        tokio::select! {
            r = ready_rx.recv() => match r { Some(_) => answered += 1, None => break },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => progress(&stats, &bar),
        }
    }
    drop(back_tx);
    let typing_started = Instant::now();
    let end = typing_started + args.duration;
    let storm_at =
        (args.reconnect_storm && trace.is_none()).then(|| typing_started + args.duration / 2);
    let mut storm_secs = None;
    loop {
        let now = Instant::now();
        let done = match &trace {
            Some(_) => stats.counters.traces_done.load(Ordering::Relaxed) >= args.rooms as u64,
            None => now >= end,
        };
        if done {
            break;
        }
        if let Some(at) = storm_at
            && storm_secs.is_none()
            && now >= at
        {
            storm_secs = Some(
                storm(
                    &storm_tx,
                    &mut back_rx,
                    total - args.slow_readers,
                    &stats,
                    &bar,
                )
                .await,
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        progress(&stats, &bar);
    }
    let typed_for = typing_started.elapsed();
    // Typists type from the moment they connect, so rates count the ramp-up too.
    let elapsed = run_started.elapsed();
    for p in &phases {
        let _ = p.send(Phase::StopTyping);
    }
    // Let the edits in flight be answered.
    let settle = Instant::now() + Duration::from_secs(30);
    while stats.counters.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The server's final text of each room, then every copy must reach it.
    let mut finals = Vec::with_capacity(rooms.len());
    for (r, room) in rooms.iter().enumerate() {
        let f = server_text(&args.urls[r % args.urls.len()], &hellos[0], room).await;
        if let Ok((_, version)) = &f {
            let _ = phases[r].send(Phase::Converge(*version));
        }
        finals.push(f.ok());
    }
    let mut divergent = 0u64;
    let mut reasons = std::collections::BTreeMap::<String, u64>::new();
    for (r, handle) in handles {
        let outcome = tokio::time::timeout(Duration::from_secs(60), handle).await;
        let text = match outcome {
            Ok(Ok(o)) if o.unchecked => continue,
            Ok(Ok(o)) => {
                if let Some(why) = o.failure {
                    *reasons.entry(why.chars().take(120).collect()).or_default() += 1;
                }
                o.text
            }
            Ok(Err(_)) => {
                *reasons.entry("client task panicked".into()).or_default() += 1;
                None
            }
            Err(_) => {
                *reasons.entry("did not finish in 60 s".into()).or_default() += 1;
                None
            }
        };
        let same = matches!((&finals[r], &text), (Some((want, v)), Some((got, gv))) if want == got && v == gv);
        if finals[r].is_some() && !same {
            divergent += 1;
        }
    }
    // A replayed trace must also end exactly as the trace does.
    if let Some(t) = &trace {
        divergent += finals
            .iter()
            .flatten()
            .filter(|(text, _)| *text != t.end)
            .count() as u64;
    }
    bar.finish_and_clear();
    let unchecked = finals.iter().filter(|f| f.is_none()).count() as u64;
    let c = &stats.counters;
    let errors = stats.errors();
    let acked = c.edits_acked.load(Ordering::Relaxed);
    let report = Report {
        urls: args.urls.clone(),
        rooms: args.rooms,
        clients_per_room: args.clients_per_room,
        typists_per_room: args.typists_per_room,
        rate_per_typist: args.rate,
        trace: args.trace.as_ref().map(|p| p.display().to_string()),
        duration_secs: typed_for.as_secs_f64(),
        elapsed_secs: elapsed.as_secs_f64(),
        connections_requested: total,
        connections: c.connections.load(Ordering::Relaxed),
        connect_failures: c.connect_failures.load(Ordering::Relaxed),
        connect_retries: c.connect_retries.load(Ordering::Relaxed),
        edits_sent: c.edits_sent.load(Ordering::Relaxed),
        edits_acked: acked,
        edits_per_sec: acked as f64 / elapsed.as_secs_f64().max(0.001),
        pushes_received: c.pushes.load(Ordering::Relaxed),
        cursors_sent: c.cursors_sent.load(Ordering::Relaxed),
        presence_received: c.presence_received.load(Ordering::Relaxed),
        chats_sent: c.chats_sent.load(Ordering::Relaxed),
        chats_acked: c.chats_acked.load(Ordering::Relaxed),
        chats_received: c.chats_received.load(Ordering::Relaxed),
        frames_in: c.frames_in.load(Ordering::Relaxed),
        frames_out: c.frames_out.load(Ordering::Relaxed),
        bytes_in: c.bytes_in.load(Ordering::Relaxed),
        bytes_out: c.bytes_out.load(Ordering::Relaxed),
        edit_to_peer_ms: Quantiles::of(&stats.edit_to_peer()),
        edit_to_peer_distribution: report::distribution(&stats.edit_to_peer()),
        ack_ms: Quantiles::of(&stats.ack()),
        connect_ms: Quantiles::of(&stats.connect()),
        errors_total: errors.values().sum(),
        errors,
        disconnects: c.disconnects.load(Ordering::Relaxed),
        disconnect_reasons: reasons,
        reconnects: c.reconnects.load(Ordering::Relaxed),
        resyncs: c.resyncs.load(Ordering::Relaxed),
        slow_readers: args.slow_readers,
        reconnect_storm_secs: storm_secs.flatten(),
        converged: divergent == 0 && unchecked == 0,
        divergent_clients: divergent,
        unchecked_rooms: unchecked,
        timeline: stats.timeline(),
        failures: Vec::new(),
    };
    let mut report = report;
    report.judge(args.max_p99_ms, args.max_errors);
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        plot::write(&report, path)?;
    }
    Ok(report)
}
