//! `/auth`: register, login, refresh, logout, and every token rule of API.md's auth section.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

api_test!(
    async fn register_returns_tokens_and_the_user(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.register(&json!({"name": "  Ada Lovelace ", "email": " Ada@Example.COM ", "password": PASSWORD})).await;
        let body = json_body(response, StatusCode::CREATED).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["message"], "User registered successfully");
        assert_eq!(body["token"], body["accessToken"]);
        assert!(body["refreshToken"].as_str().is_some_and(|t| t != body["accessToken"]));
        let id = body["userId"].as_str().unwrap_or_default();
        assert_eq!(id.len(), 24);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(body["user"], json!({"id": id, "name": "Ada Lovelace", "email": "ada@example.com"}));
    }
);

api_test!(
    async fn access_tokens_carry_the_documented_claims(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let access = claims(&session.access);
        assert_eq!(access["userId"], session.user_id.as_str());
        assert_eq!(access["type"], "access");
        assert!(access["jti"].as_str().is_some_and(|j| !j.is_empty()));
        let lifetime = access["exp"].as_i64().unwrap_or_default() - access["iat"].as_i64().unwrap_or_default();
        assert_eq!(lifetime, 15 * 60);
        let refresh = claims(&session.refresh);
        assert_eq!(refresh["type"], "refresh");
        let lifetime = refresh["exp"].as_i64().unwrap_or_default() - refresh["iat"].as_i64().unwrap_or_default();
        assert_eq!(lifetime, 7 * 24 * 60 * 60);
    }
);

api_test!(
    async fn register_lists_every_invalid_field_without_echoing_the_password(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.register(&json!({"name": "A", "email": "not-an-email", "password": "weakpass"})).await;
        let body = assert_invalid(response).await;
        assert_eq!(detail_paths(&body), ["name", "email", "password"]);
        assert_eq!(body["details"][1]["value"], "not-an-email");
        assert!(body["details"][2].get("value").is_none(), "password echoed: {body}");
        assert!(!body.to_string().contains("weakpass"));

        let response = app.register(&json!({})).await;
        let body = assert_invalid(response).await;
        assert_eq!(detail_paths(&body), ["name", "email", "password"]);
    }
);

api_test!(
    async fn register_enforces_the_password_rules(backend) {
        let app = TestApp::spawn(backend).await;
        // Under 12 characters the upper/lower/digit mix is required; over 128 is refused.
        for weak in ["Sh0rt", "alllower1", "ALLUPPER1", "NoDigitsA", &format!("Aa1{}", "x".repeat(126))] {
            let response = app.register(&json!({"name": "Ada", "email": format!("{}@example.com", hex_id()), "password": weak})).await;
            let body = assert_invalid(response).await;
            assert_eq!(detail_paths(&body), ["password"], "{weak}");
        }
    }
);

api_test!(
    async fn passphrases_unicode_case_and_character_lengths_count(backend) {
        let app = TestApp::spawn(backend).await;
        // A passphrase of 12+ characters needs no mix; `Ü`/`ß` count as letters of their case; the
        // length is counted in characters (six characters here, nine bytes).
        for good in ["correct horse battery", "tintin et milou", "Ünïcödé9x", "ÄäÖö12", "Secret123x"] {
            let response = app.register(&json!({"name": "Ada", "email": format!("{}@example.com", hex_id()), "password": good})).await;
            json_body(response, StatusCode::CREATED).await;
        }
    }
);

api_test!(
    async fn trivially_guessable_passwords_are_refused_with_a_reason(backend) {
        let app = TestApp::spawn(backend).await;
        for guessable in ["Password1", "Passw0rd", "Qwerty123", "passwordpassword"] {
            let response = app.register(&json!({"name": "Ada", "email": format!("{}@example.com", hex_id()), "password": guessable})).await;
            let body = assert_invalid(response).await;
            assert_eq!(detail_paths(&body), ["password"], "{guessable}");
            let why = body["details"][0]["msg"].as_str().unwrap_or_default();
            assert!(why.contains("guess"), "{guessable}: {why}");
            assert!(body["details"][0].get("value").is_none(), "password echoed: {body}");
        }
    }
);

