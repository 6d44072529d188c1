//! Administration: the admin routes' rules (list users, disable, enable, delete, invites), the
//! operator's commands (`healthtracker admin grant|revoke|invite`), and the rule that there is
//! always an administrator left: the last active one cannot be disabled, demoted or deleted (by the
//! admin routes, `DELETE /auth/me` or `admin revoke`). Every administrator's action is logged once
//! at INFO with the administrator's id, the action and the target's id (ids only: no e-mail, no
//! code, no secret).

use chrono::{DateTime, TimeDelta, Utc};

use super::{Accounts, AuthError, AuthResult, Caller};
use crate::domain::ids::UserId;
use crate::domain::user::{Email, User};
use crate::storage::Storage;
use crate::storage::security::{AdminUserRow, Invite, Role};

/// Invites: uses 1–1000 (default 1), lifetime 1–365 days (default 7).
pub const INVITE_MAX_USES: u32 = 1000;
pub const INVITE_MAX_DAYS: u32 = 365;
pub const INVITE_DEFAULT_DAYS: u32 = 7;

/// How an administrator stops being an active one: both are undone by setting the flag back, so a
/// removal that turns out to leave no administrator can be taken back.
#[derive(Clone, Copy)]
enum StepDown {
    /// Role back to user (`admin revoke`, and before a deletion).
    Demote,
    Disable,
}

impl StepDown {
    async fn set(self, store: &dyn Storage, user: UserId, down: bool) -> AuthResult<()> {
        match self {
            Self::Demote => {
                store
                    .set_role(user, if down { Role::User } else { Role::Admin })
                    .await?
            }
            Self::Disable => store.set_disabled(user, down).await?,
        };
        Ok(())
    }
}

/// Takes `user`'s standing as an active administrator away by `step`, unless no active one would
/// be left: then it is given back and the change refused. Returns whether the user was one (a
/// deletion that then fails gives the role back with [`restore`]).
///
/// The step comes before the count. A count taken first lets two administrators who remove each
/// other (or themselves) at the same moment both see two and both go, leaving none; stepping down
/// first, each sees the other gone and at least one is refused. Until a refused step is undone the
/// user's own requests are refused as a plain or disabled user's.
async fn step_down_unless_last(store: &dyn Storage, user: UserId, step: StepDown) -> AuthResult<bool> {
    let was_admin = store
        .account_flags(user)
        .await?
        .is_some_and(|flags| flags.active_admin());
    if !was_admin {
        return Ok(false);
    }
    step.set(store, user, true).await?;
    match store.active_admins().await {
        Ok(0) => {
            step.set(store, user, false).await?;
            Err(AuthError::LastAdmin)
        }
        Ok(_) => Ok(true),
        Err(e) => {
            restore(store, user, step).await;
            Err(e.into())
        }
    }
}

/// Gives an administrator stepped down for a change that then failed their standing back.
async fn restore(store: &dyn Storage, user: UserId, step: StepDown) {
    if let Err(e) = step.set(store, user, false).await {
        tracing::error!(user_id = %user, error = %e, "an administrator stepped down for a failed change could not be restored");
    }
}

/// Deletes `user` with everything of theirs, unless they are the last active administrator.
/// `Ok(false)`: no such user.
pub(super) async fn delete_unless_last_admin(store: &dyn Storage, user: UserId) -> AuthResult<bool> {
    let demoted = step_down_unless_last(store, user, StepDown::Demote).await?;
    match store.delete_user(user).await {
        Ok(deleted) => Ok(deleted),
        Err(e) => {
            if demoted {
                restore(store, user, StepDown::Demote).await;
            }
            Err(e.into())
        }
    }
}

/// `healthtracker admin grant EMAIL`: makes the user an administrator.
pub async fn grant(store: &dyn Storage, email: &Email) -> AuthResult<User> {
    let user = store.user_by_email(email).await?.ok_or(AuthError::UnknownUser)?;
    store.set_role(user.id, Role::Admin).await?;
    tracing::info!(target_id = %user.id, action = "grant", by = "operator", "admin action");
    Ok(user)
}

/// `healthtracker admin revoke EMAIL`: makes an administrator a plain user again — not the last one.
pub async fn revoke(store: &dyn Storage, email: &Email) -> AuthResult<User> {
    let user = store.user_by_email(email).await?.ok_or(AuthError::UnknownUser)?;
    if !step_down_unless_last(store, user.id, StepDown::Demote).await? {
        store.set_role(user.id, Role::User).await?;
    }
    tracing::info!(target_id = %user.id, action = "revoke", by = "operator", "admin action");
    Ok(user)
}

