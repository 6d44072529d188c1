//! Storage: a trait per role ([`AccountStore`], [`EntryStore`], [`CoachStore`], [`TransferStore`]),
//! gathered in [`Storage`], and one module per backend that implements each role in a file of its own
//! (`accounts.rs`, `entries.rs`, `history.rs`, `transfer.rs`). Handlers only ever see `dyn Storage`,
//! so a backend is chosen once at start-up from `DATABASE_URL` and nothing above this layer knows
//! which one it is.
//!
//! Backends must behave identically; the HTTP test suite runs against each of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use self::security::SecurityStore;
use self::transfer::{CollectionCounts, UserCredentials};
use crate::auth::scopes::ScopeSet;
use crate::domain::coach::HistoryMessage;
use crate::domain::day::Day;
use crate::domain::entry::{DocumentJson, Entry, EntryChanges, EntryRange};
use crate::domain::goals::Goals;
use crate::domain::ids::{EntryId, PersonalTokenId, UserId};
use crate::domain::stats::{DayFigures, LoggedDay};
use crate::domain::timezone::TimeZone;
use crate::domain::user::{Email, User, UserName};

pub mod days_outside;
pub mod mongo;
pub mod security;
pub mod sqlite;
pub mod transfer;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique rule was violated (e-mail taken, a second entry for one day). Each write that can
    /// conflict has exactly one unique rule it can break, so the caller knows which.
    #[error("unique constraint violated")]
    Conflict,
    /// The write is for a user that no longer exists: the account was deleted while the request
    /// was in flight (401 to the client, as for any token of a deleted account). Nothing of the
    /// write is left behind.
    #[error("no such user")]
    NoSuchUser,
    /// The database cannot be reached or cannot write (503 to the client; retrying later helps).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A refresh token's server-side record. The token itself is never stored, only its SHA-256.
#[derive(Clone, Debug)]
pub struct RefreshToken {
    pub token_hash: String,
    pub user_id: UserId,
    /// The [`Login`] it belongs to: every token obtained by rotating one login carries its id, and
    /// reuse of a rotated token ends the whole login. Stored as `family_id` (SQLite) / `family`
    /// (MongoDB), the names of the first schema.
    pub login_id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client that asked for it; kept on its login when the token starts one.
    pub user_agent: Option<String>,
}

/// A login ("session" in the API): created by a login, used by every refresh, ended by logout,
/// revocation, a password change or reuse detection. Access tokens name it (`sid`).
#[derive(Clone, Debug, PartialEq)]
pub struct Login {
    /// Shared by every refresh token of the login and named by its access tokens (`sid`).
    pub id: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    /// The last refresh (the login itself before the first one).
    pub last_used_at: DateTime<Utc>,
    pub user_agent: Option<String>,
}

/// What an import does with a day the account already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// Leave the stored entry.
    Skip,
    /// Overwrite it (its id and creation time stay).
    Replace,
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
}

/// A personal access token's record (API.md "Personal access tokens"). The token itself is never
/// stored, only its SHA-256: a copy of the database holds no usable token.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonalToken {
    pub id: PersonalTokenId,
    pub user_id: UserId,
    pub token_hash: String,
    pub name: String,
    pub scopes: ScopeSet,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Moved at most once a minute (see [`AccountStore::touch_personal_token`]).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A personal token found by its hash, with what a request needs of its user, read by the same
/// lookup (as [`TokenStanding::Valid`] for an access token).
#[derive(Clone, Debug, PartialEq)]
pub struct PersonalTokenStanding {
    pub token: PersonalToken,
    pub timezone: Option<TimeZone>,
    pub entries_version: u64,
}

/// What the store knows of a correctly signed access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStanding {
    /// Usable; with what most requests need to know of the user, read by the same lookup: their
    /// time zone (`None`: not set), which decides which day is today, and the count of writes to
    /// their entries so far, which tells whether a trends answer kept in memory is still true.
    Valid {
        timezone: Option<TimeZone>,
        entries_version: u64,
    },
    /// Logged out (its `jti` is in the revoked list), its login ended, or its user disabled.
    Revoked,
    /// Its user does not exist (a deleted account, or an id no one has).
    UnknownUser,
}