api_test!(
    async fn existing_passwords_keep_working_whatever_they_are(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let user_id = healthtracker::domain::ids::UserId::parse(&session.user_id).expect("user id");
        // An account created before the policy, with a password it now refuses.
        let hasher = healthtracker::auth::password::PasswordHasher::new(1).expect("hasher");
        let hash = hasher.hash("Password1").await.expect("hash");
        app.store.set_password_hash(user_id, &hash).await.expect("store");
        json_body(app.login(&session.email, "Password1").await, StatusCode::OK).await;
    }
);

api_test!(
    async fn register_refuses_a_taken_email_case_insensitively(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let response = app.register(&json!({"name": "Other", "email": session.email.to_uppercase(), "password": PASSWORD})).await;
        assert_error(response, StatusCode::CONFLICT, "User already exists").await;
    }
);

api_test!(
    async fn register_sanitizes_the_name(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app
            .register(&json!({"name": "<script>alert(1)</script><b>Grace</b>", "email": "grace@example.com", "password": PASSWORD}))
            .await;
        let body = json_body(response, StatusCode::CREATED).await;
        assert_eq!(body["user"]["name"], "Grace");
    }
);

api_test!(
    async fn login_returns_the_same_fields_as_register(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = json_body(app.login(&session.email.to_uppercase(), PASSWORD).await, StatusCode::OK).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["message"], "Login successful");
        assert_eq!(body["token"], body["accessToken"]);
        assert_eq!(body["userId"], session.user_id.as_str());
        assert_eq!(body["user"]["email"], session.email.as_str());
        let access = body["accessToken"].as_str().unwrap_or_default();
        assert_eq!(app.list_entries(access, "").await.status(), StatusCode::OK);
    }
);

api_test!(
    async fn wrong_password_and_unknown_email_get_the_same_400(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let wrong = assert_error(app.login(&session.email, "Wrong1234").await, StatusCode::BAD_REQUEST, "Invalid credentials").await;
        let unknown =
            assert_error(app.login("nobody@example.com", PASSWORD).await, StatusCode::BAD_REQUEST, "Invalid credentials").await;
        assert_eq!(wrong, unknown);
    }
);

api_test!(
    async fn unknown_email_costs_about_as_much_as_a_wrong_password(backend) {
        // Not a performance assertion: a missing decoy hash would make unknown e-mails ~100x faster.
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let mut wrong = Vec::new();
        let mut unknown = Vec::new();
        for i in 0..5 {
            let started = std::time::Instant::now();
            app.login(&session.email, &format!("Wrong{i}234")).await;
            wrong.push(started.elapsed());
            let started = std::time::Instant::now();
            app.login(&format!("nobody{i}@example.com"), "Wrong1234").await;
            unknown.push(started.elapsed());
        }
        wrong.sort();
        unknown.sort();
        let (wrong, unknown) = (wrong[2].as_secs_f64(), unknown[2].as_secs_f64());
        assert!(unknown > wrong / 4.0, "unknown e-mail median {unknown:.4}s vs wrong password {wrong:.4}s");
    }
);

api_test!(
    async fn login_validation(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.post("/api/auth/login").json(&json!({"email": "nope"})).send().await.expect("login");
        let body = assert_invalid(response).await;
        assert_eq!(detail_paths(&body), ["email", "password"]);
    }
);

