//! The worker: runs queued AI jobs with at most `WORKER_CONCURRENCY` at once, retries a failed job
//! with exponential backoff (2 s, doubling) for exactly `AI_JOB_MAX_ATTEMPTS` attempts, and survives
//! Redis outages by restarting itself with a backoff under a fresh name.
//!
//! apalis-redis 1.0 needs these guards (see `shared/notes/apalis-redis.md`):
//! - pickup is polled every 500 ms (it would otherwise wait for the 30 s heartbeat);
//! - the last attempt returns `AbortError`, or apalis-redis re-queues the job up to 25 times;
//! - a worker stopped by a Redis error is not restarted by the `Monitor` unless told to, restarting
//!   at once spins, and a restarted worker must not reuse its name;
//! - stopped workers are never deregistered and finished jobs never deleted: both are cleaned here.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::layers::WorkerBuilderExt;
use apalis::layers::retry::backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use apalis::layers::retry::{BackoffRetryPolicy, HasherRng, RetryPolicy};
use apalis::prelude::{AbortError, Attempt, BackendExt, BoxDynError, Data, Monitor, TaskId, WorkerBuilder};
use apalis_core::backend::Vacuum;
use ulid::Ulid;

use super::{AiJob, JobChange, JobRecords, QueueStorage, RECORD_TTL, queue_storage};
use crate::ai::{AiAnswer, AiClient, AiError};
use crate::metrics::{JobOutcome, SharedMetrics};
use crate::redis_conn::RedisConn;
use crate::storage::CoachStore;

pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(2);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
const RESTART_MIN_DELAY: Duration = Duration::from_millis(500);
const RESTART_MAX_DELAY: Duration = Duration::from_secs(5);
const VACUUM_EVERY: Duration = Duration::from_secs(60 * 60);

#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub concurrency: usize,
    pub max_attempts: u32,
}

#[derive(Clone)]
struct WorkerDeps {
    ai: AiClient,
    /// Where a finished chat's turn is remembered.
    store: Arc<dyn CoachStore>,
    records: JobRecords,
    max_attempts: u32,
    metrics: SharedMetrics,
}

/// Runs workers until `shutdown` resolves; jobs already running finish first.
pub async fn run(
    redis: RedisConn,
    ai: AiClient,
    store: Arc<dyn CoachStore>,
    options: WorkerOptions,
    metrics: SharedMetrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let storage = queue_storage(&redis);
    let deps = WorkerDeps {
        ai,
        store,
        records: JobRecords::new(redis.clone()),
        max_attempts: options.max_attempts,
        metrics,
    };
    let names = Arc::new(Mutex::new(Vec::new()));
    let monitor = supervised_monitor(storage.clone(), deps, options.clone(), Arc::clone(&names))?;

    let (stop_vacuum, vacuum_stopped) = tokio::sync::watch::channel(false);
    let vacuum = tokio::spawn(vacuum_periodically(storage.clone(), vacuum_stopped));
    tracing::info!(
        concurrency = options.concurrency,
        max_attempts = options.max_attempts,
        queue = %super::queue_name(&redis),
        "AI job worker started"
    );
    let outcome = monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await;
    let _ = stop_vacuum.send(true);
    let _ = vacuum.await;
    let started: Vec<String> = names.lock().map(|n| n.clone()).unwrap_or_default();
    if let Err(error) = deregister(&storage, started).await {
        tracing::debug!(error = %error, "could not deregister stopped workers (Redis down?)");
    }
    match outcome {
        Ok(()) => {
            tracing::info!("AI job worker stopped");
            Ok(())
        }
        // Closing needs Redis; a worker stopped while Redis is down cannot say goodbye. Not fatal.
        Err(error) => {
            tracing::warn!(error = %error, "AI job worker stopped uncleanly");
            Ok(())
        }
    }
}

