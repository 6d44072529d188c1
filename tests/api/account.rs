//! The account: profile and time zone, password change, logins (sessions), logging out
//! everywhere, deleting the account with everything in it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::*;

const NEW_PASSWORD: &str = "Another-secret-2";

api_test!(
    async fn the_profile_is_readable_and_only_name_and_timezone_are_writable(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let body = json_body(app.me(&session.access).await, StatusCode::OK).await;
        assert_eq!(body["status"], "success");
        let user = &body["user"];
        assert_eq!(user["id"], session.user_id.as_str());
        assert_eq!(user["email"], session.email.as_str());
        assert_eq!(user["name"], "Test User");
        assert_eq!(user["timezone"], "UTC", "DEFAULT_TIMEZONE is UTC by default");
        assert!(user["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{user}");

        let body = json_body(
            app.update_me(&session.access, &json!({"name": " <b>Ada</b> King ", "timezone": "asia/kolkata", "email": "evil@example.com", "id": "x"})).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(body["message"], "Profile updated");
        assert_eq!(body["user"]["name"], "Ada King");
        assert_eq!(body["user"]["timezone"], "Asia/Kolkata");
        assert_eq!(body["user"]["email"], session.email.as_str(), "the e-mail is not writable here");
        let again = json_body(app.me(&session.access).await, StatusCode::OK).await;
        assert_eq!(again["user"], body["user"]);
        // A partial update keeps the rest.
        let body = json_body(app.update_me(&session.access, &json!({"timezone": "America/New_York"})).await, StatusCode::OK).await;
        assert_eq!((body["user"]["name"].as_str(), body["user"]["timezone"].as_str()), (Some("Ada King"), Some("America/New_York")));
    }
);

api_test!(
    async fn profile_validation(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        for (body, paths) in [
            (json!({"timezone": "GMT+4"}), vec!["timezone"]),
            (json!({"timezone": "Etc/GMT-5"}), vec!["timezone"]),
            (json!({"timezone": "Mars/Olympus"}), vec!["timezone"]),
            (json!({"timezone": 5}), vec!["timezone"]),
            (json!({"name": "A", "timezone": "Nowhere"}), vec!["name", "timezone"]),
        ] {
            let response = app.update_me(&session.access, &body).await;
            let error = assert_invalid(response).await;
            assert_eq!(detail_paths(&error), paths, "{body}");
        }
        let error = assert_invalid(app.update_me(&session.access, &json!([1])).await).await;
        assert_eq!(detail_paths(&error), [""]);
    }
);

#[tokio::test]
async fn the_default_timezone_is_configurable() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("DEFAULT_TIMEZONE", "Europe/Paris")
        .spawn()
        .await;
    let session = app.signup().await;
    let body = json_body(app.me(&session.access).await, StatusCode::OK).await;
    assert_eq!(body["user"]["timezone"], "Europe/Paris");
}

api_test!(
    async fn a_password_change_ends_every_other_login_at_once(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let other = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        let other_access = other["accessToken"].as_str().unwrap_or_default().to_owned();

        let body = json_body(app.change_password(&session.access, PASSWORD, NEW_PASSWORD).await, StatusCode::OK).await;
        assert_eq!(body["message"], "Password changed");
        assert_eq!(body["token"], body["accessToken"]);
        let new_access = body["accessToken"].as_str().unwrap_or_default();
        // The caller stays logged in with the new tokens…
        assert_eq!(app.list_entries(new_access, "").await.status(), StatusCode::OK);
        json_body(app.refresh(&json!({"refreshToken": body["refreshToken"]})).await, StatusCode::OK).await;
        // …every other login, and the caller's old tokens, are refused at once.
        for token in [other_access.as_str(), session.access.as_str()] {
            assert_error(app.list_entries(token, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
        }
        for refresh in [other["refreshToken"].as_str().unwrap_or_default(), session.refresh.as_str()] {
            assert_error(app.refresh(&json!({"refreshToken": refresh})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked").await;
        }
        // The new password logs in; the old does not.
        json_body(app.login(&session.email, NEW_PASSWORD).await, StatusCode::OK).await;
        assert_error(app.login(&session.email, PASSWORD).await, StatusCode::BAD_REQUEST, "Invalid credentials").await;
    }
);

api_test!(
    async fn password_change_errors(backend) {
        let app = TestApp::builder(backend).env("LOGIN_MAX_FAILURES", "3").spawn().await;
        let session = app.signup().await;
        let response = app.change_password(&session.access, "Wrong-password-9", NEW_PASSWORD).await;
        assert_error(response, StatusCode::BAD_REQUEST, "Current password is incorrect").await;
        // The new one follows the registration rules, and the account's own e-mail is guessable.
        for weak in ["short", "Password1", session.email.as_str()] {
            let response = app.change_password(&session.access, PASSWORD, weak).await;
            let body = assert_invalid(response).await;
            assert_eq!(detail_paths(&body), ["newPassword"], "{weak}");
            assert!(!body.to_string().contains(weak), "password echoed: {body}");
        }
        let response = app.post("/api/auth/change-password").bearer_auth(&session.access).json(&json!({})).send().await.expect("request");
        let body = assert_invalid(response).await;
        assert_eq!(detail_paths(&body), ["currentPassword", "newPassword"]);
        // Wrong passwords count as failed logins: an attacker holding a token cannot guess on.
        for _ in 0..2 {
            app.change_password(&session.access, "Wrong-password-9", NEW_PASSWORD).await;
        }
        let response = app.change_password(&session.access, PASSWORD, NEW_PASSWORD).await;
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "Too many failed login attempts for this account, please try again later.").await;
    }
);

async fn session_ids(app: &TestApp, access: &str) -> Vec<(String, bool, Value)> {
    let body = json_body(app.sessions(access).await, StatusCode::OK).await;
    assert_eq!(body["count"].as_u64(), body["data"].as_array().map(|d| d.len() as u64));
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default().to_owned(),
                s["current"] == true,
                s.clone(),
            )
        })
        .collect()
}

api_test!(
    async fn sessions_are_one_per_login_newest_first_and_survive_refreshes(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let second = app
            .post("/api/auth/login")
            .header("user-agent", "Phone/1.0 (test)")
            .json(&json!({"email": session.email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        let second = json_body(second, StatusCode::OK).await;
        let second_access = second["accessToken"].as_str().unwrap_or_default();
        let sessions = session_ids(&app, second_access).await;
        assert_eq!(sessions.len(), 2, "{sessions:?}");
        assert!(sessions[0].1 && !sessions[1].1, "the caller's login is first and current: {sessions:?}");
        assert_eq!(sessions[0].2["userAgent"], "Phone/1.0 (test)");
        assert!(sessions[0].2["createdAt"].is_string() && sessions[0].2["lastUsedAt"].is_string());
        // The access token names its login.
        assert_eq!(claims(second_access)["sid"], sessions[0].0.as_str());

        // A refresh keeps the login and moves lastUsedAt on.
        let before = sessions[1].2["lastUsedAt"].as_str().unwrap_or_default().to_owned();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let refreshed = json_body(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::OK).await;
        let refreshed_access = refreshed["accessToken"].as_str().unwrap_or_default();
        let after = session_ids(&app, refreshed_access).await;
        assert_eq!(after.len(), 2);
        let first = after.iter().find(|s| s.0 == sessions[1].0).expect("the first login is still listed");
        assert!(first.1, "now it is the current one");
        assert!(first.2["lastUsedAt"].as_str().unwrap_or_default() > before.as_str(), "{first:?}");
    }
);

api_test!(
    async fn ending_a_session_refuses_its_tokens_at_once_on_every_instance(backend) {
        let first = TestApp::spawn(backend).await;
        let second = TestApp::builder(backend).database(first.database.clone()).spawn().await;
        let session = first.signup().await;
        let other = json_body(first.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        let other_access = other["accessToken"].as_str().unwrap_or_default();
        let victim_id = session_ids(&first, other_access).await.iter().find(|s| s.1).map(|s| s.0.clone()).expect("current");

        let body = json_body(first.end_session(&session.access, &victim_id).await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "Session revoked"}));
        // Its access token (before it expires) and its refresh token, on the other instance too.
        assert_error(second.list_entries(other_access, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
        assert_error(second.refresh(&json!({"refreshToken": other["refreshToken"]})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked").await;
        // The caller's own login is untouched, and the ended one is no longer listed.
        assert_eq!(second.list_entries(&session.access, "").await.status(), StatusCode::OK);
        assert_eq!(session_ids(&second, &session.access).await.len(), 1);
        // Twice, or someone else's: a 404.
        assert_error(first.end_session(&session.access, &victim_id).await, StatusCode::NOT_FOUND, "Session not found").await;
        let stranger = first.signup().await;
        let own_id = session_ids(&first, &session.access).await[0].0.clone();
        assert_error(first.end_session(&stranger.access, &own_id).await, StatusCode::NOT_FOUND, "Session not found").await;
        assert_eq!(first.list_entries(&session.access, "").await.status(), StatusCode::OK);
        assert_error(first.end_session(&session.access, "not-a-session").await, StatusCode::NOT_FOUND, "Session not found").await;
    }
);

api_test!(
    async fn reuse_detection_refuses_the_familys_access_tokens_at_once(backend) {
        let app = TestApp::builder(backend).env("REFRESH_REUSE_INTERVAL_SECS", "0").spawn().await;
        let session = app.signup().await;
        let stolen = json_body(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::OK).await;
        let stolen_access = stolen["accessToken"].as_str().unwrap_or_default();
        assert_eq!(app.list_entries(stolen_access, "").await.status(), StatusCode::OK);
        // The rotated token comes back: theft. The access token the thief's rotation minted dies now,
        // not in 15 minutes.
        assert_error(app.refresh(&json!({"refreshToken": session.refresh})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked").await;
        assert_error(app.list_entries(stolen_access, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
    }
);

api_test!(
    async fn logout_all_ends_every_login_including_the_callers(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let other = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        let body = json_body(app.logout_all(&session.access).await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "Logged out everywhere"}));
        for access in [session.access.as_str(), other["accessToken"].as_str().unwrap_or_default()] {
            assert_error(app.list_entries(access, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
        }
        for refresh in [session.refresh.as_str(), other["refreshToken"].as_str().unwrap_or_default()] {
            assert_error(app.refresh(&json!({"refreshToken": refresh})).await, StatusCode::UNAUTHORIZED, "Refresh token has been revoked").await;
        }
        // Logging in again works.
        json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
    }
);

api_test!(
    async fn tokens_minted_before_logins_were_tracked_keep_working_until_they_expire(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        // No `sid`: an access token from before this server named logins (or the old backend's).
        let untracked = sign(&json!({"userId": session.user_id, "type": "access", "jti": hex_id(), "iat": now_secs(), "exp": now_secs() + 900}), TEST_JWT_SECRET);
        assert_eq!(app.list_entries(&untracked, "").await.status(), StatusCode::OK);
        // A `sid` of no login at all is refused.
        let made_up = sign(&json!({"userId": session.user_id, "type": "access", "jti": hex_id(), "sid": "0123456789abcdef01234567", "iat": now_secs(), "exp": now_secs() + 900}), TEST_JWT_SECRET);
        assert_error(app.list_entries(&made_up, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
        // Logging out everywhere with it ends it too.
        json_body(app.logout_all(&untracked).await, StatusCode::OK).await;
        assert_error(app.list_entries(&untracked, "").await, StatusCode::UNAUTHORIZED, "Token has been revoked").await;
    }
);

api_test!(
    async fn deleting_the_account_needs_the_password_and_removes_everything(backend) {
        let app = TestApp::builder(backend).env("LOGIN_MAX_FAILURES", "3").spawn().await;
        let session = app.signup().await;
        let bystander = app.signup().await;
        app.created_entry(&session.access, &json!({"date": "2026-11-01", "notes": "mine"})).await;
        app.created_entry(&bystander.access, &json!({"date": "2026-11-01", "notes": "theirs"})).await;
        json_body(app.logout(&session.access, Some(&json!({"refreshToken": session.refresh}))).await, StatusCode::OK).await;
        let login = json_body(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
        let access = login["accessToken"].as_str().unwrap_or_default().to_owned();
        let personal = app.created_token(&access, &json!({"name": "script", "scopes": ["entries:read"]})).await;
        let personal = personal["token"].as_str().unwrap_or_default().to_owned();

        assert_error(app.delete_me(&access, "Wrong-password-9").await, StatusCode::BAD_REQUEST, "Password is incorrect").await;
        let missing = app.request(reqwest::Method::DELETE, "/api/auth/me").bearer_auth(&access).send().await.expect("request");
        let body = assert_invalid(missing).await;
        assert_eq!(detail_paths(&body), ["password"]);
        assert_eq!(app.list_entries(&access, "").await.status(), StatusCode::OK, "a wrong password deletes nothing");

        let body = json_body(app.delete_me(&access, PASSWORD).await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "Account deleted"}));
        assert_error(app.list_entries(&access, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(app.list_entries(&personal, "").await, StatusCode::UNAUTHORIZED, "Invalid or expired token").await;
        assert_error(app.login(&session.email, PASSWORD).await, StatusCode::BAD_REQUEST, "Invalid credentials").await;
        assert_error(app.refresh(&json!({"refreshToken": login["refreshToken"]})).await, StatusCode::UNAUTHORIZED, "Invalid or expired refresh token").await;

        // Nothing of theirs is left in the database.
        let user = healthtracker::domain::ids::UserId::parse(&session.user_id).expect("id");
        assert!(app.store.user_by_id(user).await.expect("store").is_none());
        assert_eq!(left_in_database(&app, &session.user_id).await, 0);
        // The bystander's data stays.
        assert_eq!(json_body(app.list_entries_root(&bystander.access, "").await, StatusCode::OK).await["count"], 1);
        // And the e-mail can register again.
        let again = app.register(&json!({"name": "Back Again", "email": session.email, "password": PASSWORD})).await;
        json_body(again, StatusCode::CREATED).await;
    }
);

/// Rows or documents that still name `user` (entries, refresh tokens, logins, revoked tokens,
/// personal tokens).
async fn left_in_database(app: &TestApp, user: &str) -> u64 {
    if let Some(path) = &app.database.sqlite_path {
        let connection = rusqlite::Connection::open(path).expect("open the database");
        let mut left = 0;
        for table in [
            "users",
            "entries",
            "refresh_sessions",
            "sessions",
            "revoked_tokens",
            "personal_tokens",
        ] {
            let column = if table == "users" { "id" } else { "user_id" };
            let count: i64 = connection
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE {column} = ?1"),
                    [user],
                    |r| r.get(0),
                )
                .expect("count");
            left += count as u64;
        }
        return left;
    }
    let db = app.database.mongo_db().await;
    let id = mongodb::bson::oid::ObjectId::parse_str(user).expect("object id");
    let mut left = db
        .collection::<mongodb::bson::Document>("users")
        .count_documents(mongodb::bson::doc! {"_id": id})
        .await
        .expect("count");
    for collection in [
        "entries",
        "refresh_sessions",
        "sessions",
        "revoked_tokens",
        "personaltokens",
    ] {
        left += db
            .collection::<mongodb::bson::Document>(collection)
            .count_documents(mongodb::bson::doc! {"user": id})
            .await
            .expect("count");
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_leaves_no_redis_key_of_the_user() {
    let Some(redis) = TestRedis::shared("deleting_the_account_leaves_no_redis_key_of_the_user").await else {
        return;
    };
    let provider = crate::fake_ai::FakeProvider::start().await;
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .spawn()
        .await;
    let session = app.signup().await;
    // A job (its record, its payload in apalis' keys), the AI limit's counter, a failed login's counters.
    let queued = json_body(app.chat(&session.access, "remember me").await, StatusCode::ACCEPTED).await;
    let job_id = queued["jobId"].as_str().unwrap_or_default().to_owned();
    app.wait_for_job(&session.access, &job_id, std::time::Duration::from_secs(10))
        .await;
    app.login(&session.email, "Wrong-password-9").await;
    let mut connection = redis.connection().await;
    let keys_of_user = |keys: Vec<String>| -> Vec<String> {
        keys.into_iter()
            .filter(|k| k.contains(&session.user_id) || k.contains(&session.email) || k.contains(&job_id))
            .collect()
    };
    let before: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", redis.prefix))
        .query_async(&mut connection)
        .await
        .expect("keys");
    assert!(
        keys_of_user(before.clone()).len() >= 3,
        "the test made no keys to delete: {before:?}"
    );
    let data_field: bool = redis::cmd("HEXISTS")
        .arg(format!("{}:ai-jobs:data", redis.prefix))
        .arg(&job_id)
        .query_async(&mut connection)
        .await
        .expect("hexists");
    assert!(data_field, "the job's payload is in apalis' data hash");

    json_body(app.delete_me(&session.access, PASSWORD).await, StatusCode::OK).await;
    let after: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", redis.prefix))
        .query_async(&mut connection)
        .await
        .expect("keys");
    assert_eq!(keys_of_user(after), Vec::<String>::new());
    let data_field: bool = redis::cmd("HEXISTS")
        .arg(format!("{}:ai-jobs:data", redis.prefix))
        .arg(&job_id)
        .query_async(&mut connection)
        .await
        .expect("hexists");
    assert!(!data_field, "the job's payload (the user's message) is still in Redis");
    redis.cleanup().await;
}

#[tokio::test]
async fn without_a_configured_secret_restarts_keep_everyone_logged_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("data").join("healthtracker.db");
    let start = || {
        TestApp::builder(Backend::Sqlite)
            .env("APP_ENV", "development")
            .env("JWT_SECRET", "")
            .env("DATABASE_URL", &format!("sqlite://{}", database.display()))
            .spawn()
    };
    let app = start().await;
    let session = app.signup().await;
    app.stop().await.expect("clean stop");
    let restarted = start().await;
    assert_eq!(
        restarted.list_entries(&session.access, "").await.status(),
        StatusCode::OK
    );
    json_body(
        restarted.refresh(&json!({"refreshToken": session.refresh})).await,
        StatusCode::OK,
    )
    .await;
    let kept = dir.path().join("data").join("jwt-secret");
    assert!(kept.exists(), "the secret is kept beside the database");
}
