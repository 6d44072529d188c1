//! Two-factor login (TOTP): setup and enabling, the login's second step, drift, replays on another
//! instance, recovery codes, the challenge's one use and five minutes, the throttle, the step-up.
//! Each app stands on a fixed clock at the start of a 30-second step; codes are computed here.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;
use crate::security_helpers::*;

api_test!(
    async fn setup_needs_the_password_and_enabling_needs_a_valid_code(backend) {
        let (clock, now) = step_clock();
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let session = app.signup().await;
        let response = app.two_factor_setup(&session.access, "Wrong-password-1").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(message(response).await, "Password is incorrect");
        let response = app.two_factor_enable(&session.access, "123456").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "enable before setup");

        let body = json_body(app.two_factor_setup(&session.access, PASSWORD).await, StatusCode::OK).await;
        let secret = body["secret"].as_str().expect("secret").to_owned();
        let url = body["otpauthUrl"].as_str().expect("otpauthUrl");
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains(&format!("secret={secret}")), "{url}");
        // Not on until a code confirms it.
        let me = json_body(app.me(&session.access).await, StatusCode::OK).await;
        assert_eq!(me["user"]["twoFactor"], false);

        let wrong = wrong_code(&secret, now);
        let response = app.two_factor_enable(&session.access, wrong).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(message(response).await, "Invalid two-factor code");
        let body = json_body(
            app.two_factor_enable(&session.access, &code_at(&secret, now)).await,
            StatusCode::OK,
        )
        .await;
        let codes = body["recoveryCodes"].as_array().expect("codes");
        assert_eq!(codes.len(), 10);
        let me = json_body(app.me(&session.access).await, StatusCode::OK).await;
        assert_eq!(me["user"]["twoFactor"], true);
        assert_eq!(me["user"]["role"], "user");
        // The recovery codes are stored hashed, never as shown.
        if let Some(path) = &app.database.sqlite_path {
            let db = rusqlite::Connection::open(path).expect("open");
            let first = codes[0].as_str().expect("code");
            let found: i64 = db
                .query_row("SELECT count(*) FROM recovery_codes WHERE code_hash = ?1", [first], |r| r.get(0))
                .expect("count");
            assert_eq!(found, 0);
        }
        // A second setup is refused while it is on.
        let response = app.two_factor_setup(&session.access, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
    }
);

