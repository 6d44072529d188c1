//! The coach that knows the user: the chat prompt's figures and turns, the stored conversation
//! (`/ai/history`, the export, account deletion), streamed replies, and the report's week over week.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::fake_ai::{Behaviour, FakeProvider, answer_text, answer_words};
use crate::helpers::*;

fn today_minus(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// The messages of the provider's `n`th request (1-based).
fn prompt_of(provider: &FakeProvider, n: usize) -> Vec<Value> {
    provider.requests()[n - 1].body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// One server-sent event as the client received it, and when.
#[derive(Debug)]
struct Received {
    event: String,
    data: Value,
    at: Duration,
}

/// Reads a `text/event-stream` answer to its end, timing each event from `started`.
async fn read_events(response: reqwest::Response, started: Instant) -> Vec<Received> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut event, mut data) = (String::from("message"), String::new());
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            events.push(Received {
                event,
                data: serde_json::from_str(&data).unwrap_or(Value::Null),
                at: started.elapsed(),
            });
        }
    }
    events
}

async fn history(app: &TestApp, access: &str, query: &str) -> Value {
    json_body(app.ai_history(access, query).await, StatusCode::OK).await
}

// --- context -----------------------------------------------------------------------------------

api_test!(
    async fn the_chat_prompt_carries_the_last_seven_days_and_the_conversation(backend) {
        let provider = FakeProvider::start().await;
        let app = TestApp::builder(backend).ai(&provider).spawn().await;
        let session = app.signup().await;
        for (day, calories, food) in [(0, 2000, "Porridge"), (6, 1800, "Lentil soup"), (7, 9999, "Cake")] {
            app.created_entry(
                &session.access,
                &json!({"date": today_minus(day), "calories": calories, "sleep": 7, "waterIntake": 6, "mood": "good",
                        "foodIntake": [{"meal": "lunch", "food": food, "calories": 300}], "notes": "private diary text"}),
            )
            .await;
        }
        json_body(app.chat(&session.access, "How am I doing?").await, StatusCode::OK).await;
        json_body(app.chat(&session.access, "And my sleep?").await, StatusCode::OK).await;

        let first = prompt_of(&provider, 1);
        assert_eq!(first.len(), 2, "no conversation yet: {first:?}");
        let system = first[0]["content"].as_str().unwrap_or_default();
        for figure in [
            "2 of 7 days recorded",
            "Average daily calories: 1900 kcal",
            "Average daily water intake: 6\n",
            "lunch: Porridge (300 kcal)",
        ] {
            assert!(system.contains(figure), "{figure:?} missing from:\n{system}");
        }
        // Only the last 7 days, no notes.
        assert!(!system.contains("9999") && !system.contains("Cake"), "{system}");
        assert!(!system.contains("private diary"), "{system}");

        // The second prompt carries the first turn as proper roles, then the new question.
        let second = prompt_of(&provider, 2);
        let roles: Vec<&str> = second.iter().map(|m| m["role"].as_str().unwrap_or_default()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(second[1]["content"], "How am I doing?");
        assert_eq!(second[2]["content"], answer_text(1).as_str());
        assert_eq!(second[3]["content"], "And my sleep?");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_ten_turns_and_the_token_budget_reach_the_prompt() {
    let provider = FakeProvider::start().await;
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .env("AI_RATE_LIMIT_MAX", "100")
        .spawn()
        .await;
    let session = app.signup().await;
    for i in 0..7 {
        json_body(
            app.chat(&session.access, &format!("question {i}")).await,
            StatusCode::OK,
        )
        .await;
    }
    // 7 turns are stored (14 messages); the 8th prompt carries the newest 10 messages.
    json_body(app.chat(&session.access, "question 7").await, StatusCode::OK).await;
    let prompt = prompt_of(&provider, 8);
    assert_eq!(prompt.len(), 12, "system + 10 + question: {prompt:?}");
    assert_eq!(prompt[1]["content"], "question 2");
    assert_eq!(prompt[10]["content"], answer_text(7).as_str());

    // Long turns (2,000-character questions, 2,800-character answers: ~1,200 tokens a turn) exceed
    // the 3,000-token budget long before 10 messages: the oldest go first, the newest stay.
    json_body(app.clear_ai_history(&session.access).await, StatusCode::OK).await;
    provider.always(Behaviour::AnswerText("y".repeat(2800)));
    for i in 0..4 {
        let long = format!("long {i} {}", "x".repeat(1990));
        json_body(app.chat(&session.access, &long).await, StatusCode::OK).await;
    }
    json_body(app.chat(&session.access, "short").await, StatusCode::OK).await;
    let prompt = prompt_of(&provider, 13);
    let estimated: usize = prompt
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().chars().count().div_ceil(4) + 4)
        .sum();
    assert!(estimated <= 3_000, "{estimated} estimated tokens");
    let questions: Vec<&str> = prompt[1..prompt.len() - 1]
        .iter()
        .filter_map(|m| m["content"].as_str())
        .filter(|c| c.starts_with("long"))
        .map(|c| &c[..6])
        .collect();
    assert_eq!(questions, ["long 2", "long 3"], "{} messages", prompt.len());
    assert_eq!(prompt.len(), 6, "system, the newest two turns, the question");
    assert_eq!(prompt[4]["role"], "assistant");
    assert_eq!(prompt.last().map(|m| m["content"].clone()), Some(json!("short")));
}

// --- history -----------------------------------------------------------------------------------

api_test!(
    async fn history_is_per_user_oldest_first_limited_and_cleared(backend) {
        let provider = FakeProvider::start().await;
        let app = TestApp::builder(backend).ai(&provider).spawn().await;
        let (alice, bob) = (app.signup().await, app.signup().await);
        json_body(app.chat(&alice.access, "<b>first</b> question").await, StatusCode::OK).await;
        json_body(app.chat(&alice.access, "second question").await, StatusCode::OK).await;
        json_body(app.chat(&bob.access, "bob asks").await, StatusCode::OK).await;

        let body = history(&app, &alice.access, "").await;
        assert_eq!(body["status"], "success");
        assert_eq!(body["count"], 4);
        let data = body["data"].as_array().cloned().unwrap_or_default();
        let turns: Vec<(&str, &str)> = data
            .iter()
            .map(|m| (m["role"].as_str().unwrap_or_default(), m["content"].as_str().unwrap_or_default()))
            .collect();
        let (one, two) = (answer_text(1), answer_text(2));
        assert_eq!(
            turns,
            [("user", "first question"), ("assistant", one.as_str()), ("user", "second question"), ("assistant", two.as_str())]
        );
        assert!(data.iter().all(|m| m["createdAt"].as_str().is_some_and(|t| t.ends_with('Z'))));
        // Bob's prompt never saw Alice's conversation.
        let bobs = prompt_of(&provider, 3);
        assert_eq!(bobs.len(), 2, "{bobs:?}");

        let newest = history(&app, &alice.access, "?limit=1").await;
        assert_eq!(newest["count"], 1);
        assert_eq!(newest["data"][0]["content"], two.as_str());
        for bad in ["0", "101", "x"] {
            let response = app.ai_history(&alice.access, &format!("?limit={bad}")).await;
            assert_eq!(detail_paths(&json_body(response, StatusCode::BAD_REQUEST).await), ["limit"]);
        }

        let cleared = json_body(app.clear_ai_history(&alice.access).await, StatusCode::OK).await;
        assert_eq!(cleared, json!({"status": "success", "message": "History cleared"}));
        assert_eq!(history(&app, &alice.access, "").await["count"], 0);
        assert_eq!(history(&app, &bob.access, "").await["count"], 2);
        // A cleared conversation is not in the next prompt either.
        json_body(app.chat(&alice.access, "fresh start").await, StatusCode::OK).await;
        assert_eq!(prompt_of(&provider, 4).len(), 2);

        let anonymous = app.get("/api/ai/history").send().await.expect("request");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
);

api_test!(
    async fn history_keeps_the_newest_two_hundred_messages(backend) {
        let provider = FakeProvider::start().await;
        let app = TestApp::builder(backend)
            .ai(&provider)
            .env("AI_RATE_LIMIT_MAX", "1000")
            .spawn()
            .await;
        let session = app.signup().await;
        for i in 0..101 {
            json_body(app.chat(&session.access, &format!("q{i}")).await, StatusCode::OK).await;
        }
        let stored = app.store.ai_history(user_id(&session), 1_000).await.expect("history");
        assert_eq!(stored.len(), 200);
        assert_eq!(stored[0].content, "q1", "the oldest turn was dropped");
        assert_eq!(stored[199].content, answer_text(101));
        let page = history(&app, &session.access, "?limit=100").await;
        assert_eq!(page["count"], 100);
        assert_eq!(page["data"][99]["content"], answer_text(101).as_str());
    }
);

fn user_id(session: &Session) -> healthtracker::domain::ids::UserId {
    healthtracker::domain::ids::UserId::parse(&session.user_id).expect("a user id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_the_users_data_even_without_an_ai_provider() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    assert_eq!(history(&app, &session.access, "").await["count"], 0);
    json_body(app.clear_ai_history(&session.access).await, StatusCode::OK).await;
}

api_test!(
    async fn the_export_carries_the_conversation_and_deletion_removes_it(backend) {
        let provider = FakeProvider::start().await;
        let app = TestApp::builder(backend).ai(&provider).spawn().await;
        let session = app.signup().await;
        app.created_entry(&session.access, &json!({"date": today_minus(0), "calories": 1500})).await;
        json_body(app.chat(&session.access, "hello coach").await, StatusCode::OK).await;

        let export = json_body(app.export(&session.access, "").await, StatusCode::OK).await;
        assert_eq!(export["entries"].as_array().map(Vec::len), Some(1));
        let history = export["aiHistory"].as_array().cloned().unwrap_or_default();
        assert_eq!(history.len(), 2, "{export}");
        assert_eq!(history[0]["role"], "user");
        assert_eq!(history[0]["content"], "hello coach");
        assert_eq!(history[1]["content"], answer_text(1).as_str());
        // The export document imports as it is (the history is not imported).
        let imported = json_body(app.import(&session.access, "", &export).await, StatusCode::OK).await;
        assert_eq!(imported["skipped"], 1);

        json_body(app.delete_me(&session.access, PASSWORD).await, StatusCode::OK).await;
        let left = app.store.ai_history(user_id(&session), 1_000).await.expect("history");
        assert!(left.is_empty(), "{left:?}");
    }
);

// --- streaming ---------------------------------------------------------------------------------

api_test!(
    async fn a_streamed_chat_sends_each_word_as_the_provider_writes_it(backend) {
        let provider = FakeProvider::start().await;
        provider.always(Behaviour::StreamSlowly(Duration::from_millis(300)));
        let app = TestApp::builder(backend).ai(&provider).spawn().await;
        let session = app.signup().await;
        let started = Instant::now();
        let response = app.chat_stream(&session.access, "Stream me <i>an answer</i>").await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("text/event-stream"));
        assert!(response.headers().get("ratelimit-remaining").is_some());
        assert!(response.headers().get("content-encoding").is_none());
        let events = read_events(response, started).await;

        let words = answer_words(1);
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        let mut expected = vec!["delta"; words.len()];
        expected.push("done");
        assert_eq!(names, expected, "{events:?}");
        let deltas: Vec<&str> = events.iter().filter_map(|e| e.data["text"].as_str()).collect();
        assert_eq!(deltas, words.iter().map(String::as_str).collect::<Vec<_>>());
        let done = &events[words.len()].data;
        assert_eq!(done["reply"], answer_text(1).as_str());
        assert_eq!(done["message"], done["reply"]);
        // The first word arrives when the provider writes it (after one pause), long before the
        // whole answer (one pause per word) is written.
        let (first, last) = (events[0].at, events[words.len()].at);
        let whole = Duration::from_millis(300) * words.len() as u32;
        assert!(first < whole / 2, "first word after {first:?} of {whole:?}");
        assert!(last >= whole - Duration::from_millis(100), "done after {last:?}, the answer takes {whole:?}");
        assert!(last - first >= Duration::from_millis(300) * (words.len() as u32 - 2), "{first:?} .. {last:?}");

        // The provider was asked to stream, with the sanitized question; the turn is remembered.
        let request = &provider.requests()[0].body;
        assert_eq!(request["stream"], true);
        assert_eq!(request["messages"][1]["content"], "Stream me an answer");
        let stored = history(&app, &session.access, "").await;
        assert_eq!(stored["count"], 2);
        assert_eq!(stored["data"][1]["content"], answer_text(1).as_str());
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_cancels_the_provider_stream() {
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::StreamSlowly(Duration::from_millis(400)));
    let app = TestApp::builder(Backend::Sqlite).ai(&provider).spawn().await;
    let session = app.signup().await;
    let response = app.chat_stream(&session.access, "a long answer please").await;
    let mut body = response.bytes_stream();
    let first = body.next().await;
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    drop(body);
    // The provider notices within a pause or two, and stops writing.
    let deadline = Instant::now() + Duration::from_secs(5);
    while provider.abandoned_streams() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(provider.abandoned_streams(), 1);
    let written = provider.words_streamed();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(provider.words_streamed(), written, "still writing after the hang-up");
    assert!(written < answer_words(1).len(), "{written} words");
    // An unfinished answer is not remembered.
    assert_eq!(history(&app, &session.access, "").await["count"], 0);
}

api_test!(
    async fn a_provider_failing_mid_stream_is_an_error_event_and_nothing_is_remembered(backend) {
        let provider = FakeProvider::start().await;
        provider.always(Behaviour::StreamThenBreak { words: 2 });
        let app = TestApp::builder(backend).ai(&provider).spawn().await;
        let session = app.signup().await;
        let response = app.chat_stream(&session.access, "hi").await;
        assert_eq!(response.status(), StatusCode::OK);
        let events = read_events(response, Instant::now()).await;
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names, ["delta", "delta", "error"], "{events:?}");
        assert_eq!(events[2].data, json!({"message": "AI service unavailable"}));
        assert_eq!(history(&app, &session.access, "").await["count"], 0);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failing_before_the_stream_is_the_usual_502() {
    let provider = FakeProvider::start().await;
    provider.always(Behaviour::Fail(500));
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .env("AI_MAX_RETRIES", "1")
        .spawn()
        .await;
    let session = app.signup().await;
    let response = app.chat_stream(&session.access, "hi").await;
    let body = assert_error(response, StatusCode::BAD_GATEWAY, "AI service unavailable").await;
    assert!(!body.to_string().contains("upstream exploded"));
    assert_eq!(provider.calls(), 2, "retried like any other call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_is_inline_in_async_mode_and_counts_against_the_ai_limit() {
    let Some(redis) = TestRedis::shared("streaming_is_inline_in_async_mode_and_counts_against_the_ai_limit").await
    else {
        return;
    };
    let provider = FakeProvider::start().await;
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .env("AI_RATE_LIMIT_MAX", "2")
        .spawn()
        .await;
    let session = app.signup().await;
    let response = app.chat_stream(&session.access, "stream even though jobs are on").await;
    assert_eq!(response.status(), StatusCode::OK);
    let events = read_events(response, Instant::now()).await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"));
    // A queued chat and a streamed one share the limit.
    let queued = app.chat(&session.access, "queued").await;
    assert_eq!(queued.status(), StatusCode::ACCEPTED);
    let refused = app.chat_stream(&session.access, "one too many").await;
    assert_error(
        refused,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many AI requests, please try again later.",
    )
    .await;
    redis.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_chat_remembers_its_turn_when_the_job_completes() {
    let Some(redis) = TestRedis::shared("a_queued_chat_remembers_its_turn_when_the_job_completes").await else {
        return;
    };
    let provider = FakeProvider::start().await;
    let app = TestApp::builder(Backend::Sqlite)
        .ai(&provider)
        .async_jobs(&redis)
        .spawn()
        .await;
    let session = app.signup().await;
    let body = json_body(app.chat(&session.access, "queued question").await, StatusCode::ACCEPTED).await;
    let job_id = body["jobId"].as_str().unwrap_or_default().to_owned();
    let job = app
        .wait_for_job(&session.access, &job_id, Duration::from_secs(30))
        .await;
    assert_eq!(job["state"], "completed");
    let stored = history(&app, &session.access, "").await;
    assert_eq!(stored["count"], 2, "{stored}");
    assert_eq!(stored["data"][0]["content"], "queued question");
    assert_eq!(stored["data"][1]["content"], answer_text(1).as_str());
    // The next queued chat's prompt carries it.
    let body = json_body(app.chat(&session.access, "follow-up").await, StatusCode::ACCEPTED).await;
    let job_id = body["jobId"].as_str().unwrap_or_default().to_owned();
    app.wait_for_job(&session.access, &job_id, Duration::from_secs(30))
        .await;
    let prompt = prompt_of(&provider, 2);
    assert_eq!(prompt.len(), 4, "{prompt:?}");
    assert_eq!(prompt[1]["content"], "queued question");
    redis.cleanup().await;
}

// --- the weekly report -------------------------------------------------------------------------

api_test!(
    async fn the_weekly_report_compares_the_week_with_the_one_before(backend) {
        let provider = FakeProvider::start().await;
        let app = TestApp::builder(backend).ai(&provider).spawn().await;
        let session = app.signup().await;
        for (day, calories, sleep, workouts) in
            [(0, 2000, 8.0, true), (3, 2200, 7.0, true), (7, 1500, 5.0, false), (13, 1700, 6.0, true), (14, 9999, 1.0, true)]
        {
            app.created_entry(
                &session.access,
                &json!({"date": today_minus(day), "calories": calories, "sleep": sleep, "workouts": workouts, "waterIntake": 8}),
            )
            .await;
        }
        let body = json_body(app.weekly_report(&session.access).await, StatusCode::OK).await;
        let summary = &body["summary"];
        assert_eq!((summary["totalDays"].clone(), summary["avgCalories"].clone()), (json!(2), json!(2100)));
        assert_eq!(summary["workoutDays"], 2);
        let previous = &summary["previous"];
        assert_eq!(previous["totalDays"], 2);
        assert_eq!(previous["avgCalories"], 1600);
        assert_eq!(previous["avgSleep"], 5.5);
        assert_eq!(previous["workoutDays"], 1);
        assert!(previous.get("previous").is_none());

        let prompt = prompt_of(&provider, 1);
        let system = prompt[0]["content"].as_str().unwrap_or_default();
        assert!(system.contains("compare the two weeks"), "{system}");
        let user = prompt[1]["content"].as_str().unwrap_or_default();
        let (this_week, week_before) = user.split_once("The 7 days before that").unwrap_or((user, ""));
        assert!(this_week.contains("Average daily calories: 2100 kcal"), "{user}");
        assert!(week_before.contains("Average daily calories: 1600 kcal"), "{user}");
        assert!(week_before.contains("Workout days: 1 out of 7"), "{user}");
        // The frontend's water is glasses: no unit is invented.
        assert!(user.contains("Average daily water intake: 8\n"), "{user}");
        assert!(!user.contains(" L\n") && !user.contains("litre"), "{user}");
        assert!(!user.contains("9999"), "day 14 is in neither week:\n{user}");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_with_nothing_before_it_has_previous_null() {
    let provider = FakeProvider::start().await;
    let app = TestApp::builder(Backend::Sqlite).ai(&provider).spawn().await;
    let session = app.signup().await;
    app.created_entry(&session.access, &json!({"date": today_minus(1), "calories": 1800}))
        .await;
    let body = json_body(app.weekly_report(&session.access).await, StatusCode::OK).await;
    assert!(body["summary"]["previous"].is_null(), "{body}");
    let user = prompt_of(&provider, 1)[1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(user.contains("Nothing was logged in the 7 days before"), "{user}");
}
