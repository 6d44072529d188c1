//! The uploaded file, opened for the XML reader: `export.zip` (its `export.xml` entry, unpacked as
//! it is read, within `DEVICE_IMPORT_MAX_UNZIPPED` and a 200:1 ratio) or `export.xml` itself. Every
//! reader here is a stream over the file on disk: memory never grows with it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use super::Refusal;

/// A zip entry may unpack to at most this many times its compressed size.
pub const MAX_RATIO: u64 = 200;
/// The longest one XML event (a tag with its attributes, the DTD) may be: the Health app's are
/// well under a kilobyte (its DTD a few), and the parser buffers one event at a time.
pub const MAX_EVENT_BYTES: u64 = 1024 * 1024;
const BUFFER: usize = 256 * 1024;

/// Why a guarded reader stopped (carried inside the `io::Error` the XML parser reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Unpacked beyond the allowed size (this many bytes).
    Unzipped(u64),
    /// Unpacked beyond [`MAX_RATIO`] times the compressed size.
    Ratio,
    /// One event past [`MAX_EVENT_BYTES`].
    EventTooLong,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Stop {}

impl Stop {
    pub fn of(error: &io::Error) -> Option<Stop> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<Stop>()).copied()
    }

    fn error(self) -> io::Error {
        io::Error::other(self)
    }
}

/// Opens the upload and hands its XML to `read`.
pub fn with_export_xml<T>(
    mut file: File,
    max_unzipped: u64,
    read: impl FnOnce(&mut dyn BufRead) -> Result<T, Refusal>,
) -> Result<T, Refusal> {
    file.seek(SeekFrom::Start(0)).map_err(Refusal::Io)?;
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut file, &mut magic).map_err(Refusal::Io)?;
    file.seek(SeekFrom::Start(0)).map_err(Refusal::Io)?;
    if got == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06") {
        let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|_| Refusal::BadZip)?;
        let index = (0..archive.len())
            .find(|&i| {
                archive
                    .name_for_index(i)
                    .and_then(Result::ok)
                    .is_some_and(|name| name.rsplit('/').next() == Some("export.xml"))
            })
            .ok_or(Refusal::NoExportXml)?;
        let entry = archive.by_index(index).map_err(|_| Refusal::BadZip)?;
        let (declared, compressed) = (entry.size(), entry.compressed_size().max(1));
        if declared > max_unzipped {
            return Err(Refusal::Unzipped(max_unzipped));
        }
        if declared > compressed.saturating_mul(MAX_RATIO) {
            return Err(Refusal::Ratio);
        }
        let guarded = Unzipping {
            inner: entry,
            read: 0,
            max_unzipped,
            max_ratio: compressed.saturating_mul(MAX_RATIO),
        };
        let mut input = BufReader::with_capacity(BUFFER, guarded);
        read(&mut input)
    } else {
        let mut input = BufReader::with_capacity(BUFFER, file);
        read(&mut input)
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// A zip entry's bytes, counted as they unpack: past the size or ratio allowed, an error — whatever
/// the entry's header declared.
struct Unzipping<R> {
    inner: R,
    read: u64,
    max_unzipped: u64,
    max_ratio: u64,
}

impl<R: Read> Read for Unzipping<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max_unzipped {
            return Err(Stop::Unzipped(self.max_unzipped).error());
        }
        if self.read > self.max_ratio {
            return Err(Stop::Ratio.error());
        }
        Ok(n)
    }
}

/// The parser's input, with a cap on what one event may span ([`MAX_EVENT_BYTES`]): the parser
/// buffers an event whole, and a tag that never closes must not fill memory.
pub struct EventBounded<R> {
    inner: R,
    since_event: u64,
}

impl<R: BufRead> EventBounded<R> {
    pub fn new(inner: R) -> Self {
        Self { inner, since_event: 0 }
    }

    /// Called before each event is read.
    pub fn next_event(&mut self) {
        self.since_event = 0;
    }
}

impl<R: BufRead> Read for EventBounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for EventBounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.since_event > MAX_EVENT_BYTES {
            return Err(Stop::EventTooLong.error());
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.since_event += amount as u64;
        self.inner.consume(amount);
    }
}
