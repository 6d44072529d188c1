//! The operator's command line through the real binary: help that runs nothing, errors that name
//! the bad argument, and `copy-data`/`backup` that never create their source nor copy nothing
//! silently.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// What one run of the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn both(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `healthtracker args…` in `dir` with only `env` (and PATH) set: nothing of the test's
/// environment, nor a `.env` of the checkout, decides what it does. A run that does not end within
/// a minute (a `--help` that started the server, say) is killed and fails the test.
async fn healthtracker(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_healthtracker"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .unwrap_or_else(|_| panic!("`healthtracker {}` did not exit within a minute", args.join(" ")))
        .expect("run healthtracker");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The names in `dir`, sorted (what a command left behind).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A port nobody listens on (bound, then let go).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

// --- help, version, usage errors ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_on_every_command_prints_help_and_runs_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The port a server would bind is taken: a command that tried to serve would fail, not exit 0.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("address").port().to_string();
    let env = [
        ("PORT", port.as_str()),
        // What would make `worker` run and `migrate` write, were they to run.
        ("ENABLE_ASYNC_JOBS", "true"),
        ("GROQ_API_KEY", "gsk_never_used"),
    ];
    let commands: [&[&str]; 9] = [
        &[],
        &["serve"],
        &["worker"],
        &["migrate"],
        &["copy-data"],
        &["backup"],
        &["completions"],
        &["admin"],
        &["admin", "invite"],
    ];
    for command in commands {
        let name = command.first().copied().unwrap_or("healthtracker");
        let mut forms: Vec<Vec<&str>> = ["--help", "-h"]
            .into_iter()
            .map(|flag| command.iter().copied().chain([flag]).collect())
            .collect();
        // `help <command>` too; clap's `help` itself is asked about as `help help`.
        forms.push(vec!["help", command.first().copied().unwrap_or("help")]);
        for args in forms {
            let run = healthtracker(dir.path(), &args, &env).await;
            assert_eq!(run.code, Some(0), "`{}`: {}", args.join(" "), run.both());
            assert!(
                run.stdout.contains("Usage: healthtracker"),
                "`{}`: {}",
                args.join(" "),
                run.both()
            );
            assert!(run.stderr.is_empty(), "`{}`: {}", args.join(" "), run.both());
            if name != "healthtracker" {
                assert!(
                    run.stdout.contains(&format!("Usage: healthtracker {name}")),
                    "`{}` shows another command's usage: {}",
                    args.join(" "),
                    run.both()
                );
            }
            assert!(
                names_in(dir.path()).is_empty(),
                "`{}` created {:?}",
                args.join(" "),
                names_in(dir.path())
            );
        }
    }
    // Each command's options are in its help, described.
    let copy = healthtracker(dir.path(), &["copy-data", "--help"], &env).await;
    for option in [
        "--from <DATABASE_URL>",
        "--to <DATABASE_URL>",
        "--merge",
        "--allow-empty",
    ] {
        assert!(copy.stdout.contains(option), "{option}: {}", copy.stdout);
    }
    let backup = healthtracker(dir.path(), &["backup", "--help"], &env).await;
    for option in [
        "--to <FILE>",
        "--from <DATABASE_URL>",
        "--allow-empty",
        "parent directories",
    ] {
        assert!(backup.stdout.contains(option), "{option}: {}", backup.stdout);
    }
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_prints_the_version_and_runs_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    for flag in ["--version", "-V", "version"] {
        let run = healthtracker(dir.path(), &[flag], &[]).await;
        assert_eq!(run.code, Some(0), "{}", run.both());
        assert_eq!(
            run.stdout.trim(),
            format!("healthtracker {}", env!("CARGO_PKG_VERSION"))
        );
    }
    assert!(names_in(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_argument_is_named_with_the_usage_and_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&[&str], &[&str]); 6] = [
        (&["serv"], &["unrecognized subcommand 'serv'", "Usage: healthtracker"]),
        (
            &["serve", "--port", "80"],
            &["unexpected argument '--port'", "Usage: healthtracker serve"],
        ),
        (
            &["backup", "--to", "b.db", "--frm", "sqlite://x.db"],
            &["unexpected argument '--frm'", "'--from'", "Usage: healthtracker backup"],
        ),
        (
            &["copy-data", "--from", "sqlite://x.db"],
            &["--to <DATABASE_URL>", "Usage: healthtracker copy-data"],
        ),
        (&["backup"], &["--to <FILE>", "Usage: healthtracker backup"]),
        (&["completions", "tcsh"], &["invalid value 'tcsh'", "bash"]),
    ];
    for (args, expected) in cases {
        let run = healthtracker(dir.path(), args, &[]).await;
        assert_eq!(run.code, Some(2), "`{}`: {}", args.join(" "), run.both());
        assert!(run.stdout.is_empty(), "`{}`: {}", args.join(" "), run.both());
        for text in expected {
            assert!(
                run.stderr.contains(text),
                "`{}` lacks {text:?}: {}",
                args.join(" "),
                run.both()
            );
        }
    }
    // A database URL that is not one is named, never quoted: it can hold a password.
    let run = healthtracker(
        dir.path(),
        &[
            "copy-data",
            "--from",
            "mysql://app:hunter2@db/x",
            "--to",
            "sqlite://y.db",
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.both());
    assert!(run.stderr.contains("--from is not a database URL"), "{}", run.both());
    assert!(run.stderr.contains("Usage: healthtracker copy-data"), "{}", run.both());
    assert!(!run.stderr.contains("hunter2"), "{}", run.both());
    assert!(names_in(dir.path()).is_empty(), "{:?}", names_in(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_are_printed_for_each_shell_and_load_in_bash() {
    let dir = tempfile::tempdir().expect("temp dir");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = healthtracker(dir.path(), &["completions", shell], &[]).await;
        assert_eq!(run.code, Some(0), "{shell}: {}", run.both());
        for word in ["copy-data", "allow-empty", "completions"] {
            assert!(run.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let script = healthtracker(dir.path(), &["completions", "bash"], &[]).await.stdout;
    let path = dir.path().join("healthtracker.bash");
    std::fs::write(&path, script).expect("write");
    let loaded = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p healthtracker", path.display()))
        .output()
        .expect("bash");
    assert!(
        loaded.status.success() && String::from_utf8_lossy(&loaded.stdout).contains("healthtracker"),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
}

// --- copy-data: a source that is not there -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_data_from_a_missing_sqlite_file_says_what_to_check_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("target").join("healthtracker.db");
    // Relative, as an operator types it: the message says where it was looked for.
    let run = healthtracker(
        dir.path(),
        &[
            "copy-data",
            "--from",
            "sqlite://data/healthtracker.bd",
            "--to",
            &sqlite_url(&target),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    let expected = format!(
        "there is no SQLite database at data/healthtracker.bd (--from): check the path (a relative path is \
         read from {}",
        dir.path().display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.both());
    assert!(run.stdout.is_empty(), "{}", run.both());
    // Absolute.
    let missing = dir.path().join("old").join("healthtracker.db");
    let run = healthtracker(
        dir.path(),
        &[
            "copy-data",
            "--from",
            &sqlite_url(&missing),
            "--to",
            &sqlite_url(&target),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(
        run.stderr.contains(&format!(
            "there is no SQLite database at {} (--from)",
            missing.display()
        )),
        "{}",
        run.both()
    );
    // Neither the source, nor its directory, nor the target.
    assert!(names_in(dir.path()).is_empty(), "{:?}", names_in(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_data_from_a_file_that_is_not_an_installation_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("target.db");
    // An empty file (what `touch` or an earlier mistake leaves): SQLite would take it as an empty
    // database and the store would create its tables in it.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").expect("write");
    let run = healthtracker(
        dir.path(),
        &["copy-data", "--from", &sqlite_url(&empty), "--to", &sqlite_url(&target)],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(
        run.stderr
            .contains("holds no HealthTracker installation (it has no users table)"),
        "{}",
        run.both()
    );
    assert_eq!(
        std::fs::metadata(&empty).expect("metadata").len(),
        0,
        "the source was written"
    );
    // Something else altogether.
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database, but long enough to have been read as one".repeat(4),
    )
    .expect("write");
    let run = healthtracker(
        dir.path(),
        &["copy-data", "--from", &sqlite_url(&text), "--to", &sqlite_url(&target)],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(run.stderr.contains("is not a SQLite database"), "{}", run.both());
    // A directory.
    let run = healthtracker(
        dir.path(),
        &[
            "copy-data",
            "--from",
            &sqlite_url(dir.path()),
            "--to",
            &sqlite_url(&target),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(run.stderr.contains("is a directory"), "{}", run.both());
    assert_eq!(names_in(dir.path()), ["empty.db", "notes.txt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_data_from_an_unreachable_mongodb_says_what_to_check_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("target.db");
    let port = closed_port();
    // The timeout the URL sets is honoured (the default is 5 s).
    let from = format!("mongodb://app:hunter2@127.0.0.1:{port}/healthtracker?serverSelectionTimeoutMS=1000");
    let run = healthtracker(
        dir.path(),
        &["copy-data", "--from", &from, "--to", &sqlite_url(&target)],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(
        run.stderr
            .contains(&format!("cannot reach MongoDB at 127.0.0.1:{port} (--from) within 1 s")),
        "{}",
        run.both()
    );
    assert!(run.stderr.contains("check that the server runs"), "{}", run.both());
    assert!(!run.stderr.contains("hunter2"), "{}", run.both());
    assert!(names_in(dir.path()).is_empty(), "{:?}", names_in(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_data_from_an_unresolvable_mongodb_host_names_the_host() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("target.db");
    // `.invalid` never resolves (RFC 6761).
    let port = closed_port();
    let cases = [
        (
            "mongodb://app:hunter2@db.healthtracker.invalid:27017/healthtracker".to_owned(),
            "db.healthtracker.invalid",
        ),
        // One bad host in a list is named, not the good one.
        (
            format!("mongodb://127.0.0.1:{port},db2.healthtracker.invalid/healthtracker"),
            "db2.healthtracker.invalid",
        ),
        // A mongodb+srv:// URL is resolved through its SRV record.
        (
            "mongodb+srv://app:hunter2@cluster0.healthtracker.invalid/healthtracker".to_owned(),
            "cluster0.healthtracker.invalid",
        ),
    ];
    for (from, host) in cases {
        let run = healthtracker(
            dir.path(),
            &["copy-data", "--from", &from, "--to", &sqlite_url(&target)],
            &[],
        )
        .await;
        assert_eq!(run.code, Some(1), "{}", run.both());
        assert!(
            run.stderr
                .contains(&format!("cannot resolve the MongoDB host {host} (--from)")),
            "{}",
            run.both()
        );
        assert!(!run.stderr.contains("hunter2"), "{}", run.both());
    }
    assert!(names_in(dir.path()).is_empty(), "{:?}", names_in(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_data_from_a_mistyped_mongodb_database_does_not_create_it() {
    if !crate::mongo_server::available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("target.db");
    // A database name nobody used: MongoDB would create it at the first index the store builds.
    let mistyped = Database::fresh(Backend::MongoDb);
    let run = healthtracker(
        dir.path(),
        &["copy-data", "--from", &mistyped.url, "--to", &sqlite_url(&target)],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(
        run.stderr
            .contains("holds no HealthTracker installation (it has no users collection)")
            && run.stderr.contains("check the database name"),
        "{}",
        run.both()
    );
    let collections = mistyped
        .mongo_db()
        .await
        .list_collection_names()
        .await
        .expect("list collections");
    assert!(collections.is_empty(), "the source was created: {collections:?}");
    assert!(names_in(dir.path()).is_empty(), "{:?}", names_in(dir.path()));
}

// --- copy-data: a source with no users -----------------------------------------------------------

crate::api_test! {
    async fn copy_data_refuses_an_empty_source_unless_allowed(backend) {
        // A real installation (its schema or indexes made by the server), with nobody in it.
        let source = TestApp::spawn(backend).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("target.db");
        let args = ["copy-data", "--from", source.database.url.as_str(), "--to", &sqlite_url(&target)];
        let run = healthtracker(dir.path(), &args, &[]).await;
        assert_eq!(run.code, Some(1), "{}", run.both());
        assert!(
            run.stderr.contains("the source (--from) holds no users, so there is nothing to copy")
                && run.stderr.contains("--allow-empty"),
            "{}",
            run.both()
        );
        assert!(run.stdout.is_empty(), "{}", run.both());
        assert!(names_in(dir.path()).is_empty(), "the target was touched: {:?}", names_in(dir.path()));

        // Allowed: the target is made, and holds the nothing the source does.
        let args: Vec<&str> = args.iter().copied().chain(["--allow-empty"]).collect();
        let run = healthtracker(dir.path(), &args, &[]).await;
        assert_eq!(run.code, Some(0), "{}", run.both());
        assert!(run.stdout.contains("users copied 0, merged 0, refused 0; entries copied 0"), "{}", run.both());
        assert!(target.is_file());

        // And once the source has a user, it is copied without being asked.
        let session = source.signup().await;
        source.created_entry(&session.access, &json!({"date": "2026-11-01", "calories": 1})).await;
        let second = dir.path().join("second.db");
        let run = healthtracker(
            dir.path(),
            &["copy-data", "--from", source.database.url.as_str(), "--to", &sqlite_url(&second)],
            &[],
        )
        .await;
        assert_eq!(run.code, Some(0), "{}", run.both());
        assert!(run.stdout.contains("users copied 1, merged 0, refused 0; entries copied 1"), "{}", run.both());
    }
}

// --- backup ----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_a_missing_database_says_what_to_check_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let to = dir.path().join("nightly").join("backup.db");
    let to = to.to_str().expect("utf-8");
    // Named by --from.
    let missing = dir.path().join("healthtracker.db");
    let run = healthtracker(
        dir.path(),
        &["backup", "--from", &sqlite_url(&missing), "--to", to],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(
        run.stderr.contains(&format!(
            "there is no SQLite database at {} (--from)",
            missing.display()
        )),
        "{}",
        run.both()
    );
    // Named by DATABASE_URL, read as the server reads it.
    let run = healthtracker(
        dir.path(),
        &["backup", "--to", to],
        &[("DATABASE_URL", "sqlite://data/typo.db")],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(
        run.stderr
            .contains("there is no SQLite database at data/typo.db (DATABASE_URL)")
            && run.stderr.contains(&dir.path().display().to_string()),
        "{}",
        run.both()
    );
    // Neither: the server's default, said as such.
    let run = healthtracker(dir.path(), &["backup", "--to", to], &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(
        run.stderr
            .contains("there is no SQLite database at data/healthtracker.db (the default: DATABASE_URL is not set)"),
        "{}",
        run.both()
    );
    // No database, no data/ directory, no backup directory.
    assert!(names_in(dir.path()).is_empty(), "{:?}", names_in(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_reads_the_database_through_the_configuration_like_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let to = dir.path().join("backup.db");
    let to_arg = to.to_str().expect("utf-8");
    // The old backend's MONGO_URI names a MongoDB database: not something backup copies.
    let run = healthtracker(
        dir.path(),
        &["backup", "--to", to_arg],
        &[("MONGO_URI", "mongodb://db.internal:27017/healthtracker")],
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.both());
    assert!(
        run.stderr.contains("(MONGO_URI) is MongoDB") && run.stderr.contains("mongodump"),
        "{}",
        run.both()
    );
    // An invalid DATABASE_URL is the server's configuration error, with its exit status.
    let run = healthtracker(
        dir.path(),
        &["backup", "--to", to_arg],
        &[("DATABASE_URL", "postgres://app:hunter2@db/x")],
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.both());
    assert!(
        run.stderr.contains("configuration error: DATABASE_URL"),
        "{}",
        run.both()
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.both());
    // A .env file is read, as the server reads it; production's other requirements do not matter.
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.signup().await;
    app.created_entry(&session.access, &json!({"date": "2026-11-01"})).await;
    std::fs::write(
        dir.path().join(".env"),
        format!("APP_ENV=production\nDATABASE_URL={}\n", app.database.url),
    )
    .expect("write .env");
    let run = healthtracker(dir.path(), &["backup", "--to", to_arg], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.both());
    assert!(
        run.stdout.contains("1 users, 1 entries, integrity ok"),
        "{}",
        run.both()
    );
    assert!(to.is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_refuses_a_database_with_no_users_unless_allowed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let to = dir.path().join("nightly").join("backup.db");
    let to_arg = to.to_str().expect("utf-8");
    let run = healthtracker(
        dir.path(),
        &["backup", "--from", &app.database.url, "--to", to_arg],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(
        run.stderr.contains("(--from) holds no users") && run.stderr.contains("--allow-empty"),
        "{}",
        run.both()
    );
    assert!(names_in(dir.path()).is_empty(), "{:?}", names_in(dir.path()));
    let run = healthtracker(
        dir.path(),
        &["backup", "--from", &app.database.url, "--to", to_arg, "--allow-empty"],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.both());
    assert!(
        run.stdout.contains("0 users, 0 entries, integrity ok"),
        "{}",
        run.both()
    );
    // The missing directory was made.
    assert!(to.is_file());
    let restored = TestApp::builder(Backend::Sqlite)
        .database(Arc::new(Database::sqlite_file(to.clone())))
        .spawn()
        .await;
    assert_eq!(restored.health().await.status(), StatusCode::OK);
}

// --- serve -----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_a_worker_does_not_report_one_stopping() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = closed_port();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_healthtracker"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let client = http_client();
    let live = format!("http://127.0.0.1:{port}/api/health/live");
    let mut up = false;
    for _ in 0..300 {
        if client.get(&live).send().await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(up, "the server did not start:\n{}", read_log());
    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status:?}\n{}", read_log());
    let log = read_log();
    assert!(log.contains("API stopped"), "{log}");
    assert!(!log.contains("AI job worker"), "no worker ran, yet:\n{log}");
}

// --- admin --------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_grant_revoke_and_invite_work_on_the_configured_database() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = app.database.url.clone();
    let env = [("DATABASE_URL", url.as_str())];
    let user = app.signup().await;
    let response = app
        .get("/api/admin/users")
        .bearer_auth(&user.access)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let run = healthtracker(dir.path(), &["admin", "grant", &user.email.to_uppercase()], &env).await;
    assert_eq!(run.code, Some(0), "{}", run.both());
    let response = app
        .get("/api/admin/users")
        .bearer_auth(&user.access)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    // The last administrator stays one: refused, nothing changed.
    let run = healthtracker(dir.path(), &["admin", "revoke", &user.email], &env).await;
    assert_eq!(run.code, Some(1), "{}", run.both());
    assert!(run.stderr.contains("last active administrator"), "{}", run.both());
    let response = app
        .get("/api/admin/users")
        .bearer_auth(&user.access)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let other = app.signup().await;
    let run = healthtracker(dir.path(), &["admin", "grant", &other.email], &env).await;
    assert_eq!(run.code, Some(0), "{}", run.both());
    let run = healthtracker(dir.path(), &["admin", "revoke", &user.email], &env).await;
    assert_eq!(run.code, Some(0), "{}", run.both());
    let response = app
        .get("/api/admin/users")
        .bearer_auth(&user.access)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let run = healthtracker(dir.path(), &["admin", "grant", "nobody@example.com"], &env).await;
    assert_eq!(run.code, Some(1), "{}", run.both());

    // An invite code on stdout, alone, that registration by invitation takes (twice).
    let run = healthtracker(
        dir.path(),
        &["admin", "invite", "--uses", "2", "--expires-days", "3"],
        &env,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.both());
    let code = run.stdout.trim().to_owned();
    assert!(
        code.len() >= 16 && code.chars().all(|c| c.is_ascii_hexdigit()),
        "{}",
        run.both()
    );
    let invited = TestApp::builder(Backend::Sqlite)
        .env("REGISTRATION", "invite")
        .database(app.database.clone())
        .spawn()
        .await;
    for i in 0..3 {
        let response = invited
            .register(&json!({ "name": "Invited", "email": format!("inv{i}-{}@example.com", hex_id()), "password": PASSWORD, "inviteCode": code }))
            .await;
        let expected = if i < 2 {
            StatusCode::CREATED
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(response.status(), expected);
    }
    let run = healthtracker(dir.path(), &["admin", "invite", "--uses", "0"], &env).await;
    assert_eq!(run.code, Some(2), "{}", run.both());
}
