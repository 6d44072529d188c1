//! Where each request head starts in a connection's bytes (see [`Framing`]).

use super::READ_BUFFER_BYTES;

/// A request's bytes could be saved for later before the service saw its head: more than this and
/// the connection's framing is no longer followed.
pub(super) const MAX_STASH: usize = 2 * READ_BUFFER_BYTES;

/// Follows the bytes read far enough to know whether the next request's head has begun when an
/// answer ends (hyper keeps what it read ahead in its own buffer, out of sight). Heads end at an
/// empty line (`\r\n` or `\n`, as httparse reads them); bodies are skipped by the length the
/// service learns from the parsed head. After a chunked body the framing is lost for the rest of
/// the connection, and every wait for a head is then held to the header deadline (the stricter).
#[derive(Default)]
pub(super) enum Framing {
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
pub(super) enum LineScan {
    InLine,
    LineStart,
    LineStartCr,
}

impl Framing {
    pub(super) fn read(&mut self, mut bytes: &[u8]) {
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

    pub(super) fn head_parsed(&mut self, body_bytes: Option<u64>) {
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

    pub(super) fn next_head_begun(&self) -> bool {
        match self {
            Framing::Fresh => false,
            // A body not read to its end: hyper drains it or closes; the client owes those bytes.
            Framing::Head { .. } | Framing::Parsed { .. } | Framing::Body { .. } | Framing::Lost => true,
        }
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