api_test!(
    async fn failed_logins_are_throttled_per_email(backend) {
        let app = TestApp::builder(backend).env("LOGIN_MAX_FAILURES", "3").spawn().await;
        let victim = app.signup().await;
        let bystander = app.signup().await;
        for _ in 0..3 {
            assert_error(app.login(&victim.email, "Wrong1234").await, StatusCode::BAD_REQUEST, "Invalid credentials").await;
        }
        // Even the right password is refused while the e-mail is throttled.
        let response = app.login(&victim.email, PASSWORD).await;
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        assert!(retry_after.is_some_and(|s| s > 0 && s <= 900), "{retry_after:?}");
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "Too many failed login attempts for this account, please try again later.")
            .await;
        // Other accounts are unaffected.
        json_body(app.login(&bystander.email, PASSWORD).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn a_successful_login_resets_the_failure_count(backend) {
        let app = TestApp::builder(backend).env("LOGIN_MAX_FAILURES", "2").spawn().await;
        let session = app.signup().await;
        app.login(&session.email, "Wrong1234").await;
        json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        app.login(&session.email, "Wrong1234").await;
        json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn auth_routes_are_rate_limited_per_ip(backend) {
        let app = TestApp::builder(backend).env("RATE_LIMIT_MAX_REQUESTS", "3").spawn().await;
        for i in 0..3 {
            let response = app.login("nobody@example.com", PASSWORD).await;
            assert_eq!(response.headers()["ratelimit-limit"], "3");
            assert_eq!(response.headers()["ratelimit-remaining"], (2 - i).to_string().as_str());
        }
        let response = app.refresh(&json!({"refreshToken": "x"})).await;
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(response.headers()["ratelimit-remaining"], "0");
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "Too many requests from this IP, please try again later.").await;
        // Entry routes are not limited.
        let response = app.get("/api/entries").send().await.expect("entries");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
);

api_test!(
    async fn forwarded_for_is_used_only_behind_a_trusted_proxy(backend) {
        for (trust, expect_second_client_allowed) in [("true", true), ("false", false)] {
            let app = TestApp::builder(backend).env("RATE_LIMIT_MAX_REQUESTS", "1").env("TRUST_PROXY", trust).spawn().await;
            let login = |ip: &'static str| {
                app.post("/api/auth/login")
                    .header("x-forwarded-for", ip)
                    .json(&json!({"email": "a@example.com", "password": "x"}))
                    .send()
            };
            assert_eq!(login("203.0.113.1").await.expect("login").status(), StatusCode::BAD_REQUEST);
            let second = login("203.0.113.2").await.expect("login").status();
            assert_eq!(second == StatusCode::BAD_REQUEST, expect_second_client_allowed, "TRUST_PROXY={trust}");
        }
    }
);

api_test!(
    async fn refresh_rotates_and_the_old_token_stops_working(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = json_body(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::OK).await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["token"], body["accessToken"]);
        let new_refresh = body["refreshToken"].as_str().unwrap_or_default().to_owned();
        assert_ne!(new_refresh, session.refresh);
        let new_access = body["accessToken"].as_str().unwrap_or_default();
        assert_eq!(app.list_entries(new_access, "").await.status(), StatusCode::OK);

        // The new refresh token works once too.
        let body = json_body(app.refresh(&json!({"refreshToken": new_refresh})).await, StatusCode::OK).await;
        assert!(body["refreshToken"].is_string());
    }
);

