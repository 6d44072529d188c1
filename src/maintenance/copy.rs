//! `healthtracker copy-data --from <DATABASE_URL> --to <DATABASE_URL>`: everything one
//! database holds, written into another through the `Storage` trait, so either backend moves to
//! either. User by user, in id order: the account (password hash, profile), its entries a page at a
//! time (ids and timestamps kept), its refresh tokens, logins and revoked access tokens (so nobody
//! logs in again and a logged-out token stays refused), and its conversation with the coach. Memory
//! holds one page, whatever the size of the database.
//!
//! A source that does not exist is refused before anything is opened (`source.rs`), one that holds
//! no users before the target is touched, unless `--allow-empty`: a mistyped `--from` must not read
//! as a successful copy of nothing.
//! A target that already has users is refused unless `--merge`: then a user the target has (by id)
//! keeps everything it has and gains what it lacks, and a second run copies nothing. The counts of
//! both sides are compared at the end.
//!
//! Writes the source takes while the copy runs may be missed (each user is read once): stop the
//! writers first for a clean cut-over (README).

use anyhow::{Context, bail};

use super::progress::Progress;
use super::source;
use crate::config::DatabaseSettings;
use crate::domain::coach::HISTORY_KEEP;
use crate::domain::day::Day;
use crate::domain::ids::UserId;
use crate::storage::security::Role;
use crate::storage::transfer::CollectionCounts;
use crate::storage::{self, OnConflict, Storage, StoreError};

/// Users read at a time.
const USER_PAGE: u32 = 200;
/// Entries read and written at a time (one transaction on SQLite, one bulk insert on MongoDB).
const ENTRY_PAGE: u32 = 1_000;

#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOptions {
    /// Add to a target that has users instead of refusing it.
    pub merge: bool,
    /// Copy a source that holds no users instead of refusing it.
    pub allow_empty: bool,
    /// No progress output (tests).
    pub quiet: bool,
}

/// What a copy did, and how both sides compare.
#[derive(Debug)]
pub struct CopyReport {
    pub source: CollectionCounts,
    pub target_before: CollectionCounts,
    pub target: CollectionCounts,
    /// Users created in the target.
    pub users_copied: u64,
    /// Users the target had already (merged).
    pub users_merged: u64,
    /// Source users not copied: another account of the target has their e-mail.
    pub users_refused: Vec<UserId>,
    pub entries_copied: u64,
}

impl CopyReport {
    /// Without `--merge`, the target must hold exactly what the source does; with it, at least
    /// that, and no user may have been refused.
    pub fn mismatches(&self, merge: bool) -> Vec<&'static str> {
        let target = self.target.rows();
        self.source
            .rows()
            .into_iter()
            .zip(target)
            .filter(|((_, source), (_, target))| if merge { target < source } else { target != source })
            .map(|((name, _), _)| name)
            .collect()
    }

    /// The counts table printed at the end.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<18} {:>12} {:>14} {:>12}\n",
            "collection", "source", "target before", "target"
        );
        let rows = self
            .source
            .rows()
            .into_iter()
            .zip(self.target_before.rows())
            .zip(self.target.rows());
        for (((name, source), (_, before)), (_, after)) in rows {
            out.push_str(&format!("{name:<18} {source:>12} {before:>14} {after:>12}\n"));
        }
        out
    }
}

/// Checks the source (it must exist and hold users, unless `allow_empty`), then opens both databases
/// (migrating the target first) and copies. A refused source leaves the target untouched.
pub async fn copy_between(
    from: &DatabaseSettings,
    to: &DatabaseSettings,
    options: CopyOptions,
) -> anyhow::Result<CopyReport> {
    source::check(from, "--from").await?;
    let source = storage::open(from).await.context("opening the source")?;
    source.ping().await.context("the source does not answer")?;
    let users = source.collection_counts().await.context("counting the source")?.users;
    if users == 0 && !options.allow_empty {
        bail!(
            "the source (--from) holds no users, so there is nothing to copy: check that --from names the \
             installation you mean, or pass --allow-empty to copy an empty one; the target was not touched"
        );
    }
    storage::migrate(to).await.context("migrating the target")?;
    let target = storage::open(to).await.context("opening the target")?;
    target.ping().await.context("the target does not answer")?;
    copy(&*source, &*target, options).await
}

