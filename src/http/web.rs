//! The project's own web app (API.md "The web app"): `GET /` answers a browser with the app and a
//! JSON client with a small index; `/app/{page}` serves the same page shell for every page of the
//! app (it routes in the browser); `/app/assets/{file}` serves its scripts, styles and icon.
//!
//! The assets are in the repository (`assets/web/`) and compiled into the binary: no Node step, no
//! CDN. Each is served under a name carrying a hash of its content (`app.3f2a….js`), so it can be
//! cached for a year and a new build is fetched at once; the shell is revalidated on every visit.
//! The app's scripts are separate files in the repository, served as one (in the order of
//! [`SCRIPTS`]); a page or a section of a page is one more file here. The shell runs under a strict
//! Content-Security-Policy: scripts and styles from this server only, no inline code.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conditional::{IfNoneMatch, etag_of};
use super::envelope::{ErrorBody, Success};
use super::error::ApiError;
use super::extract::PathParam;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(index))
        .routes(routes!(app_home))
        .routes(routes!(app_page))
        .routes(routes!(app_asset))
}

/// The app's scripts, in the order they run. Each adds to the one `HT` namespace: `core/` first
/// (elements, the API client, feature detection, forms, the router), then the pages, then the
/// sections of the account page that appear when the server has their routes, then `main.js`.
const SCRIPTS: &[(&str, &str)] = &[
    ("core/dom.js", include_str!("../../assets/web/js/core/dom.js")),
    ("core/api.js", include_str!("../../assets/web/js/core/api.js")),
    ("core/features.js", include_str!("../../assets/web/js/core/features.js")),
    ("core/forms.js", include_str!("../../assets/web/js/core/forms.js")),
    ("core/router.js", include_str!("../../assets/web/js/core/router.js")),
    ("pages/auth.js", include_str!("../../assets/web/js/pages/auth.js")),
    ("pages/today.js", include_str!("../../assets/web/js/pages/today.js")),
    ("pages/log.js", include_str!("../../assets/web/js/pages/log.js")),
    ("pages/history.js", include_str!("../../assets/web/js/pages/history.js")),
    ("pages/trends.js", include_str!("../../assets/web/js/pages/trends.js")),
    ("pages/coach.js", include_str!("../../assets/web/js/pages/coach.js")),
    ("pages/account.js", include_str!("../../assets/web/js/pages/account.js")),
    (
        "sections/goals.js",
        include_str!("../../assets/web/js/sections/goals.js"),
    ),
    (
        "sections/two-factor.js",
        include_str!("../../assets/web/js/sections/two-factor.js"),
    ),
    (
        "sections/devices.js",
        include_str!("../../assets/web/js/sections/devices.js"),
    ),
    (
        "sections/tokens.js",
        include_str!("../../assets/web/js/sections/tokens.js"),
    ),
    ("main.js", include_str!("../../assets/web/js/main.js")),
];

/// The app's pages (the first segment after `/app/`); any other name gets the shell too, and the
/// app says "page not found".
pub const PAGES: &[&str] = &[
    "today", "log", "history", "trends", "coach", "account", "login", "register",
];

/// Scripts and styles from this server only, nothing inline; requests only to this server; no
/// plugins, no framing, forms post only here.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

const SHELL: &str = include_str!("../../assets/web/index.html");

/// One asset as served: its hashed name, type, bytes and validator.
struct Asset {
    content_type: &'static str,
    body: Bytes,
    etag: HeaderValue,
}

struct Bundle {
    /// By hashed name (`app.3f2a9c01b2d4.js`).
    assets: HashMap<String, Asset>,
    shell: Bytes,
    shell_etag: HeaderValue,
}

/// `stem.<12 hex digits of the content's hash>.ext`.
fn hashed_name(logical: &str, body: &[u8]) -> String {
    let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(body));
    match logical.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{}.{ext}", &hash[..12]),
        None => format!("{logical}.{}", &hash[..12]),
    }
}

