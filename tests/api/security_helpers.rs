//! TestApp helpers for the two-factor, administration and registration routes (one per route),
//! and the TOTP codes a test computes from a secret, at the time it chooses.

use chrono::{DateTime, TimeDelta, Utc};
use healthtracker::domain::clock::Clock;
use healthtracker::domain::user::Email;
use healthtracker::storage::security::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp};

/// The code an authenticator app shows for `secret` at `at`.
pub fn code_at(secret: &str, at: DateTime<Utc>) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base32 secret"))
        .build()
        .expect("TOTP");
    totp.generate(at.timestamp() as u64).to_string()
}

/// A six-digit code that is not the right one at `at`.
pub fn wrong_code(secret: &str, at: DateTime<Utc>) -> &'static str {
    if code_at(secret, at) == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// A fixed clock on the start of a 30-second step (so ±1 step is unambiguous).
pub fn step_clock() -> (Clock, DateTime<Utc>) {
    let now = Utc::now().timestamp();
    let at = DateTime::from_timestamp(now - now.rem_euclid(30), 0).expect("time");
    (Clock::fixed(at), at)
}

pub const STEP: TimeDelta = TimeDelta::seconds(30);

impl TestApp {
    async fn send_json(&self, method: Method, path: &str, access: Option<&str>, body: Option<&Value>) -> Response {
        let mut request = self.request(method, path);
        if let Some(access) = access {
            request = request.bearer_auth(access);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    pub async fn two_factor_setup(&self, access: &str, password: &str) -> Response {
        self.send_json(
            Method::POST,
            "/api/auth/2fa/setup",
            Some(access),
            Some(&json!({ "password": password })),
        )
        .await
    }

    pub async fn two_factor_enable(&self, access: &str, code: &str) -> Response {
        self.send_json(
            Method::POST,
            "/api/auth/2fa/enable",
            Some(access),
            Some(&json!({ "code": code })),
        )
        .await
    }

    pub async fn two_factor_disable(&self, access: &str, body: &Value) -> Response {
        self.send_json(Method::POST, "/api/auth/2fa/disable", Some(access), Some(body))
            .await
    }

    pub async fn login_2fa(&self, body: &Value) -> Response {
        self.send_json(Method::POST, "/api/auth/login/2fa", None, Some(body))
            .await
    }

    /// A password login that must answer with a challenge: the challenge.
    pub async fn challenge(&self, email: &str) -> String {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("login body");
        assert_eq!(body["twoFactorRequired"], true, "{body}");
        assert!(body.get("accessToken").is_none(), "{body}");
        body["challengeToken"].as_str().expect("challengeToken").to_owned()
    }

    /// Sets up and enables 2FA for `session` at `at` (the app's clock): the secret and the recovery codes.
    pub async fn enable_two_factor(&self, session: &Session, at: DateTime<Utc>) -> (String, Vec<String>) {
        let response = self.two_factor_setup(&session.access, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("setup body");
        let secret = body["secret"].as_str().expect("secret").to_owned();
        let response = self.two_factor_enable(&session.access, &code_at(&secret, at)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("enable body");
        let codes = body["recoveryCodes"]
            .as_array()
            .expect("recoveryCodes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        (secret, codes)
    }

    /// A new user with 2FA enabled at `start`, the clock then moved ten steps on (so the enabling
    /// code is out of the drift window): the session, the secret and the clock's time.
    pub async fn two_factor_user(&self, clock: &Clock, start: DateTime<Utc>) -> (Session, String, DateTime<Utc>) {
        let session = self.signup().await;
        let (secret, _) = self.enable_two_factor(&session, start).await;
        let now = start + STEP * 10;
        clock.set(now);
        (session, secret, now)
    }

    // --- admin ----------------------------------------------------------------------------------

    /// Makes the user an administrator, as `healthtracker admin grant` does.
    pub async fn make_admin(&self, email: &str) {
        let user = self
            .store
            .user_by_email(&Email::from_stored(email.to_owned()))
            .await
            .expect("store")
            .expect("user");
        assert!(self.store.set_role(user.id, Role::Admin).await.expect("store"));
    }

    /// A new user made administrator.
    pub async fn admin(&self) -> Session {
        let session = self.signup().await;
        self.make_admin(&session.email).await;
        session
    }

    pub async fn admin_users(&self, access: &str, query: &str) -> Response {
        self.send_json(Method::GET, &format!("/api/admin/users{query}"), Some(access), None)
            .await
    }

    pub async fn admin_disable(&self, access: &str, id: &str) -> Response {
        self.send_json(
            Method::POST,
            &format!("/api/admin/users/{id}/disable"),
            Some(access),
            None,
        )
        .await
    }

    pub async fn admin_enable(&self, access: &str, id: &str) -> Response {
        self.send_json(
            Method::POST,
            &format!("/api/admin/users/{id}/enable"),
            Some(access),
            None,
        )
        .await
    }

    pub async fn admin_delete_user(&self, access: &str, id: &str) -> Response {
        self.send_json(Method::DELETE, &format!("/api/admin/users/{id}"), Some(access), None)
            .await
    }

    pub async fn create_invite(&self, access: &str, body: &Value) -> Response {
        self.send_json(Method::POST, "/api/admin/invites", Some(access), Some(body))
            .await
    }

    /// An invite that must be created: its code.
    pub async fn invite_code(&self, access: &str, body: &Value) -> String {
        let response = self.create_invite(access, body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("invite body");
        body["code"].as_str().expect("code").to_owned()
    }

    pub async fn invites(&self, access: &str) -> Response {
        self.send_json(Method::GET, "/api/admin/invites", Some(access), None)
            .await
    }

    pub async fn delete_invite(&self, access: &str, code: &str) -> Response {
        self.send_json(
            Method::DELETE,
            &format!("/api/admin/invites/{code}"),
            Some(access),
            None,
        )
        .await
    }

    /// `DELETE /auth/me` with any body.
    pub async fn delete_me_with(&self, access: &str, body: &Value) -> Response {
        self.send_json(Method::DELETE, "/api/auth/me", Some(access), Some(body))
            .await
    }

    pub async fn change_password_with(&self, access: &str, body: &Value) -> Response {
        self.send_json(Method::POST, "/api/auth/change-password", Some(access), Some(body))
            .await
    }
}

/// An error answer's message.
pub async fn message(response: Response) -> String {
    let body: Value = response.json().await.expect("JSON body");
    body["message"].as_str().unwrap_or_default().to_owned()
}
