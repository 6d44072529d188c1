//! MongoDB-only tests.