static BUNDLE: LazyLock<Bundle> = LazyLock::new(|| {
    let mut script = String::with_capacity(SCRIPTS.iter().map(|(_, s)| s.len() + 64).sum());
    for (file, source) in SCRIPTS {
        script.push_str("/* ");
        script.push_str(file);
        script.push_str(" */\n");
        script.push_str(source);
        script.push('\n');
    }
    let files: [(&str, &'static str, Bytes); 5] = [
        ("app.js", "text/javascript; charset=utf-8", Bytes::from(script)),
        (
            "app.css",
            "text/css; charset=utf-8",
            Bytes::from_static(include_bytes!("../../assets/web/app.css")),
        ),
        (
            "uplot.js",
            "text/javascript; charset=utf-8",
            Bytes::from_static(include_bytes!("../../assets/web/vendor/uplot/uPlot.iife.min.js")),
        ),
        (
            "uplot.css",
            "text/css; charset=utf-8",
            Bytes::from_static(include_bytes!("../../assets/web/vendor/uplot/uPlot.min.css")),
        ),
        (
            "icon.svg",
            "image/svg+xml",
            Bytes::from_static(include_bytes!("../../assets/web/icon.svg")),
        ),
    ];
    let mut shell = SHELL.replace("{{version}}", env!("CARGO_PKG_VERSION"));
    let mut assets = HashMap::new();
    for (logical, content_type, body) in files {
        let name = hashed_name(logical, &body);
        shell = shell.replace(&format!("{{{{{logical}}}}}"), &format!("/app/assets/{name}"));
        let etag = etag_of(&body);
        assets.insert(
            name,
            Asset {
                content_type,
                body,
                etag,
            },
        );
    }
    let shell = Bytes::from(shell);
    let shell_etag = etag_of(&shell);
    Bundle {
        assets,
        shell,
        shell_etag,
    }
});

/// Whether the client prefers HTML to JSON (`Accept`, with q-values): a browser asks for
/// `text/html` first; curl (`*/*`), scripts and API clients get JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut html = (0.0_f32, 0_u8);
    let mut json = (0.0_f32, 0_u8);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        // The most specific range that matches decides each type's weight.
        let specificity = |exact: &str, family: &str| match media.as_str() {
            m if m == exact => 3,
            m if m == family => 2,
            "*/*" => 1,
            _ => 0,
        };
        for (weight, exact, family) in [
            (&mut html, "text/html", "text/*"),
            (&mut json, "application/json", "application/*"),
        ] {
            let s = specificity(exact, family);
            if s > weight.1 {
                *weight = (q, s);
            }
        }
    }
    html.0 > 0.0 && html.0 > json.0
}

/// `GET /` for a JSON client.
#[derive(Serialize, ToSchema)]
pub struct IndexResponse {
    status: Success,
    #[schema(example = "HealthTracker API")]
    name: &'static str,
    #[schema(example = "0.1.0")]
    version: &'static str,
    /// The interactive API documentation.
    #[schema(example = "/api/docs")]
    docs: &'static str,
    /// The health probe.
    #[schema(example = "/api/health")]
    health: &'static str,
    /// The web app.
    #[schema(example = "/app/")]
    app: &'static str,
}

/// This server: the web app for a browser, a small index for anyone else.
#[utoipa::path(
    get, path = "/", tag = "meta",
    responses((status = 200, description = "A browser (`Accept: text/html`) gets the web app; any other client this index",
        content(
            (IndexResponse = "application/json"),
            (String = "text/html"),
        ),
        headers(("Vary" = String, description = "`Accept`: the answer depends on it"))))
)]
async fn index(headers: HeaderMap, if_none_match: IfNoneMatch) -> Response {
    let mut response = if wants_html(&headers) {
        shell(&if_none_match)
    } else {
        Json(IndexResponse {
            status: Success::Success,
            name: "HealthTracker API",
            version: env!("CARGO_PKG_VERSION"),
            docs: "/api/docs",
            health: "/api/health",
            app: "/app/",
        })
        .into_response()
    };
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// The web app (its start page).
#[utoipa::path(
    get, path = "/app", tag = "app",
    params(("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer: 304 when it is still current")),
    responses(
        (status = 200, description = "The app's page (it routes in the browser)", content_type = "text/html", body = String),
        (status = 304, description = "Not modified"),
    )
)]
async fn app_home(if_none_match: IfNoneMatch) -> Response {
    shell(&if_none_match)
}

