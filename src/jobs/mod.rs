//! Queued AI jobs in Redis, run by workers (`apalis` + `apalis-redis`).
//!
//! apalis owns delivery (queue, fetch, retries); the job's public record — owner, state, progress,
//! attempts, result, failure reason — lives in a hash of our own, `<prefix>:job:<id>`, because apalis
//! cannot show a job being retried, has no progress, and keeps finished jobs forever. The record
//! expires a day after the job finishes. A per-user sorted set `<prefix>:jobs:inflight:<user>` caps
//! how many jobs one user has queued or running, and `<prefix>:jobs:user:<user>` lists every job of
//! the user whose record may still exist, so deleting the account can delete them all.

pub mod worker;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use apalis_redis::{Config as QueueConfig, RedisStorage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::ai::{AiAnswer, AiTask, TaskKind};
use crate::domain::ids::UserId;
use crate::redis_conn::RedisConn;

/// How long an enqueue may take before the request is served inline instead.
pub const ENQUEUE_BUDGET: Duration = Duration::from_millis(500);
/// Finished jobs' records are kept this long.
pub const RECORD_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// A reservation older than this no longer counts against the user (its job was lost with Redis).
const STALE_RESERVATION: Duration = Duration::from_secs(60 * 60);

/// What a worker receives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AiJob {
    pub user_id: UserId,
    pub task: AiTask,
}

pub type QueueStorage = RedisStorage<AiJob>;

/// The queue's Redis key prefix (apalis names every key `<queue>:…`).
pub fn queue_name(redis: &RedisConn) -> String {
    redis.key("ai-jobs")
}

pub fn queue_config(redis: &RedisConn) -> QueueConfig {
    QueueConfig::default()
        .queue(queue_name(redis))
        .heartbeat_interval(Duration::from_secs(5))
        // A crashed worker's jobs return to the queue after 30 s (apalis' default is 300 s).
        .missed_heartbeats(6)
        .batch_size(5)
}

pub fn queue_storage(redis: &RedisConn) -> QueueStorage {
    RedisStorage::new(redis.manager()).with_config(queue_config(redis))
}

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("too many jobs in flight for this user")]
    UserLimit,
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct QueueUnavailable(pub String);

/// A job's public state (BullMQ's names, which the old backend exposed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Waiting,
    Active,
    /// Failed an attempt; waiting for its backoff before the next.
    Delayed,
    Completed,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Active => "active",
            JobState::Delayed => "delayed",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "active" => JobState::Active,
            "delayed" => JobState::Delayed,
            "completed" => JobState::Completed,
            "failed" => JobState::Failed,
            _ => JobState::Waiting,
        }
    }
}

/// A job as `GET /ai/job-status/{id}` shows it.
#[derive(Clone, Debug)]
pub struct JobRecord {
    pub id: String,
    pub owner: UserId,
    pub name: TaskKind,
    pub state: JobState,
    pub progress: u8,
    pub attempts: u32,
    pub result: Option<AiAnswer>,
    pub failed_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl JobRecord {
    fn from_hash(id: &str, fields: HashMap<String, String>) -> Option<Self> {
        let owner = UserId::parse(fields.get("owner")?)?;
        let name = TaskKind::parse(fields.get("name")?)?;
        let millis = |name: &str| {
            fields
                .get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(DateTime::<Utc>::from_timestamp_millis)
        };
        Some(Self {
            id: id.to_owned(),
            owner,
            name,
            state: JobState::parse(fields.get("state").map_or("", String::as_str)),
            progress: fields.get("progress").and_then(|v| v.parse().ok()).unwrap_or(0),
            attempts: fields.get("attempts").and_then(|v| v.parse().ok()).unwrap_or(0),
            result: fields.get("result").and_then(|v| serde_json::from_str(v).ok()),
            failed_reason: fields.get("failedReason").cloned(),
            created_at: millis("createdAt"),
            finished_at: millis("finishedAt"),
        })
    }
}

/// What happens to a job, as written to its record: the record's fields are named here and in
/// [`JobRecord::from_hash`] only.
pub enum JobChange<'a> {
    Queued { owner: UserId, name: TaskKind },
    Started { attempt: u32 },
    Completed { result: &'a AiAnswer },
    Failed { reason: String, last: bool },
}

impl JobChange<'_> {
    fn fields(&self) -> Result<Vec<(&'static str, String)>, serde_json::Error> {
        let now = now_millis().to_string();
        Ok(match self {
            JobChange::Queued { owner, name } => vec![
                ("owner", owner.to_string()),
                ("name", name.as_str().to_owned()),
                ("state", JobState::Waiting.as_str().to_owned()),
                ("progress", "0".to_owned()),
                ("attempts", "0".to_owned()),
                ("createdAt", now),
            ],
            JobChange::Started { attempt } => vec![
                ("state", JobState::Active.as_str().to_owned()),
                ("attempts", attempt.to_string()),
                ("progress", "10".to_owned()),
                ("processedAt", now),
            ],
            JobChange::Completed { result } => vec![
                ("state", JobState::Completed.as_str().to_owned()),
                ("progress", "100".to_owned()),
                ("result", serde_json::to_string(result)?),
                ("finishedAt", now),
            ],
            JobChange::Failed { reason, last } => {
                let state = if *last { JobState::Failed } else { JobState::Delayed };
                let mut fields = vec![("state", state.as_str().to_owned()), ("failedReason", reason.clone())];
                if *last {
                    fields.push(("finishedAt", now));
                }
                fields
            }
        })
    }
}