pub async fn copy(source: &dyn Storage, target: &dyn Storage, options: CopyOptions) -> anyhow::Result<CopyReport> {
    let source_counts = source.collection_counts().await.context("counting the source")?;
    let target_before = target.collection_counts().await.context("counting the target")?;
    if target_before.users > 0 && !options.merge {
        bail!(
            "the target already holds {} users: copy into an empty database, or pass --merge to add \
             what it lacks (users it has keep their data; nothing is overwritten)",
            target_before.users
        );
    }
    let mut progress = Progress::new(source_counts.entries, options.quiet);
    let mut report = CopyReport {
        source: source_counts,
        target_before,
        target: CollectionCounts::default(),
        users_copied: 0,
        users_merged: 0,
        users_refused: Vec::new(),
        entries_copied: 0,
    };
    let mut after = None;
    loop {
        let users = source.users_after(after, USER_PAGE).await.context("reading users")?;
        let Some(last) = users.last() else { break };
        after = Some(last.id);
        for user in &users {
            let fresh = match target.insert_user(user).await {
                Ok(()) => true,
                Err(StoreError::Conflict) => match target.user_by_id(user.id).await? {
                    Some(_) => false,
                    None => {
                        eprintln!(
                            "copy-data: user {} not copied: the target has another account with its e-mail",
                            user.id
                        );
                        report.users_refused.push(user.id);
                        continue;
                    }
                },
                Err(error) => return Err(error).with_context(|| format!("writing user {}", user.id)),
            };
            if fresh {
                report.users_copied += 1;
            } else {
                report.users_merged += 1;
            }
            let copied = copy_user_data(source, target, user.id, fresh, &mut progress, report.users_copied).await?;
            report.entries_copied += copied;
        }
        if users.len() < USER_PAGE as usize {
            break;
        }
    }
    progress.finish();
    report.target = target.collection_counts().await.context("counting the target")?;
    Ok(report)
}

/// A user's entries, credentials, goals and conversation; the entries copied.
async fn copy_user_data(
    source: &dyn Storage,
    target: &dyn Storage,
    user: UserId,
    fresh: bool,
    progress: &mut Progress,
    users_done: u64,
) -> anyhow::Result<u64> {
    let mut copied = 0;
    let mut after: Option<Day> = None;
    loop {
        let page = source
            .entries_after(user, after, ENTRY_PAGE)
            .await
            .with_context(|| format!("reading the entries of user {user}"))?;
        let Some(last) = page.last() else { break };
        after = Some(last.date);
        // Skip: a day the target has (a merge) keeps its entry.
        let counts = target
            .import_entries(user, &page, OnConflict::Skip)
            .await
            .with_context(|| format!("writing the entries of user {user}"))?;
        copied += counts.created;
        progress.advance(page.len() as u64, users_done);
        if page.len() < ENTRY_PAGE as usize {
            break;
        }
    }
    let credentials = source
        .credentials(user)
        .await
        .with_context(|| format!("reading the logins of user {user}"))?;
    if !credentials.is_empty() {
        target
            .restore_credentials(user, &credentials)
            .await
            .with_context(|| format!("writing the logins of user {user}"))?;
    }
    let goals = source
        .goals(user)
        .await
        .with_context(|| format!("reading the goals of user {user}"))?;
    // A merged user's goals are copied only where the target has none.
    if !goals.is_empty() && (fresh || target.goals(user).await?.is_empty()) {
        target
            .set_goals(user, &goals)
            .await
            .with_context(|| format!("writing the goals of user {user}"))?;
    }
    if fresh {
        copy_account_flags(source, target, user)
            .await
            .with_context(|| format!("writing the role and two-factor login of user {user}"))?;
    }
    let history = source.ai_history(user, HISTORY_KEEP).await?;
    // A merged user's conversation is copied only into an empty one: appending would repeat it.
    if !history.is_empty() && (fresh || target.ai_history(user, 1).await?.is_empty()) {
        target
            .append_ai_messages(user, &history, HISTORY_KEEP)
            .await
            .with_context(|| format!("writing the conversation of user {user}"))?;
    }
    Ok(copied)
}

/// A copied account keeps its role, its disabled state and its two-factor login (secret, last
/// accepted step, unused recovery codes): a copy must not turn 2FA off nor demote anyone.
async fn copy_account_flags(source: &dyn Storage, target: &dyn Storage, user: UserId) -> anyhow::Result<()> {
    let Some(flags) = source.account_flags(user).await? else {
        return Ok(());
    };
    if flags.role != Role::User {
        target.set_role(user, flags.role).await?;
    }
    if flags.disabled {
        target.set_disabled(user, true).await?;
    }
    if let Some(two_factor) = flags.two_factor.filter(|t| t.enabled) {
        let hashes = source.recovery_code_hashes(user).await?;
        target.set_pending_two_factor(user, &two_factor.secret).await?;
        target
            .enable_two_factor(user, &hashes, two_factor.last_step.unwrap_or(0))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(users: u64, entries: u64) -> CollectionCounts {
        CollectionCounts {
            users,
            entries,
            ..CollectionCounts::default()
        }
    }

    #[test]
    fn a_copy_matches_exactly_and_a_merge_holds_at_least_the_source() {
        let report = |source, target| CopyReport {
            source,
            target_before: CollectionCounts::default(),
            target,
            users_copied: 0,
            users_merged: 0,
            users_refused: Vec::new(),
            entries_copied: 0,
        };
        assert!(report(counts(2, 10), counts(2, 10)).mismatches(false).is_empty());
        assert_eq!(report(counts(2, 10), counts(2, 9)).mismatches(false), ["entries"]);
        assert_eq!(report(counts(2, 10), counts(3, 10)).mismatches(false), ["users"]);
        assert!(report(counts(2, 10), counts(3, 12)).mismatches(true).is_empty());
        assert_eq!(report(counts(2, 10), counts(3, 9)).mismatches(true), ["entries"]);
        let table = report(counts(2, 10), counts(2, 10)).table();
        assert!(
            table.lines().any(|l| l.starts_with("entries") && l.ends_with("10")),
            "{table}"
        );
    }
}
