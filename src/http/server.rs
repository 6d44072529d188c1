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

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

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
    // Tells the connections still waiting for their first head that the server stops.
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
            let head = tokio::select! {
                head = first_head(&stream, deadline) => head,
                () = stopping.cancelled() => None,
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
            let connection = Box::pin(watcher.watch(http.serve_connection(io, service)));
            drive(connection, clock, limits).await;
            drop(permit);
        });
    }
    stopping.cancel();
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

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
/// dropping it closes the socket).
async fn drive(
    connection: impl Future<Output = Result<(), hyper::Error>>,
    clock: Arc<ConnectionClock>,
    limits: ConnectionLimits,
) {
    let mut connection = std::pin::pin!(connection);
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
        }
    }
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

const READING_HEAD: u8 = 0;
const ANSWERING: u8 = 1;
const IDLE: u8 = 2;

/// `write_blocked_ms` when writes flow.
const NOT_BLOCKED: u64 = u64::MAX;

/// Where a connection is in its life and since when, shared by its socket, its service and its
/// watchdog.
struct ConnectionClock {
    epoch: Instant,
    phase: AtomicU8,
    /// Milliseconds after `epoch` at which the phase began.
    since_ms: AtomicU64,
    /// Milliseconds after `epoch` since which a write has been waiting for the client to read, or
    /// [`NOT_BLOCKED`].
    write_blocked_ms: AtomicU64,
    /// Wakes the watchdog when a write starts waiting (its deadline moves closer).
    write_stalled: Notify,
    /// Where the requests' heads are in the bytes read. The socket, the service and the answer's
    /// body all run in the connection's task: the lock is never contended.
    framing: Mutex<Framing>,
}

impl ConnectionClock {
    /// A new connection is reading its first request's head.
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            phase: AtomicU8::new(READING_HEAD),
            since_ms: AtomicU64::new(0),
            write_blocked_ms: AtomicU64::new(NOT_BLOCKED),
            write_stalled: Notify::new(),
            framing: Mutex::new(Framing::default()),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn enter(&self, phase: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
    }

    fn framing(&self) -> std::sync::MutexGuard<'_, Framing> {
        self.framing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A request's head was parsed; its body has this many bytes (`None`: chunked).
    fn head_parsed(&self, body_bytes: Option<u64>) {
        self.enter(ANSWERING);
        self.framing().head_parsed(body_bytes);
    }

    /// The answer was written (or abandoned): the connection waits for the next head — which may
    /// already have begun in bytes read with this request.
    fn answered(&self) {
        let next_head_begun = self.framing().next_head_begun();
        self.enter(if next_head_begun { READING_HEAD } else { IDLE });
    }

    fn write_blocked(&self) {
        if self.write_blocked_ms.load(Ordering::Relaxed) == NOT_BLOCKED {
            self.write_blocked_ms.store(self.now_ms(), Ordering::Relaxed);
            self.write_stalled.notify_one();
        }
    }

    fn write_progressed(&self) {
        if self.write_blocked_ms.load(Ordering::Relaxed) != NOT_BLOCKED {
            self.write_blocked_ms.store(NOT_BLOCKED, Ordering::Relaxed);
        }
    }

    /// Bytes arrived: on an idle connection they start a request's head.
    fn bytes_read(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.enter(READING_HEAD);
        }
    }

    fn deadline(&self, limits: ConnectionLimits) -> Option<Instant> {
        let phase = match self.phase.load(Ordering::Acquire) {
            READING_HEAD => Some(limits.header_read_timeout),
            IDLE => Some(limits.keep_alive_timeout),
            _ => None,
        }
        .map(|wait| self.epoch + Duration::from_millis(self.since_ms.load(Ordering::Relaxed)) + wait);
        let write = match self.write_blocked_ms.load(Ordering::Relaxed) {
            NOT_BLOCKED => None,
            since => Some(self.epoch + Duration::from_millis(since) + limits.write_timeout),
        };
        match (phase, write) {
            (Some(phase), Some(write)) => Some(phase.min(write)),
            (phase, write) => phase.or(write),
        }
    }

    fn phase_name(&self) -> &'static str {
        if self.write_blocked_ms.load(Ordering::Relaxed) != NOT_BLOCKED {
            return "writing to a client that does not read";
        }
        match self.phase.load(Ordering::Acquire) {
            READING_HEAD => "reading request headers",
            IDLE => "idle keep-alive",
            _ => "answering",
        }
    }
}

/// A request's bytes could be saved for later before the service saw its head: more than this and
/// the connection's framing is no longer followed.
const MAX_STASH: usize = 2 * READ_BUFFER_BYTES;

