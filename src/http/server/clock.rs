//! A connection's clock: its phase and since when, kept by its socket (`ClockedIo`), its service
//! and its answers' bodies, read by the watchdog in `serve`.

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
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::ServiceExt;

use super::framing::Framing;
use super::{App, ConnectionLimits};

pub(super) const READING_HEAD: u8 = 0;
pub(super) const ANSWERING: u8 = 1;
pub(super) const IDLE: u8 = 2;

/// `write_blocked_ms` when writes flow.
pub(super) const NOT_BLOCKED: u64 = u64::MAX;

/// Where a connection is in its life and since when, shared by its socket, its service and its
/// watchdog.
pub(super) struct ConnectionClock {
    pub(super) epoch: Instant,
    pub(super) phase: AtomicU8,
    /// Milliseconds after `epoch` at which the phase began.
    pub(super) since_ms: AtomicU64,
    /// Milliseconds after `epoch` since which a write has been waiting for the client to read, or
    /// [`NOT_BLOCKED`].
    pub(super) write_blocked_ms: AtomicU64,
    /// Wakes the watchdog when a write starts waiting (its deadline moves closer).
    pub(super) write_stalled: Notify,
    /// Where the requests' heads are in the bytes read. The socket, the service and the answer's
    /// body all run in the connection's task: the lock is never contended.
    pub(super) framing: Mutex<Framing>,
}

impl ConnectionClock {
    /// A new connection is reading its first request's head.
    pub(super) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            phase: AtomicU8::new(READING_HEAD),
            since_ms: AtomicU64::new(0),
            write_blocked_ms: AtomicU64::new(NOT_BLOCKED),
            write_stalled: Notify::new(),
            framing: Mutex::new(Framing::default()),
        }
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub(super) fn enter(&self, phase: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
    }

    pub(super) fn framing(&self) -> std::sync::MutexGuard<'_, Framing> {
        self.framing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A request's head was parsed; its body has this many bytes (`None`: chunked).
    pub(super) fn head_parsed(&self, body_bytes: Option<u64>) {
        self.enter(ANSWERING);
        self.framing().head_parsed(body_bytes);
    }

    /// The answer was written (or abandoned): the connection waits for the next head — which may
    /// already have begun in bytes read with this request.
    pub(super) fn answered(&self) {
        let next_head_begun = self.framing().next_head_begun();
        self.enter(if next_head_begun { READING_HEAD } else { IDLE });
    }

    pub(super) fn write_blocked(&self) {
        if self.write_blocked_ms.load(Ordering::Relaxed) == NOT_BLOCKED {
            self.write_blocked_ms.store(self.now_ms(), Ordering::Relaxed);
            self.write_stalled.notify_one();
        }
    }

    pub(super) fn write_progressed(&self) {
        if self.write_blocked_ms.load(Ordering::Relaxed) != NOT_BLOCKED {
            self.write_blocked_ms.store(NOT_BLOCKED, Ordering::Relaxed);
        }
    }

    /// Bytes arrived: on an idle connection they start a request's head.
    pub(super) fn bytes_read(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.enter(READING_HEAD);
        }
    }

    pub(super) fn deadline(&self, limits: ConnectionLimits) -> Option<Instant> {
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

    pub(super) fn phase_name(&self) -> &'static str {
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

/// The socket, telling the clock when bytes arrive. `read_first` (the first head, read before
/// hyper took the connection) is read before the socket.
pub(super) struct ClockedIo {
    pub(super) inner: TcpStream,
    pub(super) read_first: Vec<u8>,
    pub(super) read_at: usize,
    pub(super) clock: Arc<ConnectionClock>,
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
    pub(super) fn wrote<T>(&self, polled: Poll<io::Result<T>>, moved: impl FnOnce(&T) -> bool) -> Poll<io::Result<T>> {
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
pub(super) struct ConnectionService {
    pub(super) app: std::sync::Mutex<App>,
    pub(super) peer: SocketAddr,
    pub(super) clock: Arc<ConnectionClock>,
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
    pub(super) fn answer(&self, request: Request<Body>) -> <App as tower::Service<Request<Body>>>::Future {
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
pub(super) struct ClockedBody {
    pub(super) inner: Body,
    pub(super) clock: Arc<ConnectionClock>,
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
