//! Goals (API.md "Body measurements and goals"): `GET/PUT /goals` and their rules, the dashboard's
//! `goals` block, the trends' `goalsMet` and goal streaks, the coach's prompts, and goals going with
//! the account (export, import, deletion).

use chrono::{DateTime, Utc};
use healthtracker::domain::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_test;
use crate::fake_ai::FakeProvider;
use crate::helpers::*;

fn clock_at(instant: &str) -> Clock {
    Clock::fixed(
        DateTime::parse_from_rfc3339(instant)
            .map(|t| t.with_timezone(&Utc))
            .expect("an RFC 3339 instant"),
    )
}

async fn goals_of(app: &TestApp, access: &str) -> Value {
    let body = json_body(app.goals(access).await, StatusCode::OK).await;
    assert_eq!(body["status"], "success");
    body["data"].clone()
}

api_test!(
    async fn goals_start_empty_are_replaced_whole_and_cleared(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        assert_eq!(goals_of(&app, &session.access).await, json!({}));
        let set = json!({"steps": {"min": "8000"}, "sleep": {"min": 7, "max": 9.5}, "weight": {"max": 75}});
        let answer = json_body(app.put_goals(&session.access, &set).await, StatusCode::OK).await;
        let expected = json!({"sleep": {"min": 7, "max": 9.5}, "steps": {"min": 8000}, "weight": {"max": 75}});
        assert_eq!(answer["data"], expected, "{backend:?}");
        assert_eq!(goals_of(&app, &session.access).await, expected);
        // A PUT replaces every goal.
        json_body(app.put_goals(&session.access, &json!({"calories": {"max": 2200}})).await, StatusCode::OK).await;
        assert_eq!(goals_of(&app, &session.access).await, json!({"calories": {"max": 2200}}));
        json_body(app.put_goals(&session.access, &json!({})).await, StatusCode::OK).await;
        assert_eq!(goals_of(&app, &session.access).await, json!({}));
        // Another user's goals are their own.
        let other = app.signup().await;
        json_body(app.put_goals(&other.access, &json!({"steps": {"min": 1}})).await, StatusCode::OK).await;
        assert_eq!(goals_of(&app, &session.access).await, json!({}));
    }
);

api_test!(
    async fn goals_are_checked_by_the_rules_of_their_fields(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        json_body(app.put_goals(&session.access, &json!({"steps": {"min": 5000}})).await, StatusCode::OK).await;
        for (body, path) in [
            (json!({"steps": {"min": 9000, "max": 8000}}), "steps"),
            (json!({"steps": {}}), "steps"),
            (json!({"steps": 8000}), "steps"),
            (json!({"steps": {"min": 80.5}}), "steps.min"),
            (json!({"steps": {"min": -1}}), "steps.min"),
            (json!({"weight": {"min": 10}}), "weight.min"),
            (json!({"sleep": {"max": 25}}), "sleep.max"),
            (json!({"mood": {"min": 1}}), "mood"),
            (json!({"bloodPressure": {"max": 120}}), "bloodPressure"),
            (json!({"calories": {"min": 1, "target": 2}}), "calories.target"),
            (json!({"calories": {"min": ""}}), "calories.min"),
        ] {
            let refused = assert_invalid(app.put_goals(&session.access, &body).await).await;
            assert_eq!(refused["details"][0]["path"], path, "{body} ({backend:?})");
        }
        assert_invalid(app.put_goals(&session.access, &json!([])).await).await;
        // `{}` clears every goal, so a lost body (none, or `null`) must never count as `{}`.
        let no_body = app.request(Method::PUT, "/api/goals").bearer_auth(&session.access).send().await;
        let refused = json_body(no_body.expect("goals request"), StatusCode::BAD_REQUEST).await;
        assert_eq!(refused["message"], "A JSON request body is required", "{backend:?}");
        let null = app.put_goals(&session.access, &Value::Null).await;
        json_body(null, StatusCode::BAD_REQUEST).await;
        assert_eq!(goals_of(&app, &session.access).await, json!({"steps": {"min": 5000}}), "nothing changed");
    }
);

api_test!(
    async fn the_dashboard_says_whether_the_day_met_each_goal(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        json_body(
            app.put_goals(&session.access, &json!({"steps": {"min": 8000}, "sleep": {"min": 7, "max": 9}, "weight": {"max": 75}, "calories": {"max": 2200}}))
                .await,
            StatusCode::OK,
        )
        .await;
        app.created_entry(&session.access, &json!({"date": "2026-11-20", "steps": 9500, "sleep": 6.5, "calories": 2100})).await;
        let day = json_body(app.dashboard(&session.access, "?date=2026-11-20").await, StatusCode::OK).await;
        assert_eq!(
            day["data"]["goals"],
            json!({
                "calories": {"min": null, "max": 2200, "value": 2100, "met": true},
                "sleep": {"min": 7, "max": 9, "value": 6.5, "met": false},
                "steps": {"min": 8000, "max": null, "value": 9500, "met": true},
                "weight": {"min": null, "max": 75, "value": null, "met": false}
            }),
            "{backend:?}"
        );
        // A day with nothing logged meets nothing (0 is not a measurement, even under a max).
        let empty = json_body(app.dashboard(&session.access, "?date=2026-11-21").await, StatusCode::OK).await;
        assert_eq!(empty["data"]["goals"]["calories"]["met"], false);
        let none = app.signup().await;
        let plain = json_body(app.dashboard(&none.access, "").await, StatusCode::OK).await;
        assert_eq!(plain["data"]["goals"], json!({}));
    }
);

