//! Roles, TOTP, recovery codes, login challenges and invites on SQLite ([`SecurityStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use super::rows::{USER_COLUMNS, parse_id, parse_ts, ts, user_from_row};
use crate::domain::ids::UserId;
use crate::storage::StoreResult;
use crate::storage::security::{AccountFlags, AdminUserRow, Invite, Role, SecurityStore, TwoFactorRecord};

const FLAG_COLUMNS: &str = "role, disabled, totp_secret, totp_enabled, totp_last_step";

/// The flags from `FLAG_COLUMNS` starting at column `at`.
fn flags_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<AccountFlags> {
    let secret: Option<String> = row.get(at + 2)?;
    Ok(AccountFlags {
        role: Role::from_stored(row.get_ref(at)?.as_str_or_null()?),
        disabled: row.get(at + 1)?,
        two_factor: secret.map(|secret| TwoFactorRecord {
            secret,
            enabled: row.get(at + 3).unwrap_or(false),
            last_step: row.get(at + 4).ok().flatten(),
        }),
    })
}

fn invite_from_row(row: &Row<'_>) -> rusqlite::Result<Invite> {
    Ok(Invite {
        code: row.get(0)?,
        uses_left: row.get::<_, i64>(1)?.clamp(0, i64::from(u32::MAX)) as u32,
        expires_at: DateTime::from_timestamp(row.get(2)?, 0).unwrap_or_default(),
        created_at: parse_ts(row.get_ref(3)?.as_str()?)?,
        created_by: match row.get_ref(4)?.as_str_or_null()? {
            Some(id) => Some(parse_id(id, UserId::parse)?),
            None => None,
        },
    })
}

