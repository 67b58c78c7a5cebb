//! The socket pump: `GET /ws`. A reader task decodes frames and hands them, with an
//! in-flight permit, to the socket's Session actor; a writer task drains the
//! socket's outbound queue and sends heartbeats. Neither waits on anything but its
//! own socket, the permits and the session's mailbox.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use ractor::ActorRef;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::actors::outbound::{Next, Outbound};
use crate::actors::session::{SessionArgs, SessionMsg};
use crate::actors::sessions::SessionsMsg;
use crate::actors::ticket::send_error;
use crate::context::AppContext;
use crate::protocol::{CloseCode, ErrorCode, decode_client};

/// How long a socket we closed waits for the client's close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 4096;

/// Bytes gathered before a write, so a batch of frames goes out in one syscall.
const WRITE_BUFFER: usize = 16 * 1024;

/// Most frames written between two flushes.
const WRITE_BATCH: usize = 256;

pub async fn upgrade(State(ctx): State<Arc<AppContext>>, ws: WebSocketUpgrade) -> Response {
    let max = ctx.shared.settings.socket.max_frame_bytes;
    // Small I/O buffers: an idle socket should cost kilobytes, not the library's
    // default 128 KiB read chunk; frames larger than a chunk still assemble fine.
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_CHUNK)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| run(ctx, socket))
}

/// Counts what one socket did, for its access-log line.
#[derive(Default)]
struct SocketStats {
    frames_in: u64,
    errors: u64,
    /// The server, not the client, ended the conversation.
    we_closed: bool,
}

async fn run(ctx: Arc<AppContext>, socket: WebSocket) {
    let _alive = ctx.sockets.token();
    let started = Instant::now();
    let sock = &ctx.shared.settings.socket;
    let out = Arc::new(Outbound::new(
        sock.outbound_queue_frames,
        sock.max_errors_per_minute,
    ));
    let id: Arc<str> = uuid::Uuid::new_v4().simple().to_string()[..16].into();
    let (sink, mut stream) = socket.split();
    let writer_done = CancellationToken::new();
    let writer = tokio::spawn(write_loop(
        out.clone(),
        sink,
        Duration::from_secs(sock.heartbeat_secs),
        writer_done.clone(),
    ));
    let args = SessionArgs {
        ctx: ctx.clone(),
        id: id.clone(),
        out: out.clone(),
    };
    let spawned = ctx
        .sessions
        .call(
            |reply| SessionsMsg::Spawn { args, reply },
            Some(Duration::from_secs(5)),
        )
        .await;
    let session = match spawned {
        Ok(ractor::rpc::CallResult::Success(Ok(s))) => s,
        _ => {
            out.close(
                CloseCode::GoingAway.code(),
                "server is not accepting sockets",
            );
            let _ = writer.await;
            return;
        }
    };
    ctx.shared.metrics.connections.inc();
    ctx.shared.metrics.connections_total.inc();
    let stats = read_loop(&ctx, &out, &session, &mut stream, &writer_done).await;
    session.stop(Some("socket closed".into()));
    if stats.we_closed {
        // Let the writer send our close frame (after what is queued), then read until the client answers our close (or a moment has passed), so frames
        // it sent meanwhile do not reset the connection before it reads our code. (A
        // close the client started needs neither: the library answers it.)
        let _ = tokio::time::timeout(CLOSE_LINGER, writer_done.cancelled()).await;
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    out.mark_closed();
    let _ = writer.await;
    ctx.shared.metrics.connections.dec();
    tracing::info!(
        target: "access",
        kind = "socket",
        path = "/ws",
        session = %id,
        frames_in = stats.frames_in,
        errors = stats.errors,
        duration_ms = started.elapsed().as_millis() as u64,
        "socket closed"
    );
}

async fn read_loop(
    ctx: &AppContext,
    out: &Arc<Outbound>,
    session: &ActorRef<SessionMsg>,
    stream: &mut SplitStream<WebSocket>,
    writer_done: &CancellationToken,
) -> SocketStats {
    let sock = &ctx.shared.settings.socket;
    let metrics = &ctx.shared.metrics;
    let in_flight = Arc::new(Semaphore::new(sock.max_in_flight));
    let silence = Duration::from_secs(sock.heartbeat_secs * 3);
    let mut stats = SocketStats::default();
    loop {
        let next = tokio::select! {
            n = tokio::time::timeout(silence, stream.next()) => n,
            _ = writer_done.cancelled() => {
                stats.we_closed = true;
                break;
            }
        };
        let msg = match next {
            Err(_) => {
                out.close(CloseCode::HeartbeatTimeout.code(), "no frames or pongs");
                stats.we_closed = true;
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                let text = e.to_string();
                if text.contains("too long") || text.contains("Space limit") {
                    out.close(CloseCode::TooBig.code(), "frame too big");
                    stats.we_closed = true;
                }
                break;
            }
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Text(text) => {
                stats.frames_in += 1;
                if text.len() > sock.max_frame_bytes {
                    out.close(CloseCode::TooBig.code(), "frame too big");
                    stats.we_closed = true;
                    break;
                }
                // Backpressure: beyond the in-flight limit, stop reading this socket.
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    break;
                };
                match decode_client(&text) {
                    Ok(msg) => {
                        metrics
                            .frames_in
                            .with_label_values(&[msg.type_name()])
                            .inc();
                        tracing::debug!(target: "access", kind = "frame",
                            r#type = msg.type_name(), id = ?msg.request_id(),
                            bytes = text.len(), "frame");
                        let frame = SessionMsg::Frame {
                            msg,
                            permit: Some(permit),
                        };
                        if session.cast(frame).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        stats.errors += 1;
                        send_error(out, metrics, e.id, e.code, e.message);
                    }
                }
            }
            Message::Binary(_) => {
                stats.errors += 1;
                let msg = "only JSON text frames are accepted".to_string();
                send_error(out, metrics, None, ErrorCode::BinaryNotSupported, msg);
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => {}
        }
        // Past the error budget (or told to close): read no more, so a client that
        // sends garbage without reading cannot grow its queue of error frames.
        if out.is_closing() {
            stats.we_closed = true;
            break;
        }
    }
    stats
}

async fn write_loop(
    out: Arc<Outbound>,
    mut sink: SplitSink<WebSocket, Message>,
    heartbeat: Duration,
    done: CancellationToken,
) {
    let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    loop {
        let step = tokio::select! {
            n = out.next() => n,
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                continue;
            }
        };
        match step {
            Some(Next::Send(frame)) => {
                // Write everything queued with one flush: one syscall, not one per frame.
                let mut batch = Ok(());
                let mut next = Some(frame);
                let mut n = 0;
                while let Some(f) = next.take() {
                    batch = sink.feed(Message::Text(f)).await;
                    n += 1;
                    if batch.is_err() || n == WRITE_BATCH {
                        break;
                    }
                    next = out.try_next();
                }
                if batch.is_err() || sink.flush().await.is_err() {
                    break;
                }
            }
            Some(Next::Close(code, reason)) => {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
            None => break,
        }
    }
    out.mark_closed();
    done.cancel();
}