api_test!(
    async fn the_trends_count_the_days_that_met_each_goal_and_their_streaks(backend) {
        let clock = clock_at("2026-11-30T12:00:00Z");
        let app = TestApp::builder(backend).clock(&clock).spawn().await;
        let session = app.signup().await;
        // Steps met on 24, 25, 27, 28, 29 and 30 (today); sleep on 25 and 26 only.
        for (day, steps, sleep) in [
            ("2026-11-23", 4000, 6.0),
            ("2026-11-24", 9000, 6.0),
            ("2026-11-25", 9000, 7.5),
            ("2026-11-26", 100, 8.0),
            ("2026-11-27", 8000, 0.0),
            ("2026-11-28", 12000, 6.0),
            ("2026-11-29", 8500, 6.5),
            ("2026-11-30", 8001, 10.0),
        ] {
            app.created_entry(&session.access, &json!({"date": day, "steps": steps, "sleep": sleep})).await;
        }
        let query = "?from=2026-11-23&to=2026-11-30&bucket=week";
        let before = json_body(app.stats(&session.access, query).await, StatusCode::OK).await;
        assert_eq!(before["data"][0]["goalsMet"], json!({}));
        assert_eq!(before["streaks"]["goals"], json!({}));
        // Changing the goals changes the trends at once (a kept answer is not served).
        json_body(
            app.put_goals(&session.access, &json!({"steps": {"min": 8000}, "sleep": {"min": 7, "max": 9}})).await,
            StatusCode::OK,
        )
        .await;
        let stats = json_body(app.stats(&session.access, query).await, StatusCode::OK).await;
        assert_eq!(stats["data"][0]["goalsMet"], json!({"sleep": 2, "steps": 5}), "{backend:?}");
        assert_eq!(stats["data"][1]["goalsMet"], json!({"sleep": 0, "steps": 1}));
        assert_eq!(
            stats["streaks"]["goals"],
            json!({"sleep": {"current": 0, "longest": 2}, "steps": {"current": 4, "longest": 4}})
        );
        assert_eq!(stats["streaks"]["currentLogging"], 8);
    }
);

api_test!(
    async fn goals_go_with_the_account(backend) {
        let app = TestApp::spawn(backend).await;
        let session = app.signup().await;
        let goals = json!({"steps": {"min": 8000}, "weight": {"min": 60, "max": 75}});
        json_body(app.put_goals(&session.access, &goals).await, StatusCode::OK).await;
        app.created_entry(&session.access, &json!({"date": "2026-11-20", "steps": 9000})).await;
        let export: Value = app.export(&session.access, "").await.json().await.expect("JSON export");
        assert_eq!(export["goals"], goals);

        // An import sets them where the account has none, keeps the account's own with `skip`,
        // and overwrites them with `replace`.
        let other = app.signup().await;
        json_body(app.import(&other.access, "", &export).await, StatusCode::OK).await;
        assert_eq!(goals_of(&app, &other.access).await, goals);
        json_body(app.put_goals(&other.access, &json!({"sleep": {"min": 7}})).await, StatusCode::OK).await;
        json_body(app.import(&other.access, "?onConflict=skip", &export).await, StatusCode::OK).await;
        assert_eq!(goals_of(&app, &other.access).await, json!({"sleep": {"min": 7}}));
        json_body(app.import(&other.access, "?onConflict=replace", &export).await, StatusCode::OK).await;
        assert_eq!(goals_of(&app, &other.access).await, goals);
        // Bad goals in a file refuse the file, as a bad PUT would.
        let mut bad = export.clone();
        bad["goals"] = json!({"steps": {"min": 9, "max": 1}});
        let refused = assert_invalid(app.import(&other.access, "", &bad).await).await;
        assert_eq!(refused["details"][0]["path"], "goals.steps");

        // Deleting the account deletes them: the same e-mail starts with none.
        json_body(app.delete_me(&session.access, PASSWORD).await, StatusCode::OK).await;
        let again = app
            .register(&json!({"name": "Again", "email": session.email, "password": PASSWORD}))
            .await;
        let again = json_body(again, StatusCode::CREATED).await;
        let access = again["accessToken"].as_str().expect("a token");
        assert_eq!(goals_of(&app, access).await, json!({}));
    }
);

api_test!(
    async fn the_coach_knows_the_goals_and_the_weeks_weight_change(backend) {
        let provider = FakeProvider::start().await;
        let clock = clock_at("2026-11-30T12:00:00Z");
        let app = TestApp::builder(backend).ai(&provider).clock(&clock).spawn().await;
        let session = app.signup().await;
        json_body(
            app.put_goals(&session.access, &json!({"steps": {"min": 8000}, "weight": {"max": 75}})).await,
            StatusCode::OK,
        )
        .await;
        for (day, steps, weight) in [("2026-11-25", 9000, 77.0), ("2026-11-28", 4000, 76.5), ("2026-11-30", 8500, 76.2)] {
            app.created_entry(&session.access, &json!({"date": day, "steps": steps, "weight": weight})).await;
        }
        json_body(app.chat(&session.access, "How am I doing?").await, StatusCode::OK).await;
        let report = json_body(app.weekly_report(&session.access).await, StatusCode::OK).await;
        assert_eq!(report["summary"]["weightChange"], -0.8, "{backend:?}");
        assert_eq!(report["summary"]["goals"]["steps"], json!({"min": 8000, "daysMet": 2}));
        let requests = provider.requests();
        let chat = requests[0].body["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
        let weekly = requests[1].body["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
        for prompt in [&chat, &weekly] {
            assert!(prompt.contains("- steps at least 8000: met on 2 of 7 days"), "{prompt}");
            assert!(prompt.contains("- weight at most 75 kg: met on 0 of 7 days"), "{prompt}");
            assert!(prompt.contains("Weight change over the days recorded: -0.8 kg"), "{prompt}");
        }
    }
);
