//! The log's one shared buffer and the thread that writes it out (see the module above).

use std::io::{BufWriter, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long lines gather before they are written (unless there are many already).
const GATHER: Duration = Duration::from_millis(20);
/// Written at once when this much has gathered.
const WRITE_AT: usize = 256 * 1024;
/// Lines are dropped (and counted) while this much is still unwritten (an output that stalls).
const MAX_UNWRITTEN: usize = 8 * 1024 * 1024;

/// Standard output without Rust's line buffering (the writer thread batches), or the buffered
/// handle when the descriptor cannot be duplicated.
pub(super) fn stdout_writer() -> Box<dyn Write + Send> {
    match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(BufWriter::with_capacity(64 * 1024, std::fs::File::from(fd))),
        Err(_) => Box::new(std::io::stdout()),
    }
}

struct Shared {
    pending: Mutex<Pending>,
    /// The writer thread waits here for lines.
    changed: Condvar,
    /// Lines dropped since the writer last reported them.
    dropped: AtomicU64,
    /// The format of the line that reports them.
    json: bool,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    closed: bool,
}

/// Where every log line goes (see the module comment). Cloned freely: one buffer behind it.
#[derive(Clone)]
pub struct LogWriter(Arc<Shared>);

impl LogWriter {
    pub(super) fn new(json: bool) -> Self {
        LogWriter(Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            changed: Condvar::new(),
            dropped: AtomicU64::new(0),
            json,
        }))
    }

    /// Asks the writer thread to write what is left and stop.
    pub(super) fn close(&self) {
        self.pending().closed = true;
        self.0.changed.notify_all();
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A logger that panicked mid-line leaves at worst a torn line; keep logging.
        self.0.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends what `line` writes, as one piece; or, while [`MAX_UNWRITTEN`] bytes wait for an output
    /// that does not keep up (or a writer thread that never started), drops it and counts it: a
    /// logger never waits for the output (it may be a tokio worker).
    pub(super) fn append(&self, line: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = self.pending();
        if pending.lines.len() >= MAX_UNWRITTEN {
            drop(pending);
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_empty = pending.lines.is_empty();
        line(&mut pending.lines);
        // The writer sleeps until the first line of a batch, and wakes early for a big one.
        if was_empty || pending.lines.len() >= WRITE_AT {
            self.0.changed.notify_all();
        }
    }

    pub(super) fn run(self, mut out: Box<dyn Write + Send>) {
        let mut batch = Vec::new();
        loop {
            {
                let mut pending = self.pending();
                while pending.lines.is_empty() && !pending.closed {
                    pending = self
                        .0
                        .changed
                        .wait(pending)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                if pending.lines.len() < WRITE_AT && !pending.closed {
                    pending = self
                        .0
                        .changed
                        .wait_timeout(pending, GATHER)
                        .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
                }
                if pending.lines.is_empty() && pending.closed {
                    let _ = out.flush();
                    return;
                }
                std::mem::swap(&mut pending.lines, &mut batch);
            }
            // The lines dropped while this batch waited came after it.
            let dropped = self.0.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                self.dropped_notice(dropped, &mut batch);
            }
            // Nowhere to report a failing log output to; keep serving.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            // Not kept at the size of a backlog: a stall must not hold 2 × MAX_UNWRITTEN for good.
            batch.shrink_to(WRITE_AT);
        }
    }
}

impl LogWriter {
    /// The line that says how many lines were lost, in the format of the others.
    fn dropped_notice(&self, dropped: u64, out: &mut Vec<u8>) {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
        let message = "log lines dropped: the log output did not keep up";
        let _ = if self.0.json {
            writeln!(
                out,
                r#"{{"timestamp":"{now}","level":"WARN","message":"{message}","target":"healthtracker::telemetry","dropped":{dropped}}}"#
            )
        } else {
            writeln!(out, "{now}  WARN healthtracker::telemetry: {message} dropped={dropped}")
        };
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(|lines| lines.extend_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::LogGuard;
    use super::*;

    #[test]
    fn every_line_reaches_the_output_whole_and_in_order() {
        let writer = new_writer();
        let out = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("sink").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let thread = {
            let (writer, sink) = (writer.clone(), Sink(Arc::clone(&out)));
            std::thread::spawn(move || writer.run(Box::new(sink)))
        };
        let loggers: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..5_000 {
                        writer.write_all(format!("{t} {n}\n").as_bytes()).expect("write");
                    }
                })
            })
            .collect();
        for logger in loggers {
            logger.join().expect("logger");
        }
        drop(LogGuard {
            writer,
            thread: Some(thread),
        });
        let text = String::from_utf8(out.lock().expect("sink").clone()).expect("utf-8");
        let mut next = [0u32; 4];
        for line in text.lines() {
            let (t, n) = line.split_once(' ').expect("a whole line");
            let (t, n): (usize, u32) = (t.parse().expect("thread"), n.parse().expect("number"));
            assert_eq!(n, next[t], "thread {t}'s lines out of order");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4]);
    }

    fn new_writer() -> LogWriter {
        LogWriter::new(true)
    }

    /// Runs `log` on a thread of its own; `Some(elapsed)` if it returned within `patience`, `None`
    /// when it was still blocked (the thread is then left behind).
    fn returns_within(patience: Duration, log: impl FnOnce() + Send + 'static) -> Option<Duration> {
        let (done, finished) = std::sync::mpsc::channel();
        let started = std::time::Instant::now();
        std::thread::spawn(move || {
            log();
            let _ = done.send(());
        });
        finished.recv_timeout(patience).ok().map(|()| started.elapsed())
    }

    /// 20 MiB of 100-byte lines, more than the buffer holds.
    fn log_20_mib(mut writer: LogWriter) {
        let line = format!("{}\n", "x".repeat(99));
        for _ in 0..(20 * 1024 * 1024 / line.len()) {
            let _ = writer.write_all(line.as_bytes());
        }
    }

    #[test]
    fn without_a_writer_thread_logging_drops_and_counts_lines_instead_of_blocking() {
        // The thread that should write the buffer out never started.
        let writer = new_writer();
        let logger = writer.clone();
        let returned = returns_within(Duration::from_secs(20), move || log_20_mib(logger));
        assert!(
            returned.is_some(),
            "a logger blocked for good once 8 MiB were unwritten"
        );
        // At most one line beyond the cap.
        assert!(
            writer.pending().lines.len() < MAX_UNWRITTEN + 1024,
            "the buffer grew past its cap"
        );
        let dropped = writer.0.dropped.load(Ordering::Relaxed);
        assert!(dropped > 100_000, "{dropped} lines counted as dropped");
    }

    /// An output whose `write` blocks until it is opened (a stalled terminal or pipe).
    struct Stalled {
        open: Arc<(Mutex<bool>, Condvar)>,
        out: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (open, opened) = &*self.open;
            let mut is_open = open.lock().expect("gate");
            while !*is_open {
                is_open = opened.wait(is_open).expect("gate");
            }
            self.out.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_never_blocks_loggers_and_the_drop_is_reported_once_it_moves() {
        let writer = new_writer();
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let out = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let sink = Stalled {
                open: Arc::clone(&open),
                out: Arc::clone(&out),
            };
            let writer = writer.clone();
            std::thread::spawn(move || writer.run(Box::new(sink)))
        };
        let logger = writer.clone();
        let returned = returns_within(Duration::from_secs(20), move || log_20_mib(logger));
        let dropped = writer.0.dropped.load(Ordering::Relaxed);
        println!("FIGURES stalled output: 20 MiB of log lines returned after {returned:?}, {dropped} lines dropped");
        assert!(returned.is_some(), "loggers blocked behind a stalled output");
        assert!(dropped > 0, "nothing counted as dropped");
        // The output moves again: what was kept is written, then a line saying how many were lost.
        {
            let (is_open, opened) = &*open;
            *is_open.lock().expect("gate") = true;
            opened.notify_all();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !writer.pending().lines.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the output did not catch up");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut logger = writer.clone();
        logger.write_all(b"after\n").expect("write");
        drop(LogGuard {
            writer,
            thread: Some(thread),
        });
        let text = String::from_utf8(out.lock().expect("sink").clone()).expect("utf-8");
        let notice = text
            .lines()
            .find(|line| line.contains("log lines dropped"))
            .expect("a line reporting the dropped lines");
        let notice: serde_json::Value = serde_json::from_str(notice).expect("the notice is a JSON line");
        assert_eq!(notice["level"], "WARN");
        assert!(notice["dropped"].as_u64().is_some_and(|n| n > 0), "{notice}");
        assert!(text.ends_with("after\n"), "the line logged after the stall was lost");
    }
}