/// Writes and reads job records and per-user reservations.
#[derive(Clone)]
pub struct JobRecords {
    redis: RedisConn,
}

const RESERVE_SCRIPT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
";

/// One job, gone: our record, apalis' payload, result and bookkeeping of it.
const FORGET_JOB_SCRIPT: &str = r"
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('LREM', KEYS[7], 0, ARGV[1])
return 1
";

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

impl JobRecords {
    pub fn new(redis: RedisConn) -> Self {
        Self { redis }
    }

    fn record_key(&self, id: &str) -> String {
        self.redis.key(&format!("job:{id}"))
    }

    fn inflight_key(&self, user: UserId) -> String {
        self.redis.key(&format!("jobs:inflight:{user}"))
    }

    fn user_jobs_key(&self, user: UserId) -> String {
        self.redis.key(&format!("jobs:user:{user}"))
    }

    /// Remembers that `user` has job `id` (for as long as its record can live).
    async fn note_job(&self, user: UserId, id: &str) -> redis::RedisResult<()> {
        let key = self.user_jobs_key(user);
        let keep = (RECORD_TTL + STALE_RESERVATION).as_secs() as i64;
        redis::pipe()
            .zadd(&key, id, now_millis())
            .ignore()
            .zrembyscore(&key, "-inf", now_millis() - keep * 1000)
            .ignore()
            .expire(&key, keep)
            .ignore()
            .query_async(&mut self.redis.manager())
            .await
    }

    /// Deletes everything of `user` in Redis that the queue holds: each job's record, its payload
    /// and result in apalis' keys (a job still queued is dropped with them: a worker skips a job
    /// without a record), and the user's own sets.
    pub async fn forget_user(&self, user: UserId, queue: &QueueConfig) -> redis::RedisResult<()> {
        // Built once: `Script::new` hashes the source (SHA-1) every time it is called.
        static FORGET: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(FORGET_JOB_SCRIPT));
        let jobs: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.user_jobs_key(user))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.redis.manager())
            .await?;
        for id in jobs {
            let _: i64 = FORGET
                .key(self.record_key(&id))
                .key(queue.job_data_hash())
                .key(format!("{}:{id}", queue.job_meta_hash()))
                .key(queue.done_jobs_set())
                .key(queue.dead_jobs_set())
                .key(queue.scheduled_jobs_set())
                .key(queue.active_jobs_list())
                .arg(&id)
                .invoke_async(&mut self.redis.manager())
                .await?;
        }
        redis::cmd("DEL")
            .arg(self.user_jobs_key(user))
            .arg(self.inflight_key(user))
            .query_async(&mut self.redis.manager())
            .await
    }

    /// Holds one of the user's `max` slots for job `id`; `false` when all are taken.
    async fn reserve(&self, user: UserId, id: &str, max: u32) -> redis::RedisResult<bool> {
        let now = now_millis();
        // Built once: `Script::new` hashes the source (SHA-1) every time it is called.
        static RESERVE: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RESERVE_SCRIPT));
        let reserved: i64 = RESERVE
            .key(self.inflight_key(user))
            .arg(now - STALE_RESERVATION.as_millis() as i64)
            .arg(max)
            .arg(now)
            .arg(id)
            .arg(STALE_RESERVATION.as_millis() as i64)
            .invoke_async(&mut self.redis.manager())
            .await?;
        Ok(reserved == 1)
    }

    /// Frees the job's slot (it finished, or never made it into the queue).
    pub async fn release(&self, user: UserId, id: &str) -> redis::RedisResult<()> {
        redis::cmd("ZREM")
            .arg(self.inflight_key(user))
            .arg(id)
            .query_async(&mut self.redis.manager())
            .await
    }

    /// Writes a change to a record and (re)starts its expiry, in one round trip.
    pub async fn update(&self, id: &str, change: JobChange<'_>) -> redis::RedisResult<()> {
        let fields = change.fields().map_err(|error| {
            redis::RedisError::from((
                redis::ErrorKind::Client,
                "job record not serializable",
                error.to_string(),
            ))
        })?;
        let key = self.record_key(id);
        redis::pipe()
            .atomic()
            .hset_multiple(&key, &fields)
            .ignore()
            .expire(&key, RECORD_TTL.as_secs() as i64)
            .ignore()
            .query_async(&mut self.redis.manager())
            .await
    }

    /// Takes back a job the API did not hand over (its enqueue failed or ran out of time): frees
    /// the slot and deletes the record, so a worker that finds the job anyway skips it.
    async fn withdraw(&self, user: UserId, id: &str) -> redis::RedisResult<()> {
        redis::pipe()
            .zrem(self.inflight_key(user), id)
            .ignore()
            .del(self.record_key(id))
            .ignore()
            .query_async(&mut self.redis.manager())
            .await
    }

    /// Whether the job still has its record (a withdrawn one does not).
    pub async fn exists(&self, id: &str) -> redis::RedisResult<bool> {
        redis::cmd("EXISTS")
            .arg(self.record_key(id))
            .query_async(&mut self.redis.manager())
            .await
    }

    pub async fn get(&self, id: &str) -> redis::RedisResult<Option<JobRecord>> {
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.record_key(id))
            .query_async(&mut self.redis.manager())
            .await?;
        Ok(JobRecord::from_hash(id, fields))
    }
}