#[async_trait]
impl SecurityStore for SqliteStore {
    async fn account_flags(&self, user: UserId) -> StoreResult<Option<AccountFlags>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {FLAG_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([user.to_string()], |row| flags_from_row(row, 0))
                .optional()
        })
    }

    async fn set_pending_two_factor(&self, user: UserId, secret: &str) -> StoreResult<bool> {
        let (user, secret) = (user.to_string(), secret.to_owned());
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE users SET totp_secret = ?1, totp_enabled = 0, totp_last_step = NULL \
                 WHERE id = ?2 AND totp_enabled = 0",
            )?
            .execute(params![secret, user])
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn enable_two_factor(&self, user: UserId, recovery_hashes: &[String], step: i64) -> StoreResult<bool> {
        let (user, hashes) = (user.to_string(), recovery_hashes.to_vec());
        self.write(move |c| {
            let enabled = c
                .prepare_cached(
                    "UPDATE users SET totp_enabled = 1, totp_last_step = ?1 \
                     WHERE id = ?2 AND totp_enabled = 0 AND totp_secret IS NOT NULL",
                )?
                .execute(params![step, user])?
                == 1;
            if enabled {
                c.prepare_cached("DELETE FROM recovery_codes WHERE user_id = ?1")?
                    .execute([&user])?;
                let mut insert = c.prepare_cached("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)")?;
                for hash in &hashes {
                    insert.execute(params![user, hash])?;
                }
            }
            Ok(enabled)
        })
        .await
    }

    async fn disable_two_factor(&self, user: UserId) -> StoreResult<()> {
        let user = user.to_string();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE users SET totp_secret = NULL, totp_enabled = 0, totp_last_step = NULL WHERE id = ?1",
            )?
            .execute([&user])?;
            c.prepare_cached("DELETE FROM recovery_codes WHERE user_id = ?1")?
                .execute([&user])
                .map(|_| ())
        })
        .await
    }

    async fn accept_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool> {
        let user = user.to_string();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE users SET totp_last_step = ?1 \
                 WHERE id = ?2 AND totp_enabled = 1 AND (totp_last_step IS NULL OR totp_last_step < ?1)",
            )?
            .execute(params![step, user])
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn take_recovery_code(&self, user: UserId, hash: &str) -> StoreResult<bool> {
        let (user, hash) = (user.to_string(), hash.to_owned());
        self.write(move |c| {
            c.prepare_cached("DELETE FROM recovery_codes WHERE user_id = ?1 AND code_hash = ?2")?
                .execute(params![user, hash])
                .map(|deleted| deleted == 1)
        })
        .await
    }

    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<u64> {
        self.read(|c| {
            c.prepare_cached("SELECT count(*) FROM recovery_codes WHERE user_id = ?1")?
                .query_row([user.to_string()], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    async fn recovery_code_hashes(&self, user: UserId) -> StoreResult<Vec<String>> {
        self.read(|c| {
            c.prepare_cached("SELECT code_hash FROM recovery_codes WHERE user_id = ?1")?
                .query_map([user.to_string()], |r| r.get(0))?
                .collect()
        })
    }

    async fn insert_challenge(&self, hash: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let (hash, user) = (hash.to_owned(), user.to_string());
        self.write(move |c| {
            c.prepare_cached("INSERT INTO two_factor_challenges (id_hash, user_id, expires_at) VALUES (?1, ?2, ?3)")?
                .execute(params![hash, user, expires_at.timestamp()])
                .map(|_| ())
        })
        .await
    }

    async fn challenge_user(&self, hash: &str, now: DateTime<Utc>) -> StoreResult<Option<UserId>> {
        let user: Option<String> = self.read(|c| {
            c.prepare_cached(
                "SELECT user_id FROM two_factor_challenges WHERE id_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            )?
            .query_row(params![hash, now.timestamp()], |r| r.get(0))
            .optional()
        })?;
        Ok(user.and_then(|id| UserId::parse(&id)))
    }

    async fn take_challenge(&self, hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let hash = hash.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE two_factor_challenges SET used_at = ?1 \
                 WHERE id_hash = ?2 AND used_at IS NULL AND expires_at > ?3",
            )?
            .execute(params![ts(now), hash, now.timestamp()])
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn set_role(&self, user: UserId, role: Role) -> StoreResult<bool> {
        let user = user.to_string();
        self.write(move |c| {
            c.prepare_cached("UPDATE users SET role = ?1 WHERE id = ?2")?
                .execute(params![role.as_str(), user])
                .map(|changed| changed == 1)
        })
        .await
    }

    async fn set_disabled(&self, user: UserId, disabled: bool) -> StoreResult<bool> {
        let user = user.to_string();
        self.write(move |c| {
            c.prepare_cached("UPDATE users SET disabled = ?1 WHERE id = ?2")?
                .execute(params![disabled, user])
                .map(|changed| changed == 1)
        })
        .await
    }

    async fn active_admins(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.prepare_cached("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0")?
                .query_row([], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    async fn admin_users(&self, skip: u64, limit: u32) -> StoreResult<(Vec<AdminUserRow>, u64)> {
        self.read(|c| {
            let total: i64 = c
                .prepare_cached("SELECT count(*) FROM users")?
                .query_row([], |r| r.get(0))?;
            let columns = USER_COLUMNS.split(", ").count();
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS}, {FLAG_COLUMNS}, \
                            (SELECT count(*) FROM entries WHERE entries.user_id = users.id) \
                     FROM users ORDER BY created_at, id LIMIT ?1 OFFSET ?2"
                ))?
                .query_map(params![limit, skip as i64], |row| {
                    Ok(AdminUserRow {
                        user: user_from_row(row)?,
                        flags: flags_from_row(row, columns)?,
                        entries: row.get::<_, i64>(columns + 5)? as u64,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
    }

    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        let invite = invite.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO invites (code, uses_left, expires_at, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                invite.code,
                invite.uses_left,
                invite.expires_at.timestamp(),
                ts(invite.created_at),
                invite.created_by.map(|id| id.to_string())
            ])
            .map(|_| ())
        })
        .await
    }

    async fn list_invites(&self, now: DateTime<Utc>) -> StoreResult<Vec<Invite>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT code, uses_left, expires_at, created_at, created_by FROM invites \
                 WHERE uses_left > 0 AND expires_at > ?1 ORDER BY created_at DESC",
            )?
            .query_map([now.timestamp()], invite_from_row)?
            .collect()
        })
    }

    async fn delete_invite(&self, code: &str) -> StoreResult<bool> {
        let code = code.to_owned();
        self.write(move |c| {
            c.prepare_cached("DELETE FROM invites WHERE code = ?1")?
                .execute([code])
                .map(|deleted| deleted == 1)
        })
        .await
    }

    async fn take_invite(&self, code: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let code = code.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE invites SET uses_left = uses_left - 1 WHERE code = ?1 AND uses_left > 0 AND expires_at > ?2",
            )?
            .execute(params![code, now.timestamp()])
            .map(|changed| changed == 1)
        })
        .await
    }
}