/// 2 s, 4 s, 8 s … between attempts, `max_attempts` attempts in all.
fn retry_policy(max_attempts: u32) -> anyhow::Result<BackoffRetryPolicy<ExponentialBackoff<HasherRng>>> {
    let backoff = ExponentialBackoffMaker::new(FIRST_RETRY_DELAY, MAX_RETRY_DELAY, 0.0, HasherRng::default())
        .map_err(|e| anyhow::anyhow!("invalid retry backoff: {e}"))?
        .make_backoff();
    // `retries(n)` means n + 1 attempts.
    Ok(RetryPolicy::retries(max_attempts.saturating_sub(1) as usize).with_backoff(backoff))
}

fn restart_delay(consecutive_failures: u32) -> Duration {
    if consecutive_failures == 0 {
        return Duration::ZERO;
    }
    (RESTART_MIN_DELAY * 2u32.saturating_pow(consecutive_failures.saturating_sub(1).min(16))).min(RESTART_MAX_DELAY)
}

fn supervised_monitor(
    storage: QueueStorage,
    deps: WorkerDeps,
    options: WorkerOptions,
    names: Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<Monitor> {
    let policy = retry_policy(options.max_attempts)?;
    let failures = Arc::new(AtomicU32::new(0));
    let failures_seen = Arc::clone(&failures);
    let host = hostname();
    let monitor = Monitor::new()
        .register(move |restarts: usize| {
            // A fresh name on every start: apalis refuses a name it saw recently.
            let name = format!("ai-worker-{host}-{}", Ulid::generate());
            if let Ok(mut names) = names.lock() {
                names.push(name.clone());
            }
            let delay = restart_delay(failures.load(Ordering::SeqCst));
            if restarts > 0 {
                tracing::info!(worker = %name, restarts, delay_ms = delay.as_millis() as u64, "restarting AI job worker");
            }
            let registered = Arc::clone(&failures);
            let backend = storage
                .clone()
                .poll_with_interval(POLL_INTERVAL)
                // The factory cannot wait, so the restart backoff sleeps here.
                .before_start(move |_| async move {
                    tokio::time::sleep(delay).await;
                    Ok(())
                })
                .after_start(move |_| {
                    registered.store(0, Ordering::SeqCst);
                    async { Ok(()) }
                });
            WorkerBuilder::new(name)
                .backend(backend)
                .data(deps.clone())
                .concurrency(options.concurrency)
                .retry(policy.clone())
                .build(handle)
        })
        .should_restart(move |context, error| {
            if context.is_shutting_down() {
                return false;
            }
            failures_seen.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(worker = context.name(), error = %error, "AI job worker stopped; restarting");
            true
        });
    Ok(monitor)
}

/// One attempt at one job. The record is updated as it goes (best effort: bookkeeping must never
/// fail a job).
async fn handle(job: AiJob, id: TaskId, attempt: Attempt, deps: Data<WorkerDeps>) -> Result<(), BoxDynError> {
    let id = id.to_string();
    let attempt_number = attempt.current() as u32;
    let started = Instant::now();
    if let Ok(false) = deps.records.exists(&id).await {
        // Withdrawn by the API (its enqueue ran out of time and the request was answered inline).
        tracing::info!(job_id = %id, "AI job withdrawn before it ran; skipped");
        return Ok(());
    }
    let _ = deps
        .records
        .update(
            &id,
            JobChange::Started {
                attempt: attempt_number,
            },
        )
        .await;

    let outcome: Result<AiAnswer, AiError> = job.task.run(&deps.ai).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(answer) => {
            // Remembered before the job reads as completed: a client that sees it done and asks
            // for the history finds the turn there.
            crate::coach::remember(&*deps.store, job.user_id, &job.task, &answer).await;
            let _ = deps.records.update(&id, JobChange::Completed { result: &answer }).await;
            let _ = deps.records.release(job.user_id, &id).await;
            deps.metrics
                .record_job(job.task.kind().as_str(), JobOutcome::Completed, attempt_number);
            tracing::info!(job_id = %id, job = job.task.kind().as_str(), attempt = attempt_number, elapsed_ms, "AI job completed");
            // The answer lives in the job record only (`status` reads it there), not in apalis' meta too.
            Ok(())
        }
        Err(error) => {
            let reason = error.to_string();
            let last = attempt_number >= deps.max_attempts;
            let change = JobChange::Failed {
                reason: reason.clone(),
                last,
            };
            let _ = deps.records.update(&id, change).await;
            let outcome = if last { JobOutcome::Failed } else { JobOutcome::Retried };
            deps.metrics
                .record_job(job.task.kind().as_str(), outcome, attempt_number);
            if last {
                let _ = deps.records.release(job.user_id, &id).await;
                tracing::warn!(job_id = %id, job = job.task.kind().as_str(), attempt = attempt_number, elapsed_ms, %reason, "AI job failed");
                // Final: apalis-redis would otherwise re-queue it up to 25 times.
                return Err(Box::new(AbortError::new(error)));
            }
            tracing::info!(job_id = %id, job = job.task.kind().as_str(), attempt = attempt_number, %reason, "AI job attempt failed; will retry");
            Err(Box::new(error))
        }
    }
}