api_test!(
    async fn a_login_with_two_factor_gives_nothing_until_the_code_is_right(backend) {
        let (clock, now) = step_clock();
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let session = app.signup().await;
        let (secret, _) = app.enable_two_factor(&session, now).await;
        clock.set(now + STEP * 10);

        let challenge = app.challenge(&session.email).await;
        // The challenge authenticates nothing.
        let response = app.me(&challenge).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = app.login_2fa(&json!({ "challengeToken": challenge })).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "no code");
        let response = app
            .login_2fa(&json!({ "challengeToken": "0".repeat(64), "code": code_at(&secret, now + STEP * 10) }))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "unknown challenge");

        let body = json_body(
            app.login_2fa(&json!({ "challengeToken": challenge, "code": code_at(&secret, now + STEP * 10) }))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(body["message"], "Login successful");
        assert_eq!(body["token"], body["accessToken"]);
        let access = body["accessToken"].as_str().expect("access");
        // The login is in the session list like a password login.
        let sessions = json_body(app.sessions(access).await, StatusCode::OK).await;
        assert_eq!(sessions["count"], 2);
        assert!(sessions["data"].as_array().expect("data").iter().any(|s| s["current"] == true));
        // Its refresh token works as any other.
        let refresh = body["refreshToken"].as_str().expect("refresh");
        let response = app.refresh(&json!({ "refreshToken": refresh })).await;
        assert_eq!(response.status(), StatusCode::OK);
        // The root mount serves the second step too.
        let challenge = app.challenge(&session.email).await;
        clock.set(now + STEP * 11);
        let response = app
            .post("/auth/login/2fa")
            .json(&json!({ "challengeToken": challenge, "code": code_at(&secret, now + STEP * 11) }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
    }
);

api_test!(
    async fn one_step_of_drift_either_way_is_accepted_and_two_are_refused(backend) {
        let (clock, start) = step_clock();
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let (session, secret, now) = app.two_factor_user(&clock, start).await;

        let challenge = app.challenge(&session.email).await;
        for (drift, status) in [(-2, StatusCode::BAD_REQUEST), (-1, StatusCode::OK)] {
            let code = code_at(&secret, now + STEP * drift);
            let response = app.login_2fa(&json!({ "challengeToken": challenge, "code": code })).await;
            assert_eq!(response.status(), status, "{drift} steps");
        }
        let challenge = app.challenge(&session.email).await;
        for (drift, status) in [(2, StatusCode::BAD_REQUEST), (1, StatusCode::OK)] {
            let code = code_at(&secret, now + STEP * drift);
            let response = app.login_2fa(&json!({ "challengeToken": challenge, "code": code })).await;
            assert_eq!(response.status(), status, "{drift} steps");
        }
    }
);

api_test!(
    async fn a_code_is_accepted_once_even_on_a_second_instance(backend) {
        let (clock, start) = step_clock();
        let first = TestApp::builder(backend).clock(&clock).spawn().await;
        let second = TestApp::builder(backend)
            .clock(&clock)
            .database(first.database.clone())
            .spawn()
            .await;
        let (session, secret, now) = first.two_factor_user(&clock, start).await;
        let code = code_at(&secret, now);

        let challenge = first.challenge(&session.email).await;
        let response = first.login_2fa(&json!({ "challengeToken": challenge, "code": code })).await;
        assert_eq!(response.status(), StatusCode::OK);
        // The same code in the same window, on the other instance: a replay.
        let challenge = second.challenge(&session.email).await;
        let response = second.login_2fa(&json!({ "challengeToken": challenge, "code": code })).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(message(response).await, "Invalid two-factor code");
        // So is an earlier code still inside the drift window.
        let earlier = code_at(&secret, now - STEP);
        let response = second.login_2fa(&json!({ "challengeToken": challenge, "code": earlier })).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        // The next step's code works.
        clock.set(now + STEP);
        let response = second
            .login_2fa(&json!({ "challengeToken": challenge, "code": code_at(&secret, now + STEP) }))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
);

api_test!(
    async fn a_recovery_code_works_once_ever(backend) {
        let (clock, start) = step_clock();
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let session = app.signup().await;
        let (_, codes) = app.enable_two_factor(&session, start).await;

        let challenge = app.challenge(&session.email).await;
        // Typed in capitals and without the dash, it is the same code.
        let typed = codes[0].to_uppercase().replace('-', "");
        let response = app.login_2fa(&json!({ "challengeToken": challenge, "recoveryCode": typed })).await;
        assert_eq!(response.status(), StatusCode::OK);
        let challenge = app.challenge(&session.email).await;
        let response = app
            .login_2fa(&json!({ "challengeToken": challenge, "recoveryCode": codes[0] }))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "used before");
        let response = app
            .login_2fa(&json!({ "challengeToken": challenge, "recoveryCode": codes[1] }))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
);

api_test!(
    async fn the_challenge_expires_after_five_minutes(backend) {
        let (clock, start) = step_clock();
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let (session, secret, now) = app.two_factor_user(&clock, start).await;
        let challenge = app.challenge(&session.email).await;
        let later = now + chrono::TimeDelta::seconds(5 * 60 + 1);
        clock.set(later);
        let response = app
            .login_2fa(&json!({ "challengeToken": challenge, "code": code_at(&secret, later) }))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(message(response).await.contains("challenge"));
    }
);

api_test!(
    async fn the_challenge_works_once_on_any_instance(backend) {
        let (clock, start) = step_clock();
        let first = TestApp::builder(backend).clock(&clock).spawn().await;
        let second = TestApp::builder(backend)
            .clock(&clock)
            .database(first.database.clone())
            .spawn()
            .await;
        let (session, secret, now) = first.two_factor_user(&clock, start).await;
        let challenge = first.challenge(&session.email).await;
        let response = first
            .login_2fa(&json!({ "challengeToken": challenge, "code": code_at(&secret, now) }))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        clock.set(now + STEP);
        let response = second
            .login_2fa(&json!({ "challengeToken": challenge, "code": code_at(&secret, now + STEP) }))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(message(response).await.contains("challenge"));
    }
);

api_test!(
    async fn wrong_codes_count_as_failed_logins(backend) {
        let (clock, start) = step_clock();
        let app = TestApp::builder(backend)
            .clock(&clock)
            .env("LOGIN_MAX_FAILURES", "3")
            .spawn()
            .await;
        let (session, secret, now) = app.two_factor_user(&clock, start).await;
        let right = code_at(&secret, now);
        let wrong = wrong_code(&secret, now);
        let challenge = app.challenge(&session.email).await;
        for _ in 0..3 {
            let response = app.login_2fa(&json!({ "challengeToken": challenge, "code": wrong })).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        }
        let response = app.login_2fa(&json!({ "challengeToken": challenge, "code": right })).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        // The password login is throttled as well: the same counter.
        let response = app.login(&session.email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);

api_test!(
    async fn a_right_password_does_not_reset_the_count_of_wrong_codes(backend) {
        let (clock, start) = step_clock();
        let app = TestApp::builder(backend)
            .clock(&clock)
            .env("LOGIN_MAX_FAILURES", "3")
            .spawn()
            .await;
        let (session, secret, now) = app.two_factor_user(&clock, start).await;
        let wrong = wrong_code(&secret, now);
        for _ in 0..3 {
            let challenge = app.challenge(&session.email).await;
            let response = app.login_2fa(&json!({ "challengeToken": challenge, "code": wrong })).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        }
        let response = app.login(&session.email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);

api_test!(
    async fn step_up_guards_password_change_deletion_and_disabling(backend) {
        let (clock, start) = step_clock();
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let (session, secret, mut now) = app.two_factor_user(&clock, start).await;
        let new_password = "Another-secret-2";
        let wrong = wrong_code(&secret, now);

        let change = json!({ "currentPassword": PASSWORD, "newPassword": new_password });
        let response = app.change_password_with(&session.access, &change).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(message(response).await.starts_with("Two-factor code required"));
        let mut with_code = change.clone();
        with_code["code"] = json!(wrong);
        let response = app.change_password_with(&session.access, &with_code).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(message(response).await, "Invalid two-factor code");
        with_code["code"] = json!(code_at(&secret, now));
        let body = json_body(app.change_password_with(&session.access, &with_code).await, StatusCode::OK).await;
        let access = body["accessToken"].as_str().expect("access").to_owned();

        let response = app.delete_me_with(&access, &json!({ "password": new_password })).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(message(response).await.starts_with("Two-factor code required"));

        let response = app.two_factor_disable(&access, &json!({ "password": new_password })).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        now += STEP;
        clock.set(now);
        let response = app
            .two_factor_disable(&access, &json!({ "password": PASSWORD, "code": code_at(&secret, now) }))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "old password");
        let response = app
            .two_factor_disable(&access, &json!({ "password": new_password, "code": code_at(&secret, now) }))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let me = json_body(app.me(&access).await, StatusCode::OK).await;
        assert_eq!(me["user"]["twoFactor"], false);
        // Off: the password alone logs in, and deletion needs no code.
        let body = json_body(app.login(&session.email, new_password).await, StatusCode::OK).await;
        assert!(body["accessToken"].is_string());
        let response = app.delete_me_with(&access, &json!({ "password": new_password })).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
);

api_test!(
    async fn accounts_without_two_factor_log_in_as_before(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body: Value = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        assert!(body["accessToken"].is_string());
        assert!(body.get("twoFactorRequired").is_none());
        let me = json_body(app.me(&session.access).await, StatusCode::OK).await;
        assert_eq!(me["user"]["twoFactor"], false);
        assert_eq!(me["user"]["role"], "user");
        // Deletion and password change need no code.
        let response = app.delete_me(&session.access, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
);
