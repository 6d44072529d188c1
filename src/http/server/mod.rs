//! Serving connections: the accept loop and each connection's life, with the limits a server facing
//! slow and hostile clients needs (`axum::serve` has none of them):
//!
//! - a request's headers must arrive within `HEADER_READ_TIMEOUT_SECS` of its first byte (or of the
//!   connection's opening), else the connection is closed — a client that sends half a request line
//!   and then nothing holds a socket for seconds, not forever. A head that arrived in the same read
//!   as the request before it (pipelining) is held to the same deadline: the socket's bytes are
//!   followed far enough to know where each head starts;
//! - request headers over [`MAX_HEADER_BYTES`] are refused with hyper's bare 431 (no handler runs);
//! - a keep-alive connection idle for `KEEP_ALIVE_TIMEOUT_SECS` between requests is closed;
//! - a connection whose writes made no progress for `WRITE_TIMEOUT_SECS` (a client that stopped
//!   reading its answer) is closed, so it cannot hold a socket, or a shutdown, for ever;
//! - at most `MAX_CONNECTIONS` connections are open: beyond it the server stops accepting (the
//!   kernel's backlog holds the newcomers, at no cost to the server) until one closes. A new
//!   connection's first head is read before hyper gets the socket, so one that sends half a head
//!   (or nothing) costs the bytes it sent, not hyper's buffers;
//! - an error accepting a connection (EMFILE when file descriptors run out) never ends the server:
//!   it backs off and keeps accepting;
//! - on shutdown it stops accepting, lets in-flight requests finish, closes idle connections.
//!
//! hyper's own `header_read_timeout` is not used: it also runs while a keep-alive connection waits
//! for its next request, so it would close idle connections at the header timeout. Here each
//! connection keeps a [`ConnectionClock`] of its phase (reading a request's head, being answered,
//! idle), which a watchdog beside the connection reads. HTTP/1.1 only, as the old backend served.
//!
//! `clock` holds each connection's clock and the socket, service and body that tell it what happens;
//! `framing` follows the bytes far enough to know where each request head starts.

mod clock;
mod framing;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::clock::{ClockedIo, ConnectionClock, ConnectionService};
use self::framing::Framing;
use super::App;

/// Request headers larger than this are refused (431).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// hyper's read buffer (it must hold a whole head): a head still unfinished at this size is refused,
/// so a connection never buffers more than this.
const READ_BUFFER_BYTES: usize = 2 * MAX_HEADER_BYTES;
const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// How long a connection may wait in each phase.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// From a request's first byte (or the connection's opening) to the end of its headers.
    pub header_read_timeout: Duration,
    /// Between the end of an answer and the next request's first byte.
    pub keep_alive_timeout: Duration,
    /// While a write to the client makes no progress.
    pub write_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for the
