//! Where a route is mounted (`/api` or the root) and the path inside it: the router holds each
//! route once and serves it under both mounts.

use axum::extract::{OriginalUri, Request};
use axum::http::Uri;

/// Where a route is mounted: every route is served under `/api` and at the root.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mount {
    Api,
    Root,
}

/// The mount and the route path inside it, without a trailing slash (as Express ignored it):
/// `/api/entries/` → (`Api`, `/entries`).
pub fn split_mount(path: &str) -> (Mount, &str) {
    let (mount, rest) = match path.strip_prefix("/api") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (Mount::Api, rest),
        _ => (Mount::Root, path),
    };
    let trimmed = rest.trim_end_matches('/');
    (mount, if trimmed.is_empty() { "/" } else { trimmed })
}

/// Routes the request by its path inside the mount, so the router holds each route once. The
/// original URI stays available (`OriginalUri`) for pages that link to their own mount.
pub(super) fn normalize_path(request: &mut Request) {
    let (_, path) = split_mount(request.uri().path());
    if path != request.uri().path() {
        let original = request.uri().clone();
        let mut parts = original.clone().into_parts();
        let rewritten = match original.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        if let Ok(path_and_query) = rewritten.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
        // Otherwise the router records the (unchanged) URI itself.
        request.extensions_mut().insert(OriginalUri(original));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_and_trailing_slashes() {
        assert_eq!(split_mount("/api/entries/"), (Mount::Api, "/entries"));
        assert_eq!(split_mount("/api"), (Mount::Api, "/"));
        assert_eq!(split_mount("/apiary"), (Mount::Root, "/apiary"));
        assert_eq!(split_mount("/health//"), (Mount::Root, "/health"));
        assert_eq!(split_mount("/"), (Mount::Root, "/"));
    }
}
