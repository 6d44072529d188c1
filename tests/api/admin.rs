//! Administration: the admin routes are an administrator's only; the list of users; disabling ends
//! every session at once on every instance and refuses the login with 403; the last administrator
//! cannot disable, demote or delete themself.

use healthtracker::domain::ids::UserId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;
use crate::security_helpers::*;

const LAST_ADMIN: &str =
    "The last administrator cannot be disabled, demoted or deleted; make another administrator first";

api_test!(
    async fn admin_routes_answer_only_an_administrator(backend) {
        let app = TestApp::spawn(backend).await;
        let user = app.signup().await;
        for response in [
            app.admin_users(&user.access, "").await,
            app.admin_disable(&user.access, &user.user_id).await,
            app.admin_enable(&user.access, &user.user_id).await,
            app.admin_delete_user(&user.access, &user.user_id).await,
            app.create_invite(&user.access, &json!({})).await,
            app.invites(&user.access).await,
            app.delete_invite(&user.access, "abc").await,
        ] {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert_eq!(message(response).await, "Admin access required");
        }
        let response = app.get("/api/admin/users").send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // Nothing was changed by the refused calls.
        let response = app.me(&user.access).await;
        assert_eq!(response.status(), StatusCode::OK);
        // Both mounts.
        let admin = app.admin().await;
        let response = app.get("/admin/users").bearer_auth(&admin.access).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
    }
);