/// The API side of the queue: enqueue and look up jobs.
#[derive(Clone)]
pub struct JobQueue {
    storage: QueueStorage,
    records: JobRecords,
    max_per_user: u32,
}

impl JobQueue {
    pub fn new(redis: &RedisConn, max_per_user: u32) -> Self {
        Self {
            storage: queue_storage(redis),
            records: JobRecords::new(redis.clone()),
            max_per_user,
        }
    }

    /// Queues `task` for `user` and returns the job id. Gives up after [`ENQUEUE_BUDGET`] so the
    /// caller can still answer inline within the normal AI timeout; a job given up on is withdrawn,
    /// so it neither holds one of the user's slots nor runs a second time behind the inline answer.
    pub async fn enqueue(&self, user: UserId, task: AiTask) -> Result<String, EnqueueError> {
        let id = Ulid::generate();
        match tokio::time::timeout(ENQUEUE_BUDGET, self.try_enqueue(user, id, task)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let records = self.records.clone();
                tokio::spawn(async move {
                    // Best effort: if Redis is down, the reservation expires by itself.
                    let _ = records.withdraw(user, &id.to_string()).await;
                });
                Err(EnqueueError::Unavailable(format!(
                    "no answer within {ENQUEUE_BUDGET:?}"
                )))
            }
        }
    }

    async fn try_enqueue(&self, owner: UserId, ulid: Ulid, task: AiTask) -> Result<String, EnqueueError> {
        let unavailable = |e: redis::RedisError| EnqueueError::Unavailable(e.to_string());
        let id = ulid.to_string();
        if !self
            .records
            .reserve(owner, &id, self.max_per_user)
            .await
            .map_err(unavailable)?
        {
            return Err(EnqueueError::UserLimit);
        }
        let record = JobChange::Queued {
            owner,
            name: task.kind(),
        };
        let pushed = async {
            // The record first, so a worker never picks up a job without one.
            self.records.update(&id, record).await.map_err(unavailable)?;
            self.records.note_job(owner, &id).await.map_err(unavailable)?;
            let job = TaskBuilder::new(AiJob { user_id: owner, task })
                .task_id(TaskId::from_ulid(ulid))
                .build();
            // A fresh clone per push: a push cancelled half-way leaves state in the sink that would turn
            // the next push on the same value into a silent no-op.
            let mut storage = self.storage.clone();
            storage
                .push_task(job)
                .await
                .map_err(|e| EnqueueError::Unavailable(e.to_string()))
        }
        .await;
        if let Err(error) = pushed {
            // Best effort: Redis is probably down, and the reservation expires by itself anyway.
            let _ = self.records.withdraw(owner, &id).await;
            return Err(error);
        }
        Ok(id)
    }

    /// The caller's job, or `None` when it does not exist or belongs to someone else.
    pub async fn status(&self, user: UserId, id: &str) -> Result<Option<JobRecord>, QueueUnavailable> {
        if id.parse::<Ulid>().is_err() {
            return Ok(None);
        }
        let lookup = tokio::time::timeout(ENQUEUE_BUDGET, self.records.get(id)).await;
        match lookup {
            Ok(Ok(record)) => Ok(record.filter(|r| r.owner == user)),
            Ok(Err(e)) => Err(QueueUnavailable(e.to_string())),
            Err(_) => Err(QueueUnavailable("Redis did not answer".to_owned())),
        }
    }

    /// Deletes every job of `user` from Redis (their account is being deleted).
    pub async fn forget_user(&self, user: UserId) -> redis::RedisResult<()> {
        self.records.forget_user(user, self.storage.get_config()).await
    }

    /// Jobs waiting to run: scheduled (including retries waiting out their backoff) or pushed and
    /// not yet fetched by a worker (apalis' "active" list).
    pub async fn queued(&self) -> redis::RedisResult<u64> {
        let config = self.storage.get_config();
        let (scheduled, active): (u64, u64) = redis::pipe()
            .zcard(config.scheduled_jobs_set())
            .llen(config.active_jobs_list())
            .query_async(&mut self.records.redis.manager())
            .await?;
        Ok(scheduled + active)
    }
}
