//! What two-factor login, invitations and administration keep ([`SecurityStore`]): a user's role,
//! whether they are disabled, their TOTP secret with the last time step accepted and their recovery
//! codes (hashed), login challenges (hashed, one use) and invite codes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::ids::UserId;
use crate::domain::user::User;

/// What a user may do beyond their own account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// Anything but `admin` (a missing field, an old database) is a plain user.
    pub fn from_stored(s: Option<&str>) -> Self {
        match s {
            Some("admin") => Role::Admin,
            _ => Role::User,
        }
    }
}

/// A user's TOTP, once set up (enabled only after a valid code confirmed it).
#[derive(Clone, Debug, Default)]
pub struct TwoFactorRecord {
    /// Base32, as the authenticator app was given it. Never logged.
    pub secret: String,
    pub enabled: bool,
    /// The last time step (unix time / 30) a code was accepted for: a code of it or before is a
    /// replay. In the database, so every instance refuses it.
    pub last_step: Option<i64>,
}

/// What the security rules need to know of a user.
#[derive(Clone, Debug, Default)]
pub struct AccountFlags {
    pub role: Role,
    pub disabled: bool,
    pub two_factor: Option<TwoFactorRecord>,
}

impl AccountFlags {
    pub fn two_factor_on(&self) -> bool {
        self.two_factor.as_ref().is_some_and(|t| t.enabled)
    }

    /// An administrator who can act (not disabled).
    pub fn active_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled
    }
}

/// A user as the administrators' list shows them.
#[derive(Clone, Debug)]
pub struct AdminUserRow {
    pub user: User,
    pub flags: AccountFlags,
    /// How many entries they have.
    pub entries: u64,
}

/// An invite code: lets `uses_left` more registrations through until `expires_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct Invite {
    pub code: String,
    pub uses_left: u32,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The administrator who made it; `None` for the operator's command.
    pub created_by: Option<UserId>,
}

#[async_trait]
pub trait SecurityStore: Send + Sync {
    /// `None` when there is no such user.
    async fn account_flags(&self, user: UserId) -> StoreResult<Option<AccountFlags>>;

    /// Stores a new, not yet enabled secret (a setup started again replaces it); does nothing to
    /// a user whose 2FA is on. `false` when nothing was stored.
    async fn set_pending_two_factor(&self, user: UserId, secret: &str) -> StoreResult<bool>;

    /// Turns the pending secret on, with its recovery codes (hashes) and the step of the code that
    /// confirmed it. `false` when there is no pending secret.
    async fn enable_two_factor(&self, user: UserId, recovery_hashes: &[String], step: i64) -> StoreResult<bool>;

    /// Removes the secret and the recovery codes.
    async fn disable_two_factor(&self, user: UserId) -> StoreResult<()>;

    /// Records `step` as accepted, atomically, only if it is later than the last one accepted:
    /// `false` for a replay (on any instance).
    async fn accept_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool>;

    /// Removes one recovery code (by hash): `true` when it was there (each works once).
    async fn take_recovery_code(&self, user: UserId, hash: &str) -> StoreResult<bool>;

    /// How many recovery codes the user has left.
    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<u64>;

    /// The user's unused recovery codes as stored (hashes), for `copy-data`.
    async fn recovery_code_hashes(&self, user: UserId) -> StoreResult<Vec<String>>;

    /// Records a login challenge (by hash) that lives until `expires_at`.
    async fn insert_challenge(&self, hash: &str, user: UserId, expires_at: DateTime<Utc>) -> StoreResult<()>;

    /// The user of a live, unused challenge.
    async fn challenge_user(&self, hash: &str, now: DateTime<Utc>) -> StoreResult<Option<UserId>>;

    /// Marks a live challenge used, atomically: `true` for exactly one caller.
    async fn take_challenge(&self, hash: &str, now: DateTime<Utc>) -> StoreResult<bool>;

    async fn set_role(&self, user: UserId, role: Role) -> StoreResult<bool>;

    async fn set_disabled(&self, user: UserId, disabled: bool) -> StoreResult<bool>;

    /// Administrators that are not disabled.
    async fn active_admins(&self) -> StoreResult<u64>;

    /// A page of users, oldest first, with their flags and entry counts; and how many there are.
    async fn admin_users(&self, skip: u64, limit: u32) -> StoreResult<(Vec<AdminUserRow>, u64)>;

    /// `Conflict` when the code exists.
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()>;

    /// Invites still usable at `now`, newest first.
    async fn list_invites(&self, now: DateTime<Utc>) -> StoreResult<Vec<Invite>>;

    async fn delete_invite(&self, code: &str) -> StoreResult<bool>;

    /// Uses the invite once, atomically (of two registrations with its last use, one gets it):
    /// `false` when it is unknown, used up or expired.
    async fn take_invite(&self, code: &str, now: DateTime<Utc>) -> StoreResult<bool>;
}