api_test!(
    async fn reusing_a_rotated_refresh_token_revokes_the_whole_family(backend) {
        // With no reuse interval, the first replay is already reuse.
        let app = TestApp::builder(backend).env("REFRESH_REUSE_INTERVAL_SECS", "0").spawn().await;
        let session = app.signup().await;
        let rotated = json_body(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::OK).await;
        let current = rotated["refreshToken"].as_str().unwrap_or_default().to_owned();

        // An attacker (or a confused client) presents the old token again.
        assert_error(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked")
            .await;
        // The legitimate holder's newer token is now dead too.
        assert_error(app.refresh(&json!({"refreshToken": current})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked").await;

        // Another login (another family) is unaffected.
        let other = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        json_body(app.refresh(&json!({"refreshToken": other["refreshToken"]})).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn without_a_reuse_interval_concurrent_use_lets_at_most_one_through(backend) {
        let app = TestApp::builder(backend).env("REFRESH_REUSE_INTERVAL_SECS", "0").spawn().await;
        let session = app.signup().await;
        let body = json!({"refreshToken": session.refresh});
        let (a, b) = tokio::join!(app.refresh(&body), app.refresh(&body));
        let ok = [a.status(), b.status()].iter().filter(|s| **s == StatusCode::OK).count();
        assert!(ok <= 1, "{} and {}", a.status(), b.status());
    }
);

api_test!(
    async fn two_tabs_refreshing_at_once_stay_logged_in(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = json!({"refreshToken": session.refresh});
        let (a, b) = tokio::join!(app.refresh(&body), app.refresh(&body));
        let (a, b) = (json_body(a, StatusCode::OK).await, json_body(b, StatusCode::OK).await);
        // One successor for both: the same refresh token, in the same session.
        assert_eq!(a["refreshToken"], b["refreshToken"]);
        for tab in [&a, &b] {
            let access = tab["accessToken"].as_str().unwrap_or_default();
            assert_eq!(app.list_entries(access, "").await.status(), StatusCode::OK);
            assert_eq!(claims(access)["userId"], session.user_id.as_str());
        }
        // Nothing was revoked: the successor refreshes.
        json_body(app.refresh(&json!({"refreshToken": a["refreshToken"]})).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn ten_concurrent_refreshes_mint_one_successor(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = json!({"refreshToken": session.refresh});
        let responses = futures::future::join_all((0..10).map(|_| app.refresh(&body))).await;
        let mut successors = std::collections::HashSet::new();
        for response in responses {
            let body = json_body(response, StatusCode::OK).await;
            successors.insert(body["refreshToken"].as_str().unwrap_or_default().to_owned());
        }
        assert_eq!(successors.len(), 1, "independent successors: {successors:?}");
        let successor = successors.into_iter().next().unwrap_or_default();
        let next = json_body(app.refresh(&json!({"refreshToken": successor})).await, StatusCode::OK).await;
        assert!(next["refreshToken"].is_string());
    }
);

api_test!(
    async fn a_replay_after_the_reuse_interval_revokes_the_family(backend) {
        let app = TestApp::builder(backend).env("REFRESH_REUSE_INTERVAL_SECS", "1").spawn().await;
        let session = app.signup().await;
        let rotated = json_body(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::OK).await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_error(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked")
            .await;
        assert_error(app.refresh(&json!({"refreshToken": rotated["refreshToken"]})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked")
            .await;
    }
);

api_test!(
    async fn a_replay_of_an_older_ancestor_revokes_the_family(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let second = json_body(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::OK).await;
        let third = json_body(app.refresh(&json!({"refreshToken": second["refreshToken"]})).await, StatusCode::OK).await;
        // Within the interval, but the first token's successor was itself rotated: not a race, a replay.
        assert_error(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked")
            .await;
        assert_error(app.refresh(&json!({"refreshToken": third["refreshToken"]})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked")
            .await;
    }
);

api_test!(
    async fn refresh_without_rotation_keeps_the_token(backend) {
        let app = TestApp::builder(backend).env("REFRESH_TOKEN_ROTATION", "false").spawn().await;
        let session = app.signup().await;
        for _ in 0..3 {
            let body = json_body(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::OK).await;
            assert_eq!(body["refreshToken"], session.refresh.as_str());
            assert!(body["accessToken"].is_string());
        }
    }
);

api_test!(
    async fn refresh_errors(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        assert_error(app.refresh(&json!({})).await, StatusCode::BAD_REQUEST, "Refresh token is required").await;
        assert_error(app.refresh(&json!({"refreshToken": ""})).await, StatusCode::BAD_REQUEST, "Refresh token is required").await;
        assert_error(app.refresh(&json!({"refreshToken": 42})).await, StatusCode::BAD_REQUEST, "refreshToken must be a string").await;
        for bad in ["garbage", session.access.as_str()] {
            assert_error(app.refresh(&json!({"refreshToken": bad})).await, StatusCode::UNAUTHORIZED, "Invalid or expired refresh token")
                .await;
        }
        let expired = sign(
            &json!({"userId": session.user_id, "type": "refresh", "jti": "x", "iat": now_secs() - 8 * 86400, "exp": now_secs() - 86400}),
            TEST_JWT_SECRET,
        );
        assert_error(app.refresh(&json!({"refreshToken": expired})).await, StatusCode::UNAUTHORIZED, "Invalid or expired refresh token")
            .await;
        // Validly signed but never issued by this server.
        let unknown = sign(
            &json!({"userId": session.user_id, "type": "refresh", "jti": "never-issued", "iat": now_secs(), "exp": now_secs() + 3600}),
            TEST_JWT_SECRET,
        );
        assert_error(app.refresh(&json!({"refreshToken": unknown})).await, StatusCode::UNAUTHORIZED, "Invalid or expired refresh token")
            .await;
    }
);

api_test!(
    async fn logout_revokes_the_access_token_at_once(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = json_body(app.logout(&session.access, None).await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "Logged out successfully"}));
        assert_error(app.list_entries(&session.access, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
        assert_error(app.logout(&session.access, None).await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
    }
);

api_test!(
    async fn logout_without_a_refresh_token_revokes_all_of_them(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let second = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        json_body(app.logout(&session.access, None).await, StatusCode::OK).await;
        for token in [session.refresh.as_str(), second["refreshToken"].as_str().unwrap_or_default()] {
            assert_error(app.refresh(&json!({"refreshToken": token})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked")
                .await;
        }
    }
);

api_test!(
    async fn logout_with_a_refresh_token_revokes_only_that_one(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let second = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        json_body(app.logout(&session.access, Some(&json!({"refreshToken": session.refresh}))).await, StatusCode::OK).await;
        assert_error(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked")
            .await;
        json_body(app.refresh(&json!({"refreshToken": second["refreshToken"]})).await, StatusCode::OK).await;
        // The other login's access token still works.
        let other_access = second["accessToken"].as_str().unwrap_or_default();
        assert_eq!(app.list_entries(other_access, "").await.status(), StatusCode::OK);
    }
);

api_test!(
    async fn logout_requires_a_token(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.post("/api/auth/logout").send().await.expect("logout");
        assert_error(response, StatusCode::UNAUTHORIZED, "No token provided").await;
    }
);

api_test!(
    async fn revocation_holds_on_every_instance_sharing_the_database(backend) {
        let first = TestApp::spawn(backend).await;
        let second = TestApp::builder(backend).database(first.database.clone()).spawn().await;
        let session = first.signup().await;
        assert_eq!(second.list_entries(&session.access, "").await.status(), StatusCode::OK);
        json_body(first.logout(&session.access, None).await, StatusCode::OK).await;
        assert_error(second.list_entries(&session.access, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
    }
);

api_test!(
    async fn revocation_survives_a_restart(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        json_body(app.logout(&session.access, None).await, StatusCode::OK).await;
        let database = app.database.clone();
        app.stop().await.expect("clean stop");
        let restarted = TestApp::builder(backend).database(database).spawn().await;
        assert_error(restarted.list_entries(&session.access, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
    }
);

api_test!(
    async fn middleware_messages(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let no_header = app.get("/api/entries").send().await.expect("request");
        assert_error(no_header, StatusCode::UNAUTHORIZED, "No token provided").await;
        let not_bearer = app.get("/api/entries").header("authorization", format!("Basic {}", session.access)).send().await.expect("request");
        assert_error(not_bearer, StatusCode::UNAUTHORIZED, "No token provided").await;
        let empty_bearer = app.get("/api/entries").header("authorization", "Bearer ").send().await.expect("request");
        assert_error(empty_bearer, StatusCode::UNAUTHORIZED, "No token provided").await;
        assert_error(app.list_entries("not-a-jwt", "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        // A lower-case scheme is accepted.
        let lower = app.get("/api/entries").header("authorization", format!("bearer {}", session.access)).send().await.expect("request");
        assert_eq!(lower.status(), StatusCode::OK);
    }
);

api_test!(
    async fn refresh_tokens_are_refused_as_access_tokens(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        assert_error(app.list_entries(&session.refresh, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
    }
);

api_test!(
    async fn forged_and_expired_tokens_are_refused(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let claims = json!({"userId": session.user_id, "type": "access", "jti": "j", "iat": now_secs(), "exp": now_secs() + 600});

        let other_key = sign(&claims, "some-other-secret-of-sufficient-length-123");
        assert_error(app.list_entries(&other_key, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;

        // alg:none with our claims and no signature.
        use base64::Engine;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let alg_none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims));
        assert_error(app.list_entries(&alg_none, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;

        // Same key, another algorithm (HS512).
        let hs512 = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        )
        .expect("signing");
        assert_error(app.list_entries(&hs512, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;

        // Tampered payload with the original signature.
        let mut parts: Vec<String> = session.access.split('.').map(str::to_owned).collect();
        parts[1] = b64(&json!({"userId": "507f1f77bcf86cd799439011", "type": "access", "exp": now_secs() + 600}));
        assert_error(app.list_entries(&parts.join("."), "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;

        let expired = sign(
            &json!({"userId": session.user_id, "type": "access", "jti": "e", "iat": now_secs() - 3600, "exp": now_secs() - 1800}),
            TEST_JWT_SECRET,
        );
        assert_error(app.list_entries(&expired, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
    }
);

api_test!(
    async fn tokens_minted_by_the_old_backend_stay_valid_until_they_expire(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        // The old backend's access token: same secret, `userId` and `type`, no `jti`.
        let legacy = sign(&json!({"userId": session.user_id, "type": "access", "iat": now_secs(), "exp": now_secs() + 900}), TEST_JWT_SECRET);
        assert_eq!(app.list_entries(&legacy, "").await.status(), StatusCode::OK);
        // A token without `type` is neither (the old backend always set it).
        let untyped = sign(&json!({"userId": session.user_id, "iat": now_secs(), "exp": now_secs() + 900}), TEST_JWT_SECRET);
        assert_error(app.list_entries(&untyped, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(app.refresh(&json!({"refreshToken": untyped})).await, StatusCode::UNAUTHORIZED, "Invalid or expired refresh token")
            .await;
        // Logging out with a legacy token revokes it too, and only it.
        let other_legacy =
            sign(&json!({"userId": session.user_id, "type": "access", "iat": now_secs() - 100, "exp": now_secs() + 700}), TEST_JWT_SECRET);
        json_body(app.logout(&legacy, None).await, StatusCode::OK).await;
        assert_error(app.list_entries(&legacy, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
        assert_eq!(app.list_entries(&other_legacy, "").await.status(), StatusCode::OK);
    }
);

api_test!(
    async fn tokens_with_impossible_times_or_lifetimes_are_refused(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let now = now_secs();
        let token = |extra: Value| {
            let mut claims = json!({"userId": session.user_id, "type": "access", "jti": hex_id(), "iat": now, "exp": now + 900});
            if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
                for (key, value) in extra {
                    if value.is_null() { claims.remove(key); } else { claims.insert(key.clone(), value.clone()); }
                }
            }
            sign(&claims, TEST_JWT_SECRET)
        };
        for (what, extra) in [
            ("not valid before a minute from now", json!({"nbf": now + 60})),
            ("issued a minute from now", json!({"iat": now + 60, "exp": now + 960})),
            ("an hour's lifetime", json!({"exp": now + 3600})),
            ("expiring in 2100", json!({"exp": 4_102_444_800i64})),
            ("no issue time", json!({"iat": null})),
        ] {
            let response = app.list_entries(&token(extra), "").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
            assert_error(response, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        }
        // Within the 30 s of clock leeway, a future `iat`/`nbf` is a clock skew, not a forgery.
        let skewed = token(json!({"iat": now + 10, "nbf": now + 10, "exp": now + 910}));
        assert_eq!(app.list_entries(&skewed, "").await.status(), StatusCode::OK);
    }
);

api_test!(
    async fn a_signed_token_for_a_user_that_does_not_exist_is_refused_everywhere(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let ghost = healthtracker::domain::ids::UserId::new().to_string();
        let token = sign(&json!({"userId": ghost, "type": "access", "jti": hex_id(), "iat": now_secs(), "exp": now_secs() + 900}), TEST_JWT_SECRET);
        assert_error(app.list_entries(&token, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(app.dashboard(&token, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(app.create_entry(&token, &json!({"date": "2026-11-01"})).await, StatusCode::UNAUTHORIZED, "Invalid or expired token")
            .await;
        assert_error(app.get_entry(&token, "507f1f77bcf86cd799439011").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(app.chat(&token, "hello").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(app.logout(&token, None).await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        // A real user's token is unaffected.
        assert_eq!(app.list_entries(&session.access, "").await.status(), StatusCode::OK);
    }
);

api_test!(
    async fn a_victim_is_not_locked_out_from_another_address(backend) {
        let app = TestApp::builder(backend).env("LOGIN_MAX_FAILURES", "3").env("TRUST_PROXY", "true").spawn().await;
        let victim = app.signup().await;
        for _ in 0..3 {
            let response = app.login_from("203.0.113.66", &victim.email, "Wrong1234").await;
            assert_error(response, StatusCode::BAD_REQUEST, "Invalid credentials").await;
        }
        // The attacker's address is throttled for this e-mail, even with the right password…
        let response = app.login_from("203.0.113.66", &victim.email, PASSWORD).await;
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "Too many failed login attempts for this account, please try again later.")
            .await;
        // …the victim, elsewhere, logs in.
        json_body(app.login_from("198.51.100.7", &victim.email, PASSWORD).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn a_rotated_leftmost_forwarded_for_does_not_escape_the_login_throttle(backend) {
        // Behind one proxy, X-Forwarded-For is "<whatever the client wrote>, <what the proxy saw>":
        // only the entry the proxy appended names the client.
        let app = TestApp::builder(backend).env("LOGIN_MAX_FAILURES", "3").env("TRUST_PROXY", "true").spawn().await;
        let victim = app.signup().await;
        for i in 0..3 {
            let forwarded = format!("198.51.100.{i}, 203.0.113.66");
            let response = app.login_from(&forwarded, &victim.email, "Wrong1234").await;
            assert_error(response, StatusCode::BAD_REQUEST, "Invalid credentials").await;
        }
        for forwarded in ["198.51.100.99, 203.0.113.66", "10.0.0.1,10.0.0.2 , 203.0.113.66", "203.0.113.66"] {
            let response = app.login_from(forwarded, &victim.email, PASSWORD).await;
            assert_error(response, StatusCode::TOO_MANY_REQUESTS, "Too many failed login attempts for this account, please try again later.")
                .await;
        }
        // The victim, behind the same proxy from elsewhere, logs in.
        json_body(app.login_from("203.0.113.66, 198.51.100.7", &victim.email, PASSWORD).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn behind_two_proxies_the_client_is_the_second_entry_from_the_right(backend) {
        let app = TestApp::builder(backend)
            .env("RATE_LIMIT_MAX_REQUESTS", "1")
            .env("TRUST_PROXY", "true")
            .env("TRUSTED_PROXY_HOPS", "2")
            .spawn()
            .await;
        let login = |forwarded: String| {
            app.post("/api/auth/login")
                .header("x-forwarded-for", forwarded)
                .json(&json!({"email": "a@example.com", "password": "x"}))
                .send()
        };
        // "<client's own>, <client as the outer proxy saw it>, <outer proxy as the inner one saw it>"
        let first = login("192.0.2.1, 203.0.113.1, 10.0.0.5".to_owned()).await.expect("login").status();
        assert_eq!(first, StatusCode::BAD_REQUEST);
        for spoofed in ["192.0.2.2", "192.0.2.3"] {
            let response = login(format!("{spoofed}, 203.0.113.1, 10.0.0.5")).await.expect("login");
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{spoofed}");
        }
        // Another client through the same two proxies has its own count.
        let other = login("203.0.113.2, 10.0.0.5".to_owned()).await.expect("login").status();
        assert_eq!(other, StatusCode::BAD_REQUEST);
    }
);

api_test!(
    async fn distributed_guessing_reaches_the_per_account_cap(backend) {
        let app = TestApp::builder(backend)
            .env("LOGIN_MAX_FAILURES", "3")
            .env("LOGIN_MAX_FAILURES_PER_ACCOUNT", "5")
            .env("TRUST_PROXY", "true")
            .spawn()
            .await;
        let victim = app.signup().await;
        for i in 0..5 {
            let response = app.login_from(&format!("203.0.113.{i}"), &victim.email, "Wrong1234").await;
            assert_error(response, StatusCode::BAD_REQUEST, "Invalid credentials").await;
        }
        let response = app.login_from("203.0.113.200", &victim.email, PASSWORD).await;
        assert!(response.headers().contains_key("retry-after"));
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "Too many failed login attempts for this account, please try again later.")
            .await;
    }
);

api_test!(
    async fn refresh_tokens_are_stored_hashed(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let hash = sha256_hex(&session.refresh);
        let stored = app.store.refresh_token_by_hash(&hash).await.expect("store").expect("session stored under its hash");
        assert_eq!(stored.user_id.to_string(), session.user_id);
        if let Some(path) = &app.database.sqlite_path {
            let bytes = std::fs::read(path).unwrap_or_default();
            let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
            let needle = session.refresh.as_bytes();
            for file in [&bytes, &wal] {
                assert!(!file.windows(needle.len()).any(|w| w == needle), "refresh token found in clear in the database");
            }
        }
    }
);

api_test!(
    async fn bcrypt_hashes_from_the_old_backend_log_in_and_are_upgraded(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let user_id = healthtracker::domain::ids::UserId::parse(&session.user_id).expect("user id");
        // What the old backend's bcryptjs wrote (cost 10, `$2a$`).
        let legacy = bcrypt::hash(PASSWORD, 10).expect("bcrypt").replacen("$2b$", "$2a$", 1);
        app.store.set_password_hash(user_id, &legacy).await.expect("store");

        assert_error(app.login(&session.email, "Wrong1234").await, StatusCode::BAD_REQUEST, "Invalid credentials").await;
        let stored = app.store.user_by_id(user_id).await.expect("store").expect("user");
        assert_eq!(stored.password_hash, legacy, "a failed login must not touch the hash");

        json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        let stored = app.store.user_by_id(user_id).await.expect("store").expect("user");
        assert!(stored.password_hash.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{}", stored.password_hash);
        json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn a_login_storm_succeeds_while_liveness_keeps_answering(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let logins = futures::future::join_all((0..20).map(|_| app.login(&session.email, PASSWORD)));
        let probe = async {
            let mut answered = 0;
            let mut slowest = std::time::Duration::ZERO;
            for _ in 0..10 {
                let started = std::time::Instant::now();
                if app.health_live().await.status() == StatusCode::OK {
                    answered += 1;
                }
                slowest = slowest.max(started.elapsed());
            }
            (answered, slowest)
        };
        let (responses, (answered, slowest)) = tokio::join!(logins, probe);
        assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
        assert_eq!(answered, 10);
        // Generous: hashing runs off the async workers, so liveness never waits for the storm.
        assert!(slowest < std::time::Duration::from_secs(1), "liveness took {slowest:?} during the storm");
        // Every login got its own tokens.
        let mut tokens = std::collections::HashSet::new();
        for response in responses {
            let body: Value = response.json().await.expect("body");
            tokens.insert(body["accessToken"].as_str().unwrap_or_default().to_owned());
        }
        assert_eq!(tokens.len(), 20);
    }
);

fn sha256_hex(token: &str) -> String {
    healthtracker::auth::tokens::digest(token)
}
