//! Administration: the admin routes' rules (list users, disable, enable, delete, invites), the
//! operator's commands (`healthtracker admin grant|revoke|invite`), and the rule that there is
//! always an administrator left: the last active one cannot be disabled, demoted or deleted (by the
//! admin routes, `DELETE /auth/me` or `admin revoke`). Every administrator's action is logged once
//! at INFO with the administrator's id, the action and the target's id (ids only: no e-mail, no
//! code, no secret).

use chrono::{TimeDelta, Utc};

use super::{Accounts, AuthError, AuthResult, Caller};
use crate::domain::ids::UserId;
use crate::domain::user::{Email, User};
use crate::storage::Storage;
use crate::storage::security::{AdminUserRow, Invite, Role};

/// Invites: uses 1–1000 (default 1), lifetime 1–365 days (default 7).
pub const INVITE_MAX_USES: u32 = 1000;
pub const INVITE_MAX_DAYS: u32 = 365;
pub const INVITE_DEFAULT_DAYS: u32 = 7;

/// Refuses a change that would leave no active administrator: `user` is one and the only one.
async fn refuse_if_last_admin(store: &dyn Storage, user: UserId) -> AuthResult<()> {
    let flags = store.account_flags(user).await?.unwrap_or_default();
    if flags.active_admin() && store.active_admins().await? <= 1 {
        return Err(AuthError::LastAdmin);
    }
    Ok(())
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
    refuse_if_last_admin(store, user.id).await?;
    store.set_role(user.id, Role::User).await?;
    tracing::info!(target_id = %user.id, action = "revoke", by = "operator", "admin action");
    Ok(user)
}

/// A new invite code (`healthtracker admin invite`, `POST /admin/invites`): random, 20 hex digits.
pub async fn create_invite(
    store: &dyn Storage,
    uses: u32,
    days: u32,
    created_by: Option<UserId>,
) -> AuthResult<Invite> {
    let now = Utc::now();
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

    /// `refuse_if_last_admin` for the account rules (deletion).
    pub(super) async fn refuse_removing_last_admin(&self, user: UserId) -> AuthResult<()> {
        refuse_if_last_admin(self.store.as_ref(), user).await
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
        refuse_if_last_admin(self.store.as_ref(), target).await?;
        if !self.store.set_disabled(target, true).await? {
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
        refuse_if_last_admin(self.store.as_ref(), target).await?;
        if !self.store.delete_user(target).await? {
            return Err(AuthError::UnknownUser);
        }
        self.throttle.forget(&user.email).await;
        admin.log_action("delete", &target.to_string());
        Ok(user)
    }

    pub async fn admin_create_invite(&self, admin: &Admin<'_>, uses: u32, days: u32) -> AuthResult<Invite> {
        let invite = create_invite(self.store.as_ref(), uses, days, Some(admin.0.id)).await?;
        // The code is a credential of sorts: not logged.
        admin.log_action("create_invite", "-");
        Ok(invite)
    }

    pub async fn admin_invites(&self, _admin: &Admin<'_>) -> AuthResult<Vec<Invite>> {
        Ok(self.store.list_invites(Utc::now()).await?)
    }

    pub async fn admin_delete_invite(&self, admin: &Admin<'_>, code: &str) -> AuthResult<()> {
        if !self.store.delete_invite(code).await? {
            return Err(AuthError::UnknownInvite);
        }
        admin.log_action("delete_invite", "-");
        Ok(())
    }
}
