//! Which routes a personal access token may use: one decision per route (method and template, as
//! axum's `MatchedPath` shows it: the root mount's template, `/entries/{id}`, whichever mount was
//! called). The `AuthUser` extractor asks [`access_rule`] on every authenticated request; a test
//! walks every operation of the OpenAPI document (every route is registered there; axum cannot
//! list a router's routes) and fails on one without a decision, so a new route cannot be left out.

use axum::http::Method;
use serde_json::{Value, json};

use super::error::ApiError;
use super::openapi::{BEARER, PERSONAL_TOKEN};
use crate::auth::scopes::Scope;

/// What a route asks of a personal token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// No authentication (or its own, as `/metrics`): tokens are not looked at.
    Public,
    /// Login token, or a personal token with this scope.
    Needs(Scope),
    /// Login token, or any personal token: the route decides itself what each token may do (`/mcp`
    /// lists and runs only the tools the token's scopes allow).
    AuthAny,
    /// Login token only: the account itself (profile, password, sessions, tokens, two-factor,
    /// deletion, administration). A personal token is 403.
    AccountOnly,
}

/// The answer to a personal token on an [`Rule::AccountOnly`] route (or one with no decision).
pub const ACCOUNT_ONLY_MESSAGE: &str = "Personal access tokens cannot be used for this route";

/// A personal token without the scope a route or an MCP tool needs: 403 with the API's words.
pub fn lacks_scope(scope: Scope) -> ApiError {
    ApiError::Forbidden(format!("This token lacks the scope {scope}").into())
}

/// The rule of `method` on the route `template`; `None` for a route nobody decided (the extractor
/// then treats it as [`Rule::AccountOnly`], and the route-walk test fails).
pub fn access_rule(method: &Method, template: &str) -> Option<Rule> {
    use Rule::{AccountOnly, AuthAny, Needs, Public};
    use Scope::{Ai, EntriesRead, EntriesWrite, GoalsRead, GoalsWrite};
    let m = method.as_str();
    let rule = match (m, template) {
        // Registration and login: no token yet. `/auth/logout` ends a login, which a personal
        // token is not (it is revoked with `DELETE /auth/tokens/{id}`), and with no refresh token
        // given it ends all of the user's logins: a login's token only.
        ("POST", "/auth/register" | "/auth/login" | "/auth/refresh" | "/auth/login/2fa") => Public,
        ("POST", "/auth/logout" | "/auth/logout-all" | "/auth/change-password") => AccountOnly,
        ("GET" | "PATCH" | "DELETE", "/auth/me") => AccountOnly,
        ("GET", "/auth/sessions") | ("DELETE", "/auth/sessions/{id}") => AccountOnly,
        ("GET" | "POST", "/auth/tokens") | ("DELETE", "/auth/tokens/{id}") => AccountOnly,
        (_, path) if path.starts_with("/auth/2fa/") || path.starts_with("/admin/") => AccountOnly,

        ("GET", "/entries" | "/entries/{id}" | "/entries/dashboard/summary" | "/entries/stats") => Needs(EntriesRead),
        ("GET", "/export") => Needs(EntriesRead),
        ("POST", "/entries") | ("PUT" | "DELETE", "/entries/{id}") => Needs(EntriesWrite),
        ("POST", "/import" | "/import/apple-health" | "/import/health-auto-export") => Needs(EntriesWrite),
        ("GET", "/goals") => Needs(GoalsRead),
        ("PUT", "/goals") => Needs(GoalsWrite),
        ("POST", "/ai/chat" | "/ai/weekly-report") => Needs(Ai),
        ("GET" | "DELETE", "/ai/history") | ("GET", "/ai/job-status/{job_id}") => Needs(Ai),

        (_, "/mcp") => AuthAny,

        ("GET", "/health" | "/health/live" | "/openapi.json" | "/docs" | "/docs/assets/{file}") => Public,
        // Its own token (`METRICS_TOKEN`), never an account's.
        ("GET", "/metrics") => Public,
        ("GET", "/" | "/app" | "/app/{page}" | "/app/assets/{file}") => Public,
        _ => return None,
    };
    Some(rule)
}

/// The OpenAPI operations' side of the table: an operation a personal token may call lists the
/// `personalToken` scheme (with the scope it needs) next to `bearerAuth`; every operation behind
/// `bearerAuth` documents its 403 for a personal token.
pub fn document_personal_tokens(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (template, operations) in paths.iter_mut() {
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            let Some(operation) = operation.as_object_mut() else {
                continue;
            };
            let Some(security) = operation.get_mut("security").and_then(Value::as_array_mut) else {
                continue;
            };
            if !security.iter().any(|scheme| scheme.get(BEARER).is_some()) {
                continue;
            }
            let (scopes, forbidden) = match access_rule(&method, template) {
                Some(Rule::Needs(scope)) => (Some(vec![scope.as_str()]), lacks_scope(scope).to_string()),
                Some(Rule::AuthAny) => (Some(Vec::new()), ACCOUNT_ONLY_MESSAGE.to_owned()),
                _ => (None, ACCOUNT_ONLY_MESSAGE.to_owned()),
            };
            let description = match &scopes {
                Some(_) => "A personal access token without the scope this route needs",
                None => "A personal access token: this route takes a login's token only",
            };
            if let Some(scopes) = scopes {
                security.push(json!({ PERSONAL_TOKEN: scopes }));
            }
            if let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) {
                responses.entry("403").or_insert_with(|| {
                    json!({
                        "description": description,
                        "content": { "application/json": {
                            "schema": { "$ref": "#/components/schemas/ErrorBody" },
                            "example": { "status": "error", "message": forbidden }
                        }}
                    })
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_the_contract() {
        let rule = |m: Method, t: &str| access_rule(&m, t);
        assert_eq!(rule(Method::GET, "/entries"), Some(Rule::Needs(Scope::EntriesRead)));
        assert_eq!(rule(Method::POST, "/entries"), Some(Rule::Needs(Scope::EntriesWrite)));
        assert_eq!(
            rule(Method::DELETE, "/entries/{id}"),
            Some(Rule::Needs(Scope::EntriesWrite))
        );
        assert_eq!(rule(Method::PUT, "/goals"), Some(Rule::Needs(Scope::GoalsWrite)));
        assert_eq!(rule(Method::GET, "/ai/history"), Some(Rule::Needs(Scope::Ai)));
        assert_eq!(rule(Method::POST, "/auth/tokens"), Some(Rule::AccountOnly));
        assert_eq!(rule(Method::POST, "/auth/2fa/setup"), Some(Rule::AccountOnly));
        assert_eq!(rule(Method::GET, "/admin/users"), Some(Rule::AccountOnly));
        assert_eq!(rule(Method::POST, "/mcp"), Some(Rule::AuthAny));
        assert_eq!(rule(Method::PATCH, "/entries/{id}"), None);
        assert_eq!(
            rule(Method::GET, "/api/entries"),
            None,
            "templates are the root mount's"
        );
    }
}