/// The database a server runs on: every role below, from one backend. Handlers hold
/// `Arc<dyn Storage>` and call the role their work needs.
#[async_trait]
pub trait Storage:
    AccountStore + EntryStore + CoachStore + TransferStore + SecurityStore + Send + Sync + 'static
{
    /// `sqlite` or `mongodb`, for logs and health.
    fn backend(&self) -> &'static str;

    /// Cheap round trip proving the database answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// Accounts and their logins. A login ("session" in the API, `sid` in an access token) is created by
/// a password login, carried on by each refresh (every refresh token of it shares its id), and ended
/// by logout, revocation, a password change or reuse detection.
///
/// Invariants: an access token's standing (user exists, not logged out, login not ended) is answered
/// by one lookup, since every authenticated request asks; ending a login refuses every refresh token
/// of it, including one a refresh in flight is handing out; deleting a user leaves nothing of theirs.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `Conflict` when the e-mail is taken.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()>;

    /// Sets what is given; the updated user, or `None` when there is none.
    async fn update_profile(
        &self,
        id: UserId,
        name: Option<&UserName>,
        timezone: Option<TimeZone>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    /// The user's goals (none for an unknown user).
    async fn goals(&self, user: UserId) -> StoreResult<Goals>;

    /// Replaces the user's goals; `false` when there is no such user. Moves the user's
    /// `entries_version` like an entry write, because the trends kept in memory show the goals.
    async fn set_goals(&self, user: UserId, goals: &Goals) -> StoreResult<bool>;

    /// Deletes the user and everything that is theirs in the database: entries, logins, refresh
    /// tokens, personal tokens, revoked-token rows (and any other per-user data a backend keeps). `false` when
    /// there was no such user.
    async fn delete_user(&self, id: UserId) -> StoreResult<bool>;

    /// Records a refresh token and brings its login up to date (created with it when it is the
    /// first of its login; otherwise `last_used_at` and the expiry move on). `Conflict` when that
    /// token is already recorded.
    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;

    async fn refresh_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;

    /// Marks an active refresh token rotated. `false` when it was already rotated or revoked: the caller
    /// lost a race with another use of the same token.
    async fn mark_refresh_token_rotated(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool>;

    /// Ends the login the refresh token belongs to (logout with a refresh token).
    async fn end_login_of_refresh_token(&self, user: UserId, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()>;

    /// Ends a login and every refresh token of it (reuse detection).
    async fn end_login(&self, login_id: &str, at: DateTime<Utc>) -> StoreResult<()>;

    /// Ends every login of the user.
    async fn end_every_login(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<()>;

    /// A refresh token the old backend stored in clear on the user document: consumed (removed) and
    /// `true` when it was there. Backends that never held such tokens keep the default.
    async fn take_legacy_refresh_token(&self, _user: UserId, _token: &str) -> StoreResult<bool> {
        Ok(false)
    }

    async fn revoke_access_token(&self, key: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()>;

    /// Whether an access token (revocation key `key`, of `user`, of login `login` when it names
    /// one) may still be used: its user exists, it was not logged out, its login was not ended.
    /// Every authenticated request asks, so it is one lookup where the backend allows (SQLite: one
    /// statement; MongoDB: its finds at once).
    async fn access_token_standing(&self, key: &str, user: UserId, login: Option<&str>) -> StoreResult<TokenStanding>;

    /// The user's live logins (not ended, not expired), newest first.
    async fn list_logins(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<Login>>;

    /// Ends one of the user's logins (its refresh tokens too). `false` when the user has no live
    /// login of that id.
    async fn end_user_login(&self, user: UserId, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;

    /// Records a personal token. `NoSuchUser` when the user is gone (deleted meanwhile).
    async fn insert_personal_token(&self, token: &PersonalToken) -> StoreResult<()>;

    /// The user's personal tokens that have not expired at `now`, newest first.
    async fn personal_tokens(&self, user: UserId, now: DateTime<Utc>) -> StoreResult<Vec<PersonalToken>>;

    /// Deletes (revokes) one of the user's personal tokens; `false` when the user has none of that id.
    async fn delete_personal_token(&self, user: UserId, id: PersonalTokenId) -> StoreResult<bool>;

    /// Deletes every personal token of the user (expired ones too), in one operation: a disabled
    /// account's tokens end; how many there were.
    async fn delete_personal_tokens_of(&self, user: UserId) -> StoreResult<u64>;

    /// The personal token of that hash with its user's standing, in one lookup (every request made
    /// with a personal token asks); `None` when there is none or its user is gone or disabled.
    /// Expiry is the caller's to check.
    async fn personal_token_standing(&self, token_hash: &str) -> StoreResult<Option<PersonalTokenStanding>>;

    /// Sets the token's `last_used_at` to `at` unless it was set less than `interval` before `at`:
    /// one conditional update, so several instances together write at most once per interval.
    /// `true` when it wrote.
    async fn touch_personal_token(
        &self,
        id: PersonalTokenId,
        at: DateTime<Utc>,
        interval: chrono::TimeDelta,
    ) -> StoreResult<bool>;

    /// Deletes revocations, logins and refresh tokens that have expired (backends with TTL indexes may do nothing).
    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Entries and the figures the trends read, always scoped to their owner: another user's entry
/// behaves as a missing one.
///
/// Invariant: every write to a user's entries (and to their goals) moves the user's
/// `entries_version`, which the access-token lookup returns: the trends kept in memory
/// (`trends_cache`) are only served while it has not moved.
#[async_trait]
pub trait EntryStore: Send + Sync {
    /// `Conflict` when the user already has an entry for that day.
    async fn insert_entry(&self, entry: &Entry) -> StoreResult<()>;

    /// Newest day first.
    async fn list_entries(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<Entry>>;

    /// The same entries as JSON documents (`Entry::document`), for `GET /entries`. Backends that keep
    /// each entry's document ready override this to skip decoding and re-encoding a page.
    async fn list_entry_documents(&self, user: UserId, range: &EntryRange) -> StoreResult<Vec<DocumentJson>> {
        Ok(self
            .list_entries(user, range)
            .await?
            .iter()
            .map(Entry::document_json)
            .collect())
    }
    /// [`Self::list_entry_documents`] written straight into `out`, separated by commas (the items
    /// of `GET /entries`'s array); returns how many. Backends that keep each document as text
    /// override it to copy them once, without a `String` per entry.
    async fn write_entry_documents(&self, user: UserId, range: &EntryRange, out: &mut Vec<u8>) -> StoreResult<usize> {
        let documents = self.list_entry_documents(user, range).await?;
        for (i, document) in documents.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(document.as_str().as_bytes());
        }
        Ok(documents.len())
    }

    async fn entry_by_id(&self, user: UserId, id: EntryId) -> StoreResult<Option<Entry>>;

    async fn entry_on_day(&self, user: UserId, day: Day) -> StoreResult<Option<Entry>>;

    /// Applies a partial update ([`Entry::apply`]: the fields sent, `date` moving the entry, the
    /// update time) to the user's entry `id` atomically — two updates of different fields never lose
    /// one of them — and answers the entry as it now is. `Ok(None)` when there is none; `Conflict`
    /// when its new day is taken by another of the user's entries.
    async fn update_entry(
        &self,
        user: UserId,
        id: EntryId,
        changes: &EntryChanges,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Entry>>;

    async fn delete_entry(&self, user: UserId, id: EntryId) -> StoreResult<bool>;

    /// The trend figures of each day the user logged in `from..=to`, oldest first: one indexed
    /// range scan.
    async fn day_figures(&self, user: UserId, from: Day, to: Day) -> StoreResult<Vec<DayFigures>>;

    /// Every day the user logged, oldest first, with whether it had a workout (the streaks).
    async fn logged_days(&self, user: UserId) -> StoreResult<Vec<LoggedDay>>;
}

/// The coach's conversation: the newest messages of each user, in order.
#[async_trait]
pub trait CoachStore: Send + Sync {
    /// Appends `messages` (in order) to the user's conversation, then drops all but its newest
    /// `keep` messages.
    async fn append_ai_messages(&self, user: UserId, messages: &[HistoryMessage], keep: usize) -> StoreResult<()>;

    /// The user's newest `limit` messages, oldest first.
    async fn ai_history(&self, user: UserId, limit: usize) -> StoreResult<Vec<HistoryMessage>>;

    /// Deletes the user's conversation; how many messages it held.
    async fn clear_ai_history(&self, user: UserId) -> StoreResult<u64>;
}

/// Moving data in and out: the export and import of one account, and `healthtracker copy-data` of a
/// whole installation. Reads go page by page, whatever the size.
///
/// Invariant: an import moves `entries_version` like any entry write.
#[async_trait]
pub trait TransferStore: Send + Sync {
    /// Up to `limit` of the user's entries after day `after` (from the first when `None`), oldest
    /// first, as documents: the export reads an account page by page, whatever its size.
    async fn entry_documents_after(
        &self,
        user: UserId,
        after: Option<Day>,
        limit: u32,
    ) -> StoreResult<Vec<(Day, DocumentJson)>>;

    /// Writes entries of the user, one per day (the caller made the days unique): a day the user
    /// has is skipped or replaced (keeping its id and `created_at`), a new day inserted. In one
    /// transaction where the backend has them (SQLite), in bulk otherwise (MongoDB).
    async fn import_entries(
        &self,
        user: UserId,
        entries: &[Entry],
        on_conflict: OnConflict,
    ) -> StoreResult<ImportCounts>;

    /// Up to `limit` users with ids after `after` (from the first when `None`), in id order, with
    /// their password hashes.
    async fn users_after(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>>;

    /// Up to `limit` of the user's entries after day `after`, oldest first, ids and times as stored.
    async fn entries_after(&self, user: UserId, after: Option<Day>, limit: u32) -> StoreResult<Vec<Entry>>;

    /// The user's refresh tokens, logins and revoked access tokens, expired ones included.
    async fn credentials(&self, user: UserId) -> StoreResult<UserCredentials>;

    /// Writes them as they are, leaving any the store already has (by hash, id or key).
    async fn restore_credentials(&self, user: UserId, credentials: &UserCredentials) -> StoreResult<()>;

    async fn collection_counts(&self) -> StoreResult<CollectionCounts>;
}

/// Opens the configured backend and brings its schema up to date (idempotent), so a fresh checkout
/// serves with no set-up. A MongoDB deployment that cannot be reached does not stop it: the store
/// answers `Unavailable` until the deployment is back.
pub async fn open(settings: &crate::config::DatabaseSettings) -> anyhow::Result<std::sync::Arc<dyn Storage>> {
    match settings {
        crate::config::DatabaseSettings::Sqlite { path, synchronous } => {
            let store = sqlite::SqliteStore::open(path, *synchronous).await?;
            store.migrate().await?;
            Ok(std::sync::Arc::new(store))
        }
        crate::config::DatabaseSettings::Mongo { url } => Ok(std::sync::Arc::new(mongo::MongoStore::open(url).await?)),
    }
}

/// `healthtracker migrate`: brings the schema and indexes up to date now, failing with a message a
/// person can act on (unreachable database, existing data that a unique index cannot accept), and
/// lists the entries an older version stored on a day outside the years 0001–9999.
pub async fn migrate(settings: &crate::config::DatabaseSettings) -> anyhow::Result<&'static str> {
    match settings {
        crate::config::DatabaseSettings::Sqlite { path, synchronous } => {
            let store = sqlite::SqliteStore::open(path, *synchronous).await?;
            store.migrate().await?;
            days_outside::report(&store.entries_outside_the_years()?);
            Ok("sqlite")
        }
        crate::config::DatabaseSettings::Mongo { url } => mongo::MongoStore::migrate(url).await.map(|()| "mongodb"),
    }
}