/// open connections' requests to finish.
pub async fn serve(
    listener: TcpListener,
    app: App,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // Our own clock decides the head's deadline (see the module comment).
        .header_read_timeout(None)
        .max_buf_size(READ_BUFFER_BYTES)
        .max_header_size(MAX_HEADER_BYTES);
    let http = Arc::new(http);
    let app = Arc::new(app);
    let graceful = GracefulShutdown::new();
    // Tells the connections that the server stops (those waiting for their first head, and those
    // being served: see `drive`).
    let stopping = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = FIRST_ACCEPT_BACKOFF;
    let mut failing = false;
    // One permit per open connection, taken before accepting it.
    let open = Arc::new(Semaphore::new(limits.max_connections.min(Semaphore::MAX_PERMITS)));
    let mut full = false;
    loop {
        let permit = match Arc::clone(&open).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !full {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "MAX_CONNECTIONS open: not accepting until one closes"
                    );
                    full = true;
                }
                tokio::select! {
                    permit = Arc::clone(&open).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        if full && open.available_permits() > limits.max_connections / 10 {
            tracing::info!("below MAX_CONNECTIONS again");
            full = false;
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // The peer gave up before we took its connection: nothing to do.
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                if !failing {
                    tracing::error!(error = %error, "cannot accept connections; backing off and retrying");
                    failing = true;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = &mut shutdown => break,
                }
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        if failing {
            tracing::warn!("accepting connections again");
            failing = false;
        }
        backoff = FIRST_ACCEPT_BACKOFF;
        let _ = stream.set_nodelay(true);
        let (http, app, stopping, watcher) = (
            Arc::clone(&http),
            Arc::clone(&app),
            stopping.clone(),
            graceful.watcher(),
        );
        tokio::spawn(async move {
            // hyper (its buffers, the app's copy, the clock: ~12 KB) only for a connection that
            // sent a whole head: half-sent requests cost the few bytes they sent.
            let deadline = Instant::now() + limits.header_read_timeout;
            let head = {
                let mut reading = std::pin::pin!(first_head(&stream, deadline));
                tokio::select! {
                biased;
                head = &mut reading => head,
                // A request already on its way when the server stops is answered: its head gets a
                // moment more (this task's watcher holds the shutdown until then); a connection
                // that sends nothing is closed after it.
                () = stopping.cancelled() => tokio::time::timeout(SHUTDOWN_HEAD_GRACE, reading).await.ok().flatten(),
                }
            };
            let Some(head) = head else {
                drop(permit);
                return;
            };
            let clock = Arc::new(ConnectionClock::new());
            let service = ConnectionService {
                app: std::sync::Mutex::new((*app).clone()),
                peer,
                clock: Arc::clone(&clock),
            };
            let io = TokioIo::new(ClockedIo {
                inner: stream,
                read_first: head,
                read_at: 0,
                clock: Arc::clone(&clock),
            });
            let connection = http.serve_connection(io, service);
            drive(connection, |c| c.graceful_shutdown(), &stopping, clock, limits).await;
            // Held until here: the server's shutdown waits for this connection's answer.
            drop(watcher);
            drop(permit);
        });
    }
    stopping.cancel();
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// How long a connection accepted before the server stopped may take to finish sending its first
/// head: enough for a request already written by the client, short enough not to delay a shutdown.
const SHUTDOWN_HEAD_GRACE: Duration = Duration::from_millis(500);

/// Reads a new connection's first request head — until its end, or [`READ_BUFFER_BYTES`] of it
/// (hyper then refuses it with 431) — by the deadline. `None` when the connection closed, failed or
/// missed the deadline (dropping it closes the socket).
async fn first_head(stream: &TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut framing = Framing::default();
    loop {
        match tokio::time::timeout_at(deadline, stream.readable()).await {
            Ok(Ok(())) => {}
            Err(_) | Ok(Err(_)) => return None,
        }
        head.reserve(512);
        let before = head.len();
        match stream.try_read_buf(&mut head) {
            Ok(0) => return None,
            Ok(_) => {
                framing.read(&head[before..]);
                if !matches!(framing, Framing::Fresh | Framing::Head { .. }) || head.len() >= READ_BUFFER_BYTES {
                    return Some(head);
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
    }
}

/// Runs a connection until it ends, or until its clock says it waited too long in its phase (then
/// dropping it closes the socket). When the server stops, the connection is told to finish what it
/// is answering and close — after it was polled: hyper's graceful shutdown closes a connection that
/// has not yet taken the head already read, which would drop a request the client has sent.
async fn drive<C: Future<Output = Result<(), hyper::Error>>>(
    connection: C,
    graceful_shutdown: impl Fn(std::pin::Pin<&mut C>),
    stopping: &CancellationToken,
    clock: Arc<ConnectionClock>,
    limits: ConnectionLimits,
) {
    let mut connection = std::pin::pin!(connection);
    let mut told_to_stop = false;
    loop {
        // While a request is being answered and its writes flow there is no deadline here (the
        // request timeout is the app's); look again after the shortest wait, or when a write stalls.
        let wake = clock.deadline(limits).unwrap_or_else(|| {
            Instant::now()
                + limits
                    .header_read_timeout
                    .min(limits.keep_alive_timeout)
                    .min(limits.write_timeout)
        });
        tokio::select! {
            biased;
            outcome = &mut connection => {
                if let Err(error) = outcome {
                    tracing::debug!(error = %error, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                if clock.deadline(limits).is_some_and(|deadline| deadline <= Instant::now()) {
                    tracing::debug!(phase = clock.phase_name(), "closing a connection that waited too long");
                    return;
                }
            }
            () = clock.write_stalled.notified() => {}
            () = stopping.cancelled(), if !told_to_stop => {
                told_to_stop = true;
                graceful_shutdown(connection.as_mut());
            }
        }
    }
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
