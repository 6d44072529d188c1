//! Progress of a long command: a bar on a terminal (indicatif), a plain line every few seconds
//! otherwise (a log file or CI), both on stderr so stdout holds only the result.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// `total` entries to copy; `quiet` draws nothing (tests).
    pub fn new(total: u64, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} entries ({per_sec}, {eta} left) {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            total: if quiet { 0 } else { total },
            done: 0,
            started: now,
            last_line: now,
        }
    }

    pub fn advance(&mut self, entries: u64, users: u64) {
        self.done += entries;
        match &self.bar {
            Some(bar) => {
                bar.inc(entries);
                bar.set_message(format!("{users} users"));
            }
            None if self.total > 0 && self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
                eprintln!(
                    "copy-data: {}/{} entries ({:.0}%), {users} users, {rate:.0} entries/s",
                    self.done,
                    self.total,
                    100.0 * self.done as f64 / self.total as f64
                );
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