/// Follows the bytes read far enough to know whether the next request's head has begun when an
/// answer ends (hyper keeps what it read ahead in its own buffer, out of sight). Heads end at an
/// empty line (`\r\n` or `\n`, as httparse reads them); bodies are skipped by the length the
/// service learns from the parsed head. After a chunked body the framing is lost for the rest of
/// the connection, and every wait for a head is then held to the header deadline (the stricter).
#[derive(Default)]
enum Framing {
    /// Waiting for a head: nothing of it (leading empty lines aside) has arrived.
    #[default]
    Fresh,
    /// In a head; `line` is where in its line the scan is.
    Head {
        line: LineScan,
    },
    /// The head ended; what was read after it (body, maybe the next head) waits for its length.
    Parsed {
        after: Vec<u8>,
    },
    /// In a body of which this many bytes are still to come.
    Body {
        left: u64,
    },
    Lost,
}

/// Where a head's scan stands: inside a line (a `\r` there means nothing), or at a line's start
/// (after its `\r`): a `\n` there is the empty line that ends the head.
#[derive(Clone, Copy)]
enum LineScan {
    InLine,
    LineStart,
    LineStartCr,
}

impl Framing {
    fn read(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self {
                Framing::Fresh => {
                    // Empty lines before a request line are skipped, as httparse does.
                    let Some(start) = bytes.iter().position(|b| *b != b'\r' && *b != b'\n') else {
                        return;
                    };
                    bytes = &bytes[start..];
                    *self = Framing::Head { line: LineScan::InLine };
                }
                Framing::Head { line } => {
                    // Inside a line only its `\n` matters (memchr jumps to it: a head is scanned at
                    // memory speed, not byte by byte); at a line's start, whether it is empty.
                    let mut at = 0;
                    let end = loop {
                        match *line {
                            LineScan::LineStart | LineScan::LineStartCr => {
                                let Some(&byte) = bytes.get(at) else { break None };
                                match (*line, byte) {
                                    (_, b'\n') => break Some(at + 1),
                                    (LineScan::LineStart, b'\r') => *line = LineScan::LineStartCr,
                                    _ => *line = LineScan::InLine,
                                }
                                at += 1;
                            }
                            LineScan::InLine => match memchr::memchr(b'\n', &bytes[at..]) {
                                Some(found) => {
                                    *line = LineScan::LineStart;
                                    at += found + 1;
                                }
                                None => {
                                    *line = LineScan::InLine;
                                    break None;
                                }
                            },
                        }
                    };
                    let Some(end) = end else { return };
                    *self = Framing::Parsed { after: Vec::new() };
                    bytes = &bytes[end..];
                }
                Framing::Parsed { after } => {
                    if after.len() + bytes.len() > MAX_STASH {
                        *self = Framing::Lost;
                    } else {
                        after.extend_from_slice(bytes);
                    }
                    return;
                }
                Framing::Body { left } => {
                    let skip = (*left).min(bytes.len() as u64);
                    *left -= skip;
                    bytes = &bytes[skip as usize..];
                    if *left == 0 {
                        *self = Framing::Fresh;
                    }
                }
                Framing::Lost => return,
            }
        }
    }

    fn head_parsed(&mut self, body_bytes: Option<u64>) {
        let after = match (std::mem::take(self), body_bytes) {
            (Framing::Parsed { after }, Some(body)) => {
                *self = Framing::Body { left: body };
                after
            }
            // Chunked, or a head hyper found where this scan did not.
            _ => {
                *self = Framing::Lost;
                return;
            }
        };
        if let Framing::Body { left: 0 } = self {
            *self = Framing::Fresh;
        }
        self.read(&after);
    }

    fn next_head_begun(&self) -> bool {
        match self {
            Framing::Fresh => false,
            // A body not read to its end: hyper drains it or closes; the client owes those bytes.
            Framing::Head { .. } | Framing::Parsed { .. } | Framing::Body { .. } | Framing::Lost => true,
        }
    }
}

/// The socket, telling the clock when bytes arrive. `read_first` (the first head, read before
/// hyper took the connection) is read before the socket.
struct ClockedIo {
    inner: TcpStream,
    read_first: Vec<u8>,
    read_at: usize,
    clock: Arc<ConnectionClock>,
}