api_test!(
    async fn an_administrator_lists_users_with_their_entry_counts(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin().await;
        let user = app.signup().await;
        for date in ["2026-11-01", "2026-11-02"] {
            app.created_entry(&user.access, &json!({ "date": date, "steps": 1000 })).await;
        }
        let body = json_body(app.admin_users(&admin.access, "?page=1&limit=10").await, StatusCode::OK).await;
        assert_eq!(body["count"], 2);
        assert_eq!(body["total"], 2);
        let data = body["data"].as_array().expect("data");
        let row = data.iter().find(|u| u["id"] == user.user_id.as_str()).expect("user listed");
        assert_eq!(row["email"], user.email.as_str());
        assert_eq!(row["role"], "user");
        assert_eq!(row["disabled"], false);
        assert_eq!(row["twoFactor"], false);
        assert_eq!(row["entries"], 2);
        assert!(row["createdAt"].is_string());
        let row = data.iter().find(|u| u["id"] == admin.user_id.as_str()).expect("admin listed");
        assert_eq!(row["role"], "admin");
        assert_eq!(row["entries"], 0);
        // Pages.
        let body = json_body(app.admin_users(&admin.access, "?page=2&limit=1").await, StatusCode::OK).await;
        assert_eq!(body["count"], 1);
        let response = app.admin_users(&admin.access, "?limit=1000").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
);

api_test!(
    async fn disabling_ends_every_session_at_once_on_every_instance(backend) {
        let first = TestApp::spawn(backend).await;
        let second = TestApp::builder(backend).database(first.database.clone()).spawn().await;
        let admin = first.admin().await;
        let user = first.signup().await;
        let other_login = json_body(second.login(&user.email, PASSWORD).await, StatusCode::OK).await;
        let other_access = other_login["accessToken"].as_str().expect("access");
        let other_refresh = other_login["refreshToken"].as_str().expect("refresh");

        let body = json_body(first.admin_disable(&admin.access, &user.user_id).await, StatusCode::OK).await;
        assert_eq!(body["message"], "User disabled");
        // At once, on the other instance: access tokens, refresh tokens.
        for access in [user.access.as_str(), other_access] {
            let response = second.me(access).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        for refresh in [user.refresh.as_str(), other_refresh] {
            let response = second.refresh(&json!({ "refreshToken": refresh })).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        // The right password: 403; a wrong one says no more than for anyone.
        let response = second.login(&user.email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(message(response).await, "Account disabled");
        let response = second.login(&user.email, "Wrong-password-1").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(message(response).await, "Invalid credentials");
        let body = json_body(first.admin_users(&admin.access, "").await, StatusCode::OK).await;
        let row = body["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|u| u["id"] == user.user_id.as_str())
            .cloned()
            .expect("listed");
        assert_eq!(row["disabled"], true);

        json_body(first.admin_enable(&admin.access, &user.user_id).await, StatusCode::OK).await;
        let response = second.login(&user.email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        // The tokens of before stay ended.
        let response = second.me(&user.access).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
);

api_test!(
    async fn an_administrator_deletes_a_user_with_everything_of_theirs(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin().await;
        let user = app.signup().await;
        app.created_entry(&user.access, &json!({ "date": "2026-11-01", "steps": 10 })).await;
        let response = app.admin_delete_user(&admin.access, &user.user_id).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(app.me(&user.access).await.status(), StatusCode::UNAUTHORIZED);
        let response = app.login(&user.email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = app.admin_delete_user(&admin.access, &user.user_id).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = app.admin_disable(&admin.access, "not-an-id").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
);

api_test!(
    async fn personal_tokens_reach_neither_two_factor_nor_admin_routes(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin().await;
        let body = app
            .created_token(
                &admin.access,
                &json!({"name": "script", "scopes": ["entries:read", "entries:write", "goals:read", "goals:write", "ai"]}),
            )
            .await;
        let token = body["token"].as_str().expect("token");
        // The route rules refuse them before any handler runs, even an administrator's.
        let refused = "Personal access tokens cannot be used for this route";
        for response in [
            app.two_factor_setup(token, PASSWORD).await,
            app.two_factor_enable(token, "123456").await,
            app.two_factor_disable(token, &json!({ "password": PASSWORD, "code": "123456" })).await,
            app.admin_users(token, "").await,
            app.admin_disable(token, &admin.user_id).await,
            app.admin_enable(token, &admin.user_id).await,
            app.admin_delete_user(token, &admin.user_id).await,
            app.create_invite(token, &json!({})).await,
            app.invites(token).await,
            app.delete_invite(token, "abc").await,
        ] {
            assert_error(response, StatusCode::FORBIDDEN, refused).await;
        }
        let me = json_body(app.me(&admin.access).await, StatusCode::OK).await;
        assert_eq!(me["user"]["twoFactor"], false);
        assert_eq!(me["user"]["role"], "admin");
    }
);

api_test!(
    async fn the_last_administrator_cannot_disable_or_delete_themself(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin().await;
        for response in [
            app.admin_disable(&admin.access, &admin.user_id).await,
            app.admin_delete_user(&admin.access, &admin.user_id).await,
            app.delete_me(&admin.access, PASSWORD).await,
        ] {
            assert_eq!(response.status(), StatusCode::CONFLICT);
            assert_eq!(message(response).await, LAST_ADMIN);
        }
        // Nothing changed: still an active administrator with their sessions, still able to log in.
        let body = json_body(app.admin_users(&admin.access, "").await, StatusCode::OK).await;
        assert_eq!(body["total"], 1);
        assert_eq!(body["data"][0]["role"], "admin");
        assert_eq!(body["data"][0]["disabled"], false);
        let response = app.refresh(&json!({ "refreshToken": admin.refresh })).await;
        assert_eq!(response.status(), StatusCode::OK);
        let response = app.login(&admin.email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);

        // With a second administrator, one may go.
        let other = app.admin().await;
        let response = app.admin_disable(&other.access, &admin.user_id).await;
        assert_eq!(response.status(), StatusCode::OK);
        // Now `other` is the last active one.
        let response = app.delete_me(&other.access, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        // A disabled administrator has no admin access.
        let response = app.admin_users(&admin.access, "").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
);

api_test!(
    async fn an_administrator_manages_invites(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin().await;
        let body = json_body(
            app.create_invite(&admin.access, &json!({ "uses": 3, "expiresInDays": 2 })).await,
            StatusCode::CREATED,
        )
        .await;
        let code = body["code"].as_str().expect("code").to_owned();
        assert_eq!(body["data"]["usesLeft"], 3);
        assert_eq!(body["data"]["createdBy"], admin.user_id.as_str());
        let list: Value = json_body(app.invites(&admin.access).await, StatusCode::OK).await;
        assert_eq!(list["count"], 1);
        assert_eq!(list["data"][0]["code"], code.as_str());
        let response = app.create_invite(&admin.access, &json!({ "uses": 0 })).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = app.create_invite(&admin.access, &json!({ "expiresInDays": 400 })).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = app.delete_invite(&admin.access, &code).await;
        assert_eq!(response.status(), StatusCode::OK);
        let response = app.delete_invite(&admin.access, &code).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let list: Value = json_body(app.invites(&admin.access).await, StatusCode::OK).await;
        assert_eq!(list["count"], 0);
    }
);

api_test!(
    async fn two_administrators_removing_each_other_at_once_leave_one(backend) {
        // Each trial: exactly two active administrators, each disabling (or deleting) the other at
        // the same moment. Either may win, or both be refused; never both gone.
        let app = TestApp::spawn(backend).await;
        let mut survivors: Vec<Session> = Vec::new();
        for trial in 0..16 {
            let (a, b) = (app.admin().await, app.admin().await);
            for old in survivors.drain(..) {
                let response = app.admin_disable(&a.access, &old.user_id).await;
                assert_eq!(response.status(), StatusCode::OK);
            }
            assert_eq!(app.store.active_admins().await.expect("count"), 2);
            let (first, second) = if trial % 2 == 0 {
                tokio::join!(app.admin_disable(&a.access, &b.user_id), app.admin_disable(&b.access, &a.user_id))
            } else {
                tokio::join!(
                    app.admin_delete_user(&a.access, &b.user_id),
                    app.admin_delete_user(&b.access, &a.user_id)
                )
            };
            for response in [first, second] {
                let status = response.status();
                // A loser is refused at the gate once their own standing went first (401 disabled
                // or deleted, 403 demoted on the way to deletion), or finds the other deleted (404).
                let expected = [
                    StatusCode::OK,
                    StatusCode::CONFLICT,
                    StatusCode::UNAUTHORIZED,
                    StatusCode::FORBIDDEN,
                    StatusCode::NOT_FOUND,
                ];
                assert!(expected.contains(&status),
                    "trial {trial}: {status}"
                );
            }
            let left = app.store.active_admins().await.expect("count");
            assert!(left >= 1, "trial {trial}: no administrator left");
            for session in [a, b] {
                let id = UserId::parse(&session.user_id).expect("id");
                let flags = app.store.account_flags(id).await.expect("flags");
                if flags.is_some_and(|f| f.active_admin()) {
                    survivors.push(session);
                }
            }
        }
    }
);
