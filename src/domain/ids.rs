//! Identifiers. Every id is a 24-hex MongoDB ObjectId, on every storage backend, so that data can move
//! between the embedded store and MongoDB unchanged and clients see one id format.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 12-byte ObjectId: 4-byte big-endian seconds, 5 random bytes per process, 3-byte counter
/// (the layout the MongoDB spec and the old backend's Mongoose used).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 12]);

impl ObjectId {
    pub fn new() -> Self {
        static PROCESS_UNIQUE: OnceLock<[u8; 5]> = OnceLock::new();
        static COUNTER: OnceLock<AtomicU32> = OnceLock::new();
        let process = PROCESS_UNIQUE.get_or_init(rand::random);
        let counter = COUNTER
            .get_or_init(|| AtomicU32::new(rand::random::<u32>() & 0x00ff_ffff))
            .fetch_add(1, Ordering::Relaxed)
            & 0x00ff_ffff;
        let secs = chrono::Utc::now().timestamp().clamp(0, i64::from(u32::MAX)) as u32;

        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        bytes[4..9].copy_from_slice(process);
        bytes[9..].copy_from_slice(&counter.to_be_bytes()[1..]);
        Self(bytes)
    }

    /// Parses exactly 24 hex digits (either case).
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 24 {
            return None;
        }
        let mut bytes = [0u8; 12];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    pub const fn from_bytes(bytes: [u8; 12]) -> Self {
        Self(bytes)
    }

    pub const fn bytes(&self) -> [u8; 12] {
        self.0
    }

    pub fn to_hex(&self) -> String {
        self.hex_digits().as_str().to_owned()
    }

    /// The 24 lowercase hex digits, on the stack: ids are written on every request (the token
    /// check's and the page's query parameters, the access line), and `hex::encode` collects them
    /// char by char into a `String` (~1,000 instructions each time, counted with callgrind).
    pub fn hex_digits(&self) -> HexDigits {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 24];
        for (i, byte) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(byte >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
        }
        HexDigits(out)
    }
}

/// An id's 24 hex digits (see [`ObjectId::hex_digits`]).
pub struct HexDigits([u8; 24]);

impl HexDigits {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Default for ObjectId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex_digits().as_str())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.to_hex())
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.hex_digits().as_str())
    }
}

/// From the same hex text it serializes to (job payloads carry ids this way).
impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("expected a 24-hex ObjectId"))
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub ObjectId);

        impl $name {
            pub fn new() -> Self {
                Self(ObjectId::new())
            }

            pub fn parse(s: &str) -> Option<Self> {
                ObjectId::parse(s).map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

typed_id!(
    /// A user's id.
    UserId
);
typed_id!(
    /// An entry's id.
    EntryId
);
typed_id!(
    /// A personal access token's id (not the token: what lists and revocation name it by).
    PersonalTokenId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_hex() {
        let id = ObjectId::new();
        assert_eq!(ObjectId::parse(&id.to_hex()), Some(id));
        assert_eq!(id.to_hex().len(), 24);
    }

    #[test]
    fn hex_is_lowercase_and_matches_the_bytes() {
        let id = ObjectId::from_bytes([0x50, 0x7f, 0x1f, 0x77, 0xbc, 0xf8, 0x6c, 0xd7, 0x99, 0x43, 0x90, 0x11]);
        assert_eq!(id.to_hex(), "507f1f77bcf86cd799439011");
        assert_eq!(id.to_string(), "507f1f77bcf86cd799439011");
        assert_eq!(UserId(id).to_string(), hex::encode(id.bytes()));
        assert_eq!(
            serde_json::to_string(&id).ok().as_deref(),
            Some("\"507f1f77bcf86cd799439011\"")
        );
    }

    #[test]
    fn consecutive_ids_differ_and_sort_by_creation() {
        let a = ObjectId::new();
        let b = ObjectId::new();
        assert_ne!(a, b);
        assert!(a < b || a.bytes()[..4] != b.bytes()[..4]);
    }

    #[test]
    fn refuses_malformed_ids() {
        for bad in [
            "",
            "123",
            "zzzzzzzzzzzzzzzzzzzzzzzz",
            "507f1f77bcf86cd7994390111",
            "507f1f77bcf86cd79943901",
        ] {
            assert_eq!(ObjectId::parse(bad), None, "{bad}");
        }
        assert!(ObjectId::parse("507F1F77BCF86CD799439011").is_some());
    }
}