/// A page of the web app (today, log, history, trends, coach, account, login, register): the same
/// page shell, which draws the page named.
#[utoipa::path(
    get, path = "/app/{page}", tag = "app",
    params(
        ("page" = String, Path, description = "A page of the app, e.g. `today`"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer: 304 when it is still current"),
    ),
    responses(
        (status = 200, description = "The app's page", content_type = "text/html", body = String),
        (status = 304, description = "Not modified"),
    )
)]
async fn app_page(PathParam(_page): PathParam, if_none_match: IfNoneMatch) -> Response {
    shell(&if_none_match)
}

/// The shell: revalidated on every visit (`no-cache` with a strong `ETag`), so a new build's asset
/// names are seen at once.
fn shell(if_none_match: &IfNoneMatch) -> Response {
    let bundle = &*BUNDLE;
    if if_none_match.matches(&bundle.shell_etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, bundle.shell_etag.clone()),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::ETAG, bundle.shell_etag.clone()),
        ],
        bundle.shell.clone(),
    )
        .into_response()
}

/// A file of the web app, by its hashed name: cached for a year (a new build has new names).
#[utoipa::path(
    get, path = "/app/assets/{file}", tag = "app",
    params(("file" = String, Path, description = "An asset's hashed name, as the app's page links it",
            pattern = r"^[a-z]+\.[0-9a-f]{12}\.(js|css|svg)$")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript"),
            (String = "text/css"),
            (String = "image/svg+xml"),
        )),
        (status = 404, description = "No such file (an older build's name, say)", body = ErrorBody,
            example = json!({"status": "error", "message": "Route not found"})),
    )
)]
async fn app_asset(PathParam(file): PathParam, if_none_match: IfNoneMatch) -> Result<Response, ApiError> {
    let asset = BUNDLE.assets.get(&file).ok_or(ApiError::NotFound("Route not found"))?;
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    if if_none_match.matches(&asset.etag) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, asset.etag.clone()), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, cache),
            (header::ETAG, asset.etag.clone()),
        ],
        asset.body.clone(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn browsers_get_html_and_everyone_else_json() {
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        assert!(wants_html(&accept(chrome)));
        assert!(wants_html(&accept("text/html")));
        assert!(!wants_html(&HeaderMap::new()));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&accept("application/json")));
        assert!(!wants_html(&accept("application/json, text/html;q=0.5")));
        assert!(!wants_html(&accept("text/html;q=0")));
        assert!(wants_html(&accept("text/*, application/json;q=0.5")));
    }

    #[test]
    fn every_asset_the_shell_links_is_served_and_nothing_is_left_unreplaced() {
        let shell = std::str::from_utf8(&BUNDLE.shell).expect("UTF-8");
        assert!(!shell.contains("{{"), "{shell}");
        for name in BUNDLE.assets.keys() {
            assert!(shell.contains(&format!("/app/assets/{name}")), "{name} is not linked");
        }
        assert_eq!(BUNDLE.assets.len(), 5);
    }

    #[test]
    fn the_shell_has_no_inline_script_or_style() {
        let shell = std::str::from_utf8(&BUNDLE.shell).expect("UTF-8");
        for script in shell.split("<script").skip(1) {
            assert!(
                script.trim_start().starts_with("src="),
                "an inline script: <script{script}"
            );
        }
        assert!(!shell.contains("<style") && !shell.contains("style="), "inline style");
        assert!(!shell.contains(" on"), "an inline handler");
    }
}