/// Removes stopped workers from apalis' registry: its own cleanup removes the wrong member, so they
/// would stay listed forever. A worker still holding jobs stays, so its jobs can be recovered.
const DEREGISTER_SCRIPT: &str = r"
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
return removed
";

async fn deregister(storage: &QueueStorage, names: Vec<String>) -> Result<(), redis::RedisError> {
    let mut storage = storage.clone();
    let config = storage.get_config().clone();
    let connection = storage.get_connection();
    for name in names {
        let _: i64 = redis::Script::new(DEREGISTER_SCRIPT)
            .key(config.workers_set())
            .key(format!("{}:{name}", config.inflight_jobs_set()))
            .key(format!("{}:workers:metadata:{name}", config.queue.as_ref()))
            .arg(&name)
            .invoke_async(connection)
            .await?;
    }
    Ok(())
}

/// Drops ids of vacuumed jobs from apalis' done/dead sets, which it never cleans.
const PRUNE_SCRIPT: &str = r"
local removed = 0
for _, set in ipairs({KEYS[2], KEYS[3]}) do
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    if redis.call('HEXISTS', KEYS[1], id) == 0 then
      redis.call('SREM', set, id)
      removed = removed + 1
    end
  end
end
return removed
";

/// Deletes apalis' copies of jobs that finished more than a day ago (our records expire by TTL).
async fn vacuum_periodically(storage: QueueStorage, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(VACUUM_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let mut vacuum = storage.clone();
                match vacuum.vacuum_before(RECORD_TTL).await {
                    Ok(removed) => {
                        let config = storage.get_config().clone();
                        let mut connection = storage.clone().get_connection().clone();
                        let pruned: Result<i64, _> = redis::Script::new(PRUNE_SCRIPT)
                            .key(config.job_data_hash())
                            .key(config.done_jobs_set())
                            .key(config.dead_jobs_set())
                            .invoke_async(&mut connection)
                            .await;
                        tracing::debug!(removed, pruned = pruned.unwrap_or_default(), "vacuumed finished AI jobs");
                    }
                    Err(error) => tracing::debug!(error = %error, "could not vacuum finished AI jobs"),
                }
            }
            _ = stop.changed() => break,
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(32)
                .collect()
        })
        .filter(|h: &String| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned())
}

#[cfg(test)]
mod tests {
    use super::restart_delay;
    use std::time::Duration;

    #[test]
    fn restart_backoff_doubles_up_to_five_seconds() {
        let delays: Vec<u64> = (0..7).map(|n| restart_delay(n).as_millis() as u64).collect();
        assert_eq!(delays, [0, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(restart_delay(u32::MAX), Duration::from_secs(5));
    }
}
