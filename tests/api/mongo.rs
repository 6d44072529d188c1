//! MongoDB only: a database written by the old Mongoose backend is served as it is (fixtures inserted
//! with the driver, shaped exactly as Mongoose stored them — so a stand-in's quirks are never the only
//! evidence), `migrate` and its duplicate report, duplicate-key mapping, and outages.
//!
//! They run against the same server as the `mongodb` half of the suite (mongoeco, or a real MongoDB
//! with `TEST_MONGO_URI`), except the outage test, which needs to start a server on a chosen port and
//! so always uses mongoeco.

use std::time::{Duration, Instant};

use healthtracker::storage::mongo::{ErrorClass, classify_error};
use mongodb::bson::{Bson, DateTime as BsonDate, Document, doc, oid::ObjectId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::mongo_server::{self, MongoEco};

const OLD_PASSWORD: &str = "OldSecret1";

fn date(rfc3339: &str) -> BsonDate {
    BsonDate::parse_rfc3339_str(rfc3339).expect("fixture date")
}

/// A fresh app on MongoDB and its database through the driver; `None` when the MongoDB tests are
/// skipped here.
async fn mongo_app() -> Option<(TestApp, mongodb::Database)> {
    if !mongo_server::available() {
        return None;
    }
    let app = TestApp::spawn(Backend::MongoDb).await;
    let db = app.database.mongo_db().await;
    Some((app, db))
}

async fn raw(db: &mongodb::Database, collection: &str, id: ObjectId) -> Document {
    db.collection::<Document>(collection)
        .find_one(doc! {"_id": id})
        .await
        .expect("find")
        .expect("document exists")
}

/// A refresh token as the old backend minted it: no `jti`.
fn legacy_refresh_token(user: ObjectId) -> String {
    sign(
        &json!({"userId": user.to_hex(), "type": "refresh", "iat": now_secs() - 3600, "exp": now_secs() + 6 * 86400}),
        TEST_JWT_SECRET,
    )
}

/// A user as the old backend stored it: bcryptjs `$2a$10$` hash, refresh token in clear, `__v`.
async fn insert_legacy_user(db: &mongodb::Database, email: &str, refresh_tokens: Vec<Bson>) -> ObjectId {
    let id = ObjectId::new();
    let hash = bcrypt::hash(OLD_PASSWORD, 10)
        .expect("bcrypt")
        .replacen("$2b$", "$2a$", 1);
    db.collection::<Document>("users")
        .insert_one(doc! {
            "_id": id,
            "name": "Old Timer",
            "email": email,
            "password": hash,
            "refreshTokens": refresh_tokens,
            "revokedTokens": [],
            "createdAt": date("2025-03-01T10:00:00.000Z"),
            "updatedAt": date("2026-11-20T08:00:00.000Z"),
            "__v": 4,
        })
        .await
        .expect("insert legacy user");
    id
}

/// Three entries as three versions of the old backend wrote them, at local midnights.
async fn insert_legacy_entries(db: &mongodb::Database, user: ObjectId) -> [ObjectId; 3] {
    let ids = [ObjectId::new(), ObjectId::new(), ObjectId::new()];
    let entries = db.collection::<Document>("entries");
    // 28 Nov on a server in UTC+1; numbers as the Node driver writes them; no newer fields.
    entries
        .insert_one(doc! {
            "_id": ids[0], "user": user, "date": date("2026-11-27T23:00:00.000Z"),
            "calories": 2100_i32, "sleep": 7.5, "workouts": true,
            "foodIntake": [
                {"meal": "breakfast", "food": "Oats", "calories": 350_i32, "_id": ObjectId::new()},
                {"meal": "dinner", "food": "Stew", "calories": 650.0, "_id": ObjectId::new()},
            ],
            "mood": "neutral",
            "createdAt": date("2026-11-28T07:12:00.000Z"), "updatedAt": date("2026-11-28T07:12:00.000Z"), "__v": 0_i32,
        })
        .await
        .expect("insert entry 1");
    // 29 Nov on a server in UTC-5; every field, Int64 and Double integers, an unknown field.
    entries
        .insert_one(doc! {
            "_id": ids[1], "user": user, "date": date("2026-11-29T05:00:00.000Z"),
            "calories": 1800.0, "sleep": 8_i32, "workouts": false, "foodIntake": [],
            "heartRate": 64_i32, "steps": 9000_i64, "symptoms": ["headache"], "mood": "good",
            "waterIntake": 2_i32, "legacyFlag": {"whatever": true},
            "createdAt": date("2026-11-29T20:00:00.000Z"), "updatedAt": date("2026-11-29T21:00:00.000Z"), "__v": 2_i32,
        })
        .await
        .expect("insert entry 2");
    // The oldest shape: no timestamps, no __v, hardly any fields.
    entries
        .insert_one(
            doc! { "_id": ids[2], "user": user, "date": date("2026-11-20T23:00:00.000Z"), "calories": 1500_i32 },
        )
        .await
        .expect("insert entry 3");
    ids
}

async fn login_ok(app: &TestApp, email: &str, password: &str) -> Value {
    json_body(app.login(email, password).await, StatusCode::OK).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_written_by_the_old_backend_is_served_and_upgraded() {
    let Some((app, db)) = mongo_app().await else { return };
    let user = insert_legacy_user(&db, "old.timer@example.com", vec![]).await;
    let token = legacy_refresh_token(user);
    db.collection::<Document>("users")
        .update_one(doc! {"_id": user}, doc! {"$push": {"refreshTokens": &token}})
        .await
        .expect("store legacy token");
    let [e28, e29, e21] = insert_legacy_entries(&db, user).await;

    // The old password logs in (same 400 for a wrong one), and the hash becomes argon2id.
    assert_error(
        app.login("old.timer@example.com", "Wrong1234").await,
        StatusCode::BAD_REQUEST,
        "Invalid credentials",
    )
    .await;
    let session = login_ok(&app, "Old.Timer@example.com", OLD_PASSWORD).await;
    assert_eq!(session["userId"], user.to_hex());
    assert_eq!(session["user"]["name"], "Old Timer");
    let stored = raw(&db, "users", user).await;
    let password = stored.get_str("password").unwrap_or_default();
    assert!(password.starts_with("$argon2id$"), "{password}");
    assert_eq!(stored.get_i32("__v").ok(), Some(4), "other fields untouched");
    login_ok(&app, "old.timer@example.com", OLD_PASSWORD).await;
    let access = session["accessToken"].as_str().unwrap_or_default().to_owned();

    // Listed newest first, each on the day it was meant for, with the API's defaults.
    let list = json_body(app.list_entries_root(&access, "").await, StatusCode::OK).await;
    assert_eq!(list["count"], 3, "{list}");
    let data = &list["data"];
    let dates: Vec<&str> = (0..3).filter_map(|i| data[i]["date"].as_str()).collect();
    assert_eq!(
        dates,
        [
            "2026-11-29T00:00:00.000Z",
            "2026-11-28T00:00:00.000Z",
            "2026-11-21T00:00:00.000Z"
        ]
    );
    let (d29, d28, d21) = (&data[0], &data[1], &data[2]);
    assert_eq!(d28["_id"], e28.to_hex());
    assert_eq!(d28["user"], user.to_hex());
    assert_eq!(d28["calories"], 2100);
    assert_eq!(d28["sleep"], 7.5);
    assert_eq!(d28["workouts"], true);
    assert_eq!(
        d28["foodIntake"],
        json!([{"meal": "breakfast", "food": "Oats", "calories": 350}, {"meal": "dinner", "food": "Stew", "calories": 650}])
    );
    for (field, default) in [
        ("heartRate", json!(0)),
        ("steps", json!(0)),
        ("symptoms", json!([])),
        ("waterIntake", json!(0)),
        ("notes", json!("")),
    ] {
        assert_eq!(d28[field], default, "{field}");
    }
    assert_eq!(d28["mood"], "neutral");
    assert_eq!(d28["createdAt"], "2026-11-28T07:12:00.000Z");
    assert!(d28.get("__v").is_none());
    assert_eq!(d29["_id"], e29.to_hex());
    assert_eq!(
        (d29["calories"].clone(), d29["sleep"].clone(), d29["steps"].clone()),
        (json!(1800), json!(8), json!(9000))
    );
    assert_eq!(
        (
            d29["heartRate"].clone(),
            d29["waterIntake"].clone(),
            d29["mood"].clone()
        ),
        (json!(64), json!(2), json!("good"))
    );
    assert!(d29.get("legacyFlag").is_none());
    assert_eq!(d21["_id"], e21.to_hex());
    assert_eq!(d21["calories"], 1500);
    assert_eq!(d21["mood"], "neutral");
    assert_eq!(d21["foodIntake"], json!([]));
    // No timestamps: the ObjectId's creation time stands in.
    assert!(d21["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')));

    // Day lookups see local-midnight dates.
    let range = json_body(
        app.list_entries_root(&access, "?from=2026-11-28&to=2026-11-28").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(range["count"], 1);
    assert_eq!(range["data"][0]["_id"], e28.to_hex());
    let range = json_body(app.list_entries_root(&access, "?from=2026-11-22").await, StatusCode::OK).await;
    assert_eq!(range["count"], 2);
    let summary = json_body(app.dashboard(&access, "?date=2026-11-28").await, StatusCode::OK).await;
    assert_eq!(summary["data"]["calories"], 2100);
    let summary = json_body(app.dashboard(&access, "?date=2026-11-29").await, StatusCode::OK).await;
    assert_eq!(summary["data"]["steps"], 9000);
    let single = json_body(app.get_entry(&access, &e21.to_hex()).await, StatusCode::OK).await;
    assert_eq!(single["data"]["date"], "2026-11-21T00:00:00.000Z");

    // A day an old document holds is taken, whatever time zone wrote it.
    for day in ["2026-11-28", "2026-11-29", "2026-11-21"] {
        assert_error(
            app.create_entry(&access, &json!({"date": day})).await,
            StatusCode::CONFLICT,
            "Entry already exists for this date",
        )
        .await;
    }
    let fresh = app
        .created_entry(&access, &json!({"date": "2026-11-30", "steps": 1}))
        .await;
    let fresh_raw = raw(
        &db,
        "entries",
        ObjectId::parse_str(fresh["id"].as_str().unwrap_or_default()).expect("id"),
    )
    .await;
    assert_eq!(
        fresh_raw.get_datetime("date").ok(),
        Some(&date("2026-11-30T00:00:00.000Z"))
    );

    // PUT edits the old document in place: same _id and user, date untouched when the day is.
    let updated = json_body(
        app.update_entry(&access, &e28.to_hex(), &json!({"steps": 5000, "notes": "edited"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["data"]["steps"], 5000);
    assert_eq!(updated["data"]["calories"], 2100);
    assert_eq!(updated["data"]["date"], "2026-11-28T00:00:00.000Z");
    let doc = raw(&db, "entries", e28).await;
    assert_eq!(doc.get_object_id("user").ok(), Some(user));
    assert_eq!(doc.get_datetime("date").ok(), Some(&date("2026-11-27T23:00:00.000Z")));
    assert_eq!(doc.get_str("notes").ok(), Some("edited"));
    assert_eq!(
        doc.get_datetime("createdAt").ok(),
        Some(&date("2026-11-28T07:12:00.000Z"))
    );
    assert_eq!(
        db.collection::<Document>("entries")
            .count_documents(doc! {"user": user})
            .await
            .ok(),
        Some(4)
    );
    // Moving it onto a day another old document holds is refused; onto a free day it is stored at UTC midnight.
    assert_error(
        app.update_entry(&access, &e28.to_hex(), &json!({"date": "2026-11-29"}))
            .await,
        StatusCode::CONFLICT,
        "Entry already exists for this date",
    )
    .await;
    json_body(
        app.update_entry(&access, &e28.to_hex(), &json!({"date": "2026-11-27"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        raw(&db, "entries", e28).await.get_datetime("date").ok(),
        Some(&date("2026-11-27T00:00:00.000Z"))
    );
    // The old entry can be deleted too, freeing its day.
    json_body(app.delete_entry(&access, &e21.to_hex()).await, StatusCode::OK).await;
    app.created_entry(&access, &json!({"date": "2026-11-21"})).await;

    // The refresh token the old backend issued works once, and is rotated into our store.
    let refreshed = json_body(app.refresh(&json!({"refreshToken": token})).await, StatusCode::OK).await;
    let ours = refreshed["refreshToken"].as_str().unwrap_or_default().to_owned();
    assert_ne!(ours, token);
    assert_eq!(
        raw(&db, "users", user)
            .await
            .get_array("refreshTokens")
            .map(Vec::len)
            .ok(),
        Some(0)
    );
    assert_error(
        app.refresh(&json!({"refreshToken": token})).await,
        StatusCode::UNAUTHORIZED,
        "Invalid or expired refresh token",
    )
    .await;
    json_body(app.refresh(&json!({"refreshToken": ours})).await, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_refresh_token_stored_as_a_subdocument_is_honoured_once() {
    let Some((app, db)) = mongo_app().await else { return };
    let user = ObjectId::new();
    let token = legacy_refresh_token(user);
    let other = legacy_refresh_token(ObjectId::new());
    let hash = bcrypt::hash(OLD_PASSWORD, 4)
        .expect("bcrypt")
        .replacen("$2b$", "$2a$", 1);
    let user_doc = doc! {
        "_id": user, "name": "Sub Doc", "email": "subdoc@example.com", "password": hash,
        "refreshTokens": [
            {"token": &token, "createdAt": date("2026-11-25T10:00:00.000Z"), "_id": ObjectId::new()},
            {"token": "some-older-token", "createdAt": date("2026-11-20T10:00:00.000Z"), "_id": ObjectId::new()},
        ],
        "revokedTokens": [], "__v": 1,
    };
    db.collection::<Document>("users")
        .insert_one(user_doc)
        .await
        .expect("insert");

    // Another user's token naming a user id it does not belong to is no key to this account.
    assert_error(
        app.refresh(&json!({"refreshToken": other})).await,
        StatusCode::UNAUTHORIZED,
        "Invalid or expired refresh token",
    )
    .await;
    let body = json_body(app.refresh(&json!({"refreshToken": token})).await, StatusCode::OK).await;
    assert!(body["accessToken"].is_string());
    let left = raw(&db, "users", user).await;
    let left = left.get_array("refreshTokens").cloned().unwrap_or_default();
    assert_eq!(left.len(), 1, "only the used token is removed: {left:?}");
    assert_error(
        app.refresh(&json!({"refreshToken": token})).await,
        StatusCode::UNAUTHORIZED,
        "Invalid or expired refresh token",
    )
    .await;
    // Concurrent first uses let exactly one through.
    let user2 = insert_legacy_user(&db, "race@example.com", vec![]).await;
    let token2 = legacy_refresh_token(user2);
    db.collection::<Document>("users")
        .update_one(doc! {"_id": user2}, doc! {"$push": {"refreshTokens": &token2}})
        .await
        .expect("push");
    let body = json!({"refreshToken": token2});
    let results = futures::future::join_all((0..4).map(|_| app.refresh(&body))).await;
    let ok = results.iter().filter(|r| r.status() == StatusCode::OK).count();
    assert_eq!(ok, 1, "{:?}", results.iter().map(|r| r.status()).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_everywhere_also_ends_the_old_backends_refresh_tokens() {
    let Some((app, db)) = mongo_app().await else { return };
    let user = ObjectId::new();
    let token = legacy_refresh_token(user);
    let hash = bcrypt::hash(OLD_PASSWORD, 4)
        .expect("bcrypt")
        .replacen("$2b$", "$2a$", 1);
    db.collection::<Document>("users")
        .insert_one(doc! {"_id": user, "name": "Leaver", "email": "leaver@example.com", "password": hash, "refreshTokens": [&token], "__v": 0})
        .await
        .expect("insert");
    let session = login_ok(&app, "leaver@example.com", OLD_PASSWORD).await;
    json_body(
        app.logout(session["accessToken"].as_str().unwrap_or_default(), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_error(
        app.refresh(&json!({"refreshToken": token})).await,
        StatusCode::UNAUTHORIZED,
        "Invalid or expired refresh token",
    )
    .await;

    // A legacy token the old backend listed as revoked is not honoured either.
    let revoked_user = ObjectId::new();
    let revoked = legacy_refresh_token(revoked_user);
    db.collection::<Document>("users")
        .insert_one(doc! {"_id": revoked_user, "name": "R", "email": "r@example.com", "password": "x", "refreshTokens": [&revoked], "revokedTokens": [&revoked]})
        .await
        .expect("insert");
    assert_error(
        app.refresh(&json!({"refreshToken": revoked})).await,
        StatusCode::UNAUTHORIZED,
        "Invalid or expired refresh token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_we_write_keeps_the_mongoose_shape_and_our_collections_expire_by_themselves() {
    let Some((app, db)) = mongo_app().await else { return };
    let session = app.signup().await;
    let user = ObjectId::parse_str(&session.user_id).expect("id");
    let stored = raw(&db, "users", user).await;
    assert!(stored.get_str("password").is_ok_and(|p| p.starts_with("$argon2id$")));
    assert_eq!(stored.get_str("email").ok(), Some(session.email.as_str()));
    assert_eq!(stored.get_array("refreshTokens").map(Vec::len).ok(), Some(0));
    assert_eq!(stored.get_array("revokedTokens").map(Vec::len).ok(), Some(0));
    assert!(stored.get_datetime("createdAt").is_ok() && stored.get_datetime("updatedAt").is_ok());
    assert_eq!(stored.get_i32("__v").ok(), Some(0));

    let entry = app
        .created_entry(&session.access, &json!({"date": "2026-11-28", "calories": 2000, "foodIntake": [{"meal": "lunch", "food": "Soup", "calories": 300}]}))
        .await;
    let id = ObjectId::parse_str(entry["id"].as_str().unwrap_or_default()).expect("id");
    let stored = raw(&db, "entries", id).await;
    assert_eq!(stored.get_object_id("user").ok(), Some(user));
    assert_eq!(
        stored.get_datetime("date").ok(),
        Some(&date("2026-11-28T00:00:00.000Z"))
    );
    assert_eq!(stored.get_str("mood").ok(), Some("neutral"));
    assert_eq!(stored.get_i32("__v").ok(), Some(0));
    let food = stored.get_array("foodIntake").cloned().unwrap_or_default();
    let food = food.first().and_then(Bson::as_document).cloned().unwrap_or_default();
    assert_eq!(
        (food.get_str("meal").ok(), food.get_str("food").ok()),
        (Some("lunch"), Some("Soup"))
    );

    // Sessions are stored hashed in a collection of our own, which, with revocations, expires by TTL.
    assert_eq!(
        db.collection::<Document>("refresh_sessions")
            .count_documents(doc! {"user": user})
            .await
            .ok(),
        Some(1)
    );
    json_body(app.logout(&session.access, None).await, StatusCode::OK).await;
    assert_eq!(
        db.collection::<Document>("revoked_tokens")
            .count_documents(doc! {"user": user})
            .await
            .ok(),
        Some(1)
    );
    let indexes = |collection: &'static str| {
        let db = db.clone();
        async move {
            use futures::TryStreamExt;
            let cursor = db
                .collection::<Document>(collection)
                .list_indexes()
                .await
                .expect("list indexes");
            cursor.try_collect::<Vec<_>>().await.expect("indexes")
        }
    };
    for collection in ["refresh_sessions", "revoked_tokens"] {
        let ttl = indexes(collection)
            .await
            .into_iter()
            .find(|i| i.keys == doc! {"expiresAt": 1});
        let expire = ttl.and_then(|i| i.options).and_then(|o| o.expire_after);
        assert_eq!(expire, Some(Duration::ZERO), "{collection}");
    }
    let unique = |models: Vec<mongodb::IndexModel>, keys: Document| {
        models
            .into_iter()
            .find(|i| i.keys == keys)
            .and_then(|i| i.options)
            .and_then(|o| o.unique)
    };
    assert_eq!(unique(indexes("users").await, doc! {"email": 1}), Some(true));
    assert_eq!(
        unique(indexes("entries").await, doc! {"user": 1, "date": 1}),
        Some(true)
    );
    assert!(
        indexes("entries")
            .await
            .iter()
            .any(|i| i.keys == doc! {"user": 1, "date": -1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_keys_are_conflicts_on_every_error_path() {
    let Some((app, db)) = mongo_app().await else { return };
    // Through the API: racing creates of one day meet the unique index (a write error) -> 409, never 500.
    let session = app.signup().await;
    let body = json!({"date": "2026-11-15"});
    let results = futures::future::join_all((0..6).map(|_| app.create_entry(&session.access, &body))).await;
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::CREATED).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );

    // And each shape the driver reports E11000 in is classified by its code.
    let entries = db.collection::<Document>("entries");
    let user = ObjectId::new();
    let day = |d: &str| doc! {"_id": ObjectId::new(), "user": user, "date": date(d)};
    entries.insert_one(day("2026-01-01T00:00:00Z")).await.expect("insert");
    entries.insert_one(day("2026-01-02T00:00:00Z")).await.expect("insert");
    let write_error = entries
        .insert_one(day("2026-01-01T00:00:00Z"))
        .await
        .expect_err("duplicate insert");
    assert_eq!(classify_error(&write_error), ErrorClass::Duplicate, "{write_error:?}");
    let update_error = entries
        .update_one(
            doc! {"user": user, "date": date("2026-01-02T00:00:00Z")},
            doc! {"$set": {"date": date("2026-01-01T00:00:00Z")}},
        )
        .await
        .expect_err("duplicate update");
    assert_eq!(classify_error(&update_error), ErrorClass::Duplicate, "{update_error:?}");
    let command_error = entries
        .find_one_and_update(
            doc! {"user": user, "date": date("2026-01-02T00:00:00Z")},
            doc! {"$set": {"date": date("2026-01-01T00:00:00Z")}},
        )
        .await
        .expect_err("duplicate findAndModify");
    assert_eq!(
        classify_error(&command_error),
        ErrorClass::Duplicate,
        "{command_error:?}"
    );
    let many_error = entries
        .insert_many([day("2026-01-03T00:00:00Z"), day("2026-01-03T00:00:00Z")])
        .await
        .expect_err("duplicate insert_many");
    assert_eq!(classify_error(&many_error), ErrorClass::Duplicate, "{many_error:?}");
    // Not every error is a conflict.
    let other = entries
        .update_one(doc! {}, doc! {"$bogus": {"x": 1}})
        .await
        .expect_err("bad operator");
    assert_eq!(classify_error(&other), ErrorClass::Other, "{other:?}");
}

// --- migrate ---------------------------------------------------------------------------------

async fn run_migrate(url: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_healthtracker"))
        .arg("migrate")
        .current_dir(dir.path()) // no .env from the checkout
        .env("DATABASE_URL", url)
        .env_remove("MONGO_URI")
        .env("APP_ENV", "test")
        .env("LOG_FORMAT", "pretty")
        .env("LOG_LEVEL", "info")
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run healthtracker migrate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_lists_duplicates_from_the_old_backend_and_fails_until_they_are_fixed() {
    if !mongo_server::available() {
        return;
    }
    let database = Database::fresh(Backend::MongoDb);
    let db = database.mongo_db().await;
    let (ada, bob) = (ObjectId::new(), ObjectId::new());
    let users = db.collection::<Document>("users");
    for (id, email) in [(ada, "ada@example.com"), (bob, "ada@example.com")] {
        users
            .insert_one(doc! {"_id": id, "name": "A", "email": email, "password": "x", "__v": 0})
            .await
            .expect("user");
    }
    let entries = db.collection::<Document>("entries");
    // The same day written by servers in UTC+1 and UTC-5 (different dates: a unique index accepts them).
    let (tz1, tz2) = (ObjectId::new(), ObjectId::new());
    entries
        .insert_one(doc! {"_id": tz1, "user": ada, "date": date("2026-11-27T23:00:00Z")})
        .await
        .expect("entry");
    entries
        .insert_one(doc! {"_id": tz2, "user": ada, "date": date("2026-11-28T05:00:00Z")})
        .await
        .expect("entry");
    // Exact duplicates, from before the old backend had its unique index.
    let (ex1, ex2) = (ObjectId::new(), ObjectId::new());
    entries
        .insert_one(doc! {"_id": ex1, "user": bob, "date": date("2026-10-01T00:00:00Z")})
        .await
        .expect("entry");
    entries
        .insert_one(doc! {"_id": ex2, "user": bob, "date": date("2026-10-01T00:00:00Z")})
        .await
        .expect("entry");
    let fine = ObjectId::new();
    entries
        .insert_one(doc! {"_id": fine, "user": ada, "date": date("2026-11-29T23:00:00Z")})
        .await
        .expect("entry");

    let (ok, output) = run_migrate(&database.url).await;
    assert!(!ok, "migrate must fail on duplicates:\n{output}");
    for id in [tz1, tz2, ex1, ex2, ada, bob] {
        assert!(output.contains(&id.to_hex()), "{id} missing from:\n{output}");
    }
    assert!(!output.contains(&fine.to_hex()), "{output}");
    assert!(
        output.contains("2026-11-28") && output.contains("2026-10-01") && output.contains("ada@example.com"),
        "{output}"
    );
    assert!(output.contains("not built"), "{output}");
    assert!(output.contains("What to do"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
    // Nothing was deleted.
    assert_eq!(entries.count_documents(doc! {}).await.ok(), Some(5));

    // The server still starts on such a database and serves it.
    let app = TestApp::builder(Backend::MongoDb)
        .database(std::sync::Arc::new(Database::mongo_at(&database.url)))
        .spawn()
        .await;
    assert_eq!(app.health().await.status(), StatusCode::OK);
    drop(app);

    // Fixed by hand, migrate succeeds and builds the unique indexes.
    entries
        .delete_many(doc! {"_id": {"$in": [tz2, ex2]}})
        .await
        .expect("delete");
    users.delete_one(doc! {"_id": bob}).await.expect("delete");
    let (ok, output) = run_migrate(&database.url).await;
    assert!(ok, "{output}");
    assert!(output.contains("database schema is up to date"), "{output}");
    let names = entries.list_index_names().await.expect("index names");
    assert!(names.iter().any(|n| n == "user_1_date_1"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_fails_clearly_when_mongodb_is_unreachable() {
    if !mongo_server::available() {
        return;
    }
    let database = Database::fresh(Backend::MongoDb);
    for _ in 0..2 {
        let (ok, output) = run_migrate(&database.url).await;
        assert!(ok, "{output}");
    }
    let db = database.mongo_db().await;
    for (collection, count) in [
        ("users", 2),
        ("entries", 3),
        ("refresh_sessions", 4),
        // _id, the TTL on expiresAt, and user (account deletion).
        ("revoked_tokens", 3),
        // _id, user, the TTL on expiresAt.
        ("sessions", 3),
    ] {
        let names = db
            .collection::<Document>(collection)
            .list_index_names()
            .await
            .expect("names");
        assert_eq!(names.len(), count, "{collection}: {names:?}");
    }

    let port = free_port();
    let started = Instant::now();
    let (ok, output) = run_migrate(&format!(
        "mongodb://app:hunter2@127.0.0.1:{port}/x?directConnection=true"
    ))
    .await;
    assert!(!ok);
    assert!(output.contains("cannot reach MongoDB"), "{output}");
    assert!(!output.contains("hunter2"), "password in output: {output}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

// --- outages ---------------------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_starts_without_mongodb_fails_fast_and_recovers_by_itself() {
    // Needs to start a server on a chosen port: mongoeco, even when TEST_MONGO_URI is set.
    if !mongo_server::mongoeco_available() {
        return;
    }
    let port = free_port();
    let database = std::sync::Arc::new(Database::mongo_at(&format!(
        "mongodb://127.0.0.1:{port}/?directConnection=true"
    )));
    let started = Instant::now();
    let app = TestApp::builder(Backend::MongoDb).database(database).spawn().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "start-up took {:?}",
        started.elapsed()
    );

    let body = json_body(app.health().await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["services"]["database"], "disconnected");

    let user = ObjectId::new().to_hex();
    let access = sign(
        &json!({"userId": user, "type": "access", "jti": hex_id(), "iat": now_secs(), "exp": now_secs() + 600}),
        TEST_JWT_SECRET,
    );
    for _ in 0..3 {
        let started = Instant::now();
        let response = app.list_entries(&access, "").await;
        assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "Database unavailable").await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "503 took {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert_error(
        app.register(&json!({"name": "Ada", "email": "ada@example.com", "password": PASSWORD}))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "503 took {:?}",
        started.elapsed()
    );

    // MongoDB comes up on that port: service resumes without a restart.
    let server = MongoEco::start(port).expect("mongoeco on the chosen port");
    let back = Instant::now();
    loop {
        if app.health().await.status() == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "not back after {:?}",
            back.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let session = app.signup().await;
    app.created_entry(&session.access, &json!({"date": "2026-11-28"})).await;
    assert_eq!(app.list_entries(&session.access, "").await.status(), StatusCode::OK);
    // The token of a user that does not exist answered 503 while the database was down (it could
    // not be checked); now that it can be, it is refused.
    assert_eq!(app.list_entries(&access, "").await.status(), StatusCode::UNAUTHORIZED);
    // The indexes owed from start-up were created once it was reachable.
    let db = app.database.mongo_db().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names = db
            .collection::<Document>("entries")
            .list_index_names()
            .await
            .unwrap_or_default();
        if names.iter().any(|n| n == "user_1_date_1") {
            break;
        }
        assert!(Instant::now() < deadline, "indexes not created: {names:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // And down again: 503s, fast.
    drop(server);
    let started = Instant::now();
    loop {
        let status = app.list_entries(&session.access, "").await.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still {status} after {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert_error(
        app.list_entries(&session.access, "").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "503 took {:?}",
        started.elapsed()
    );
    drop(app);
}