impl AsyncRead for ClockedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        if self.read_at < self.read_first.len() {
            let this = &mut *self;
            let n = buf.remaining().min(this.read_first.len() - this.read_at);
            let bytes = &this.read_first[this.read_at..this.read_at + n];
            buf.put_slice(bytes);
            this.clock.bytes_read();
            this.clock.framing().read(bytes);
            this.read_at += n;
            if this.read_at == this.read_first.len() {
                this.read_first = Vec::new();
                this.read_at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.bytes_read();
            self.clock.framing().read(&buf.filled()[before..]);
        }
        polled
    }
}

impl ClockedIo {
    /// Notes whether a write moved (or the client's socket is full).
    fn wrote<T>(&self, polled: Poll<io::Result<T>>, moved: impl FnOnce(&T) -> bool) -> Poll<io::Result<T>> {
        match &polled {
            Poll::Pending => self.clock.write_blocked(),
            Poll::Ready(Ok(value)) if moved(value) => self.clock.write_progressed(),
            Poll::Ready(_) => {}
        }
        polled
    }
}

impl AsyncWrite for ClockedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(polled, |n| *n > 0)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(polled, |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The app as one connection's hyper service: the request is answered by `app` with the peer's
/// address attached (what `ClientIp` reads), and the answer's body tells the clock when it is done.
/// The connection keeps its own copy of the app and calls it in place (HTTP/1 answers one request
/// at a time): cloning the whole stack for every request was measurable.
struct ConnectionService {
    app: std::sync::Mutex<App>,
    peer: SocketAddr,
    clock: Arc<ConnectionClock>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<ClockedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.clock
            .head_parsed(hyper::body::Body::size_hint(request.body()).exact());
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let answered = self.answer(request);
        let clock = Arc::clone(&self.clock);
        Box::pin(async move {
            let response = answered.await?;
            Ok(response.map(|body| ClockedBody { inner: body, clock }))
        })
    }
}

impl ConnectionService {
    fn answer(&self, request: Request<Body>) -> <App as tower::Service<Request<Body>>>::Future {
        let mut app = self.app.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // The stack is always ready (no layer applies backpressure); should that ever change, a
        // fresh copy waits for readiness instead.
        let mut context = Context::from_waker(std::task::Waker::noop());
        match tower::Service::poll_ready(&mut *app, &mut context) {
            Poll::Ready(Ok(())) => tower::Service::call(&mut *app, request),
            _ => Box::pin(app.clone().oneshot(request)),
        }
    }
}

/// An answer's body: when hyper is done with it (written, or the connection failed), the
/// connection is idle again.
struct ClockedBody {
    inner: Body,
    clock: Arc<ConnectionClock>,
}

impl Drop for ClockedBody {
    fn drop(&mut self) {
        self.clock.answered();
    }
}

impl hyper::body::Body for ClockedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The framing after `reads`, with the service told each parsed head's body length in turn.
    fn follow(reads: &[&[u8]], bodies: &[Option<u64>]) -> Framing {
        let mut framing = Framing::default();
        let mut bodies = bodies.iter();
        for read in reads {
            framing.read(read);
            while matches!(framing, Framing::Parsed { .. }) {
                let Some(body) = bodies.next() else { break };
                framing.head_parsed(*body);
            }
        }
        framing
    }

    #[test]
    fn the_next_head_is_seen_to_begin_wherever_the_reads_split_the_bytes() {
        let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".as_slice();
        let post = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".as_slice();
        let half = b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ".as_slice();
        // One request, nothing after it: idle.
        assert!(!follow(&[get], &[Some(0)]).next_head_begun());
        // A half head pipelined behind a whole request, in one read or split anywhere.
        let stream = [post, half].concat();
        for split in 0..stream.len() {
            let (a, b) = stream.split_at(split);
            assert!(follow(&[a, b], &[Some(5)]).next_head_begun(), "split at {split}");
        }
        // Whole requests only, split anywhere: idle after the last.
        let stream = [get, post, get].concat();
        for split in 0..stream.len() {
            let (a, b) = stream.split_at(split);
            assert!(
                !follow(&[a, b], &[Some(0), Some(5), Some(0)]).next_head_begun(),
                "split at {split}"
            );
        }
        // Bare `\n` line ends, and the empty lines some clients send after a body.
        let lf = b"GET / HTTP/1.1\nHost: a\n\n\r\n".as_slice();
        assert!(!follow(&[lf], &[Some(0)]).next_head_begun());
        // A body still owed when the answer ends.
        assert!(follow(&[b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nhel"], &[Some(9)]).next_head_begun());
    }

    #[test]
    fn after_a_chunked_body_every_wait_is_held_to_the_header_deadline() {
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".as_slice();
        let framing = follow(&[chunked], &[None]);
        assert!(matches!(framing, Framing::Lost));
        assert!(framing.next_head_begun());
    }
}