/// A new invite code (`healthtracker admin invite`, `POST /admin/invites`): random, 20 hex digits.
pub async fn create_invite(
    store: &dyn Storage,
    uses: u32,
    days: u32,
    created_by: Option<UserId>,
    now: DateTime<Utc>,
) -> AuthResult<Invite> {
    let invite = Invite {
        code: hex::encode(rand::random::<[u8; 10]>()),
        uses_left: uses.clamp(1, INVITE_MAX_USES),
        expires_at: now + TimeDelta::days(i64::from(days.clamp(1, INVITE_MAX_DAYS))),
        created_at: now,
        created_by,
    };
    store.insert_invite(&invite).await?;
    Ok(invite)
}

/// A caller [`Accounts::require_admin`] let through. The admin methods take it instead of a
/// [`Caller`], so the gate (a flags lookup) runs once per request, before the route reads its
/// parameters, and cannot be skipped.
pub struct Admin<'a>(&'a Caller);

impl Admin<'_> {
    fn log_action(&self, action: &'static str, target: &str) {
        tracing::info!(admin_id = %self.0.id, action, target_id = target, "admin action");
    }
}

impl Accounts {
    /// The admin routes' gate: a login token (not a personal token) of an administrator who is
    /// not disabled.
    pub async fn require_admin<'a>(&self, caller: &'a Caller) -> AuthResult<Admin<'a>> {
        if !caller.access.is_login() {
            return Err(AuthError::AdminRequired);
        }
        match self.store.account_flags(caller.id).await? {
            Some(flags) if flags.active_admin() => Ok(Admin(caller)),
            _ => Err(AuthError::AdminRequired),
        }
    }

    /// A page of users (1-based), with how many there are.
    pub async fn admin_users(&self, _admin: &Admin<'_>, page: u32, limit: u32) -> AuthResult<(Vec<AdminUserRow>, u64)> {
        let skip = u64::from(page.saturating_sub(1)) * u64::from(limit);
        Ok(self.store.admin_users(skip, limit).await?)
    }

    /// Disables a user: refused at once on every instance (their access and personal tokens by the
    /// lookup every request makes; their logins and personal tokens ended, so enabling them again
    /// revives none), their login answered 403.
    pub async fn admin_disable(&self, admin: &Admin<'_>, target: UserId) -> AuthResult<()> {
        let stepped_down = step_down_unless_last(self.store.as_ref(), target, StepDown::Disable).await?;
        if !stepped_down && !self.store.set_disabled(target, true).await? {
            return Err(AuthError::UnknownUser);
        }
        self.store.end_every_login(target, Utc::now()).await?;
        self.store.delete_personal_tokens_of(target).await?;
        admin.log_action("disable", &target.to_string());
        Ok(())
    }

    pub async fn admin_enable(&self, admin: &Admin<'_>, target: UserId) -> AuthResult<()> {
        if !self.store.set_disabled(target, false).await? {
            return Err(AuthError::UnknownUser);
        }
        admin.log_action("enable", &target.to_string());
        Ok(())
    }

    /// Deletes a user as account deletion does; returns them, for the caller to clear what other
    /// parts keep.
    pub async fn admin_delete(&self, admin: &Admin<'_>, target: UserId) -> AuthResult<User> {
        let user = self.store.user_by_id(target).await?.ok_or(AuthError::UnknownUser)?;
        if !delete_unless_last_admin(self.store.as_ref(), target).await? {
            return Err(AuthError::UnknownUser);
        }
        self.throttle.forget(&user.email).await;
        admin.log_action("delete", &target.to_string());
        Ok(user)
    }

    pub async fn admin_create_invite(&self, admin: &Admin<'_>, uses: u32, days: u32) -> AuthResult<Invite> {
        let invite = create_invite(self.store.as_ref(), uses, days, Some(admin.0.id), self.clock.now()).await?;
        // The code is a credential of sorts: not logged.
        admin.log_action("create_invite", "-");
        Ok(invite)
    }

    pub async fn admin_invites(&self, _admin: &Admin<'_>) -> AuthResult<Vec<Invite>> {
        Ok(self.store.list_invites(self.clock.now()).await?)
    }

    pub async fn admin_delete_invite(&self, admin: &Admin<'_>, code: &str) -> AuthResult<()> {
        if !self.store.delete_invite(code).await? {
            return Err(AuthError::UnknownInvite);
        }
        admin.log_action("delete_invite", "-");
        Ok(())
    }
}
