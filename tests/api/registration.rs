//! `REGISTRATION=open|invite|closed`, and invite codes with uses and an expiry.

use healthtracker::domain::clock::Clock;
use reqwest::StatusCode;
use serde_json::json;

use crate::api_test;
use crate::helpers::*;
use crate::security_helpers::*;

fn registration(invite: Option<&str>) -> serde_json::Value {
    let mut body = json!({
        "name": "Invited",
        "email": format!("invited-{}@example.com", hex_id()),
        "password": PASSWORD,
    });
    if let Some(code) = invite {
        body["inviteCode"] = json!(code);
    }
    body
}

api_test!(
    async fn closed_registration_refuses_everyone(backend) {
        let app = TestApp::builder(backend).env("REGISTRATION", "closed").spawn().await;
        let response = app.register(&registration(None)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(message(response).await, "Registration is closed");
    }
);

api_test!(
    async fn invite_registration_needs_a_code_with_uses_left(backend) {
        let open = TestApp::spawn(backend).await;
        let app = TestApp::builder(backend)
            .env("REGISTRATION", "invite")
            .database(open.database.clone())
            .spawn()
            .await;
        let admin = open.admin().await;
        for body in [registration(None), registration(Some("no-such-code"))] {
            let response = app.register(&body).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            assert_eq!(message(response).await, "A valid invite code is required");
        }
        let code = app.invite_code(&admin.access, &json!({ "uses": 2 })).await;
        for _ in 0..2 {
            let response = app.register(&registration(Some(&code))).await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let response = app.register(&registration(Some(&code))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "used up");
        // A taken e-mail does not use up a code.
        let code = app.invite_code(&admin.access, &json!({})).await;
        let mut taken = registration(Some(&code));
        taken["email"] = json!(admin.email);
        let response = app.register(&taken).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let response = app.register(&registration(Some(&code))).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        // A deleted invite admits no one.
        let code = app.invite_code(&admin.access, &json!({})).await;
        app.delete_invite(&admin.access, &code).await;
        let response = app.register(&registration(Some(&code))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
);

api_test!(
    async fn an_expired_invite_is_refused(backend) {
        let (clock, now) = step_clock();
        let (app, admin) = invite_app(backend, &clock, now).await;
        let code = app.invite_code(&admin.access, &json!({ "expiresInDays": 1 })).await;
        clock.set(now + chrono::TimeDelta::days(1) + chrono::TimeDelta::minutes(1));
        let response = app.register(&registration(Some(&code))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
);

api_test!(
    async fn an_invites_lifetime_runs_on_the_servers_clock(backend) {
        // A clock far from the machine's: an invite made on it must live its days on it (it was
        // stamped with the machine's time and so born expired, while redeemed on the clock).
        let now = chrono::Utc::now() + chrono::TimeDelta::days(400);
        let clock = Clock::fixed(now);
        let (app, admin) = invite_app(backend, &clock, now).await;
        let body = json_body(
            app.create_invite(&admin.access, &json!({ "expiresInDays": 2 })).await,
            StatusCode::CREATED,
        )
        .await;
        let expires: chrono::DateTime<chrono::Utc> =
            body["data"]["expiresAt"].as_str().expect("expiresAt").parse().expect("a timestamp");
        assert!((expires - (now + chrono::TimeDelta::days(2))).num_seconds().abs() <= 1, "{expires}");
        let list = json_body(app.invites(&admin.access).await, StatusCode::OK).await;
        assert_eq!(list["count"], 1);
        let code = body["code"].as_str().expect("code");
        clock.set(now + chrono::TimeDelta::days(1));
        let response = app.register(&registration(Some(code))).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
);

api_test!(
    async fn one_use_admits_exactly_one_of_two_concurrent_registrations(backend) {
        let app = TestApp::builder(backend).env("REGISTRATION", "invite").spawn().await;
        let admin = app.signup_invited_admin(chrono::Utc::now()).await;
        for _ in 0..3 {
            let code = app.invite_code(&admin.access, &json!({ "uses": 1 })).await;
            let (a, b) = (registration(Some(&code)), registration(Some(&code)));
            let (a, b) = tokio::join!(app.register(&a), app.register(&b));
            let mut statuses = [a.status(), b.status()];
            statuses.sort();
            assert_eq!(statuses, [StatusCode::CREATED, StatusCode::BAD_REQUEST]);
        }
    }
);

/// An app that registers by invitation on `clock` (now `now`), and its administrator.
async fn invite_app(backend: Backend, clock: &Clock, now: chrono::DateTime<chrono::Utc>) -> (TestApp, Session) {
    let app = TestApp::builder(backend)
        .env("REGISTRATION", "invite")
        .clock(clock)
        .spawn()
        .await;
    let admin = app.signup_invited_admin(now).await;
    (app, admin)
}

impl TestApp {
    /// An administrator on an app that registers by invitation: created with an operator's invite.
    /// `now` is the server's clock, as the operator's command reads it.
    async fn signup_invited_admin(&self, now: chrono::DateTime<chrono::Utc>) -> Session {
        let invite = healthtracker::auth::admin::create_invite(self.store.as_ref(), 1, 1, None, now)
            .await
            .expect("invite");
        let email = format!("admin-{}@example.com", hex_id());
        let body = json_body(
            self.register(&json!({ "name": "Admin", "email": email, "password": PASSWORD, "inviteCode": invite.code }))
                .await,
            StatusCode::CREATED,
        )
        .await;
        self.make_admin(&email).await;
        Session {
            user_id: body["userId"].as_str().expect("id").to_owned(),
            email,
            access: body["accessToken"].as_str().expect("access").to_owned(),
            refresh: body["refreshToken"].as_str().expect("refresh").to_owned(),
        }
    }
}

api_test!(
    async fn only_a_server_that_registers_by_invitation_documents_the_invite_code(backend) {
        for (mode, documented) in [("open", false), ("closed", false), ("invite", true)] {
            let app = TestApp::builder(backend).env("REGISTRATION", mode).spawn().await;
            let document = json_body(
                app.get("/api/openapi.json").send().await.expect("request"),
                StatusCode::OK,
            )
            .await;
            let properties = &document["components"]["schemas"]["RegisterRequest"]["properties"];
            assert_eq!(properties.get("inviteCode").is_some(), documented, "{mode}");
            assert!(properties.get("email").is_some());
        }
    }
);
