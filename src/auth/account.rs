//! The account itself: its profile, its password, its logins, and its deletion.

use chrono::Utc;

use super::two_factor::SecondFactor;
use super::{Accounts, AuthError, AuthResult, Caller, Client, TokenPair};
use crate::domain::user::{AccountDeletion, PasswordChange, ProfileChanges, User};
use crate::storage::Login;

/// A login as its owner sees it.
pub struct LoginView {
    pub login: Login,
    /// The login of the request that asked.
    pub current: bool,
}

impl Accounts {
    /// The caller's account.
    pub async fn profile(&self, caller: &Caller) -> AuthResult<User> {
        self.caller_account(caller.id).await
    }

    /// Sets the name and/or the time zone (nothing else is writable).
    pub async fn update_profile(&self, caller: &Caller, changes: ProfileChanges) -> AuthResult<User> {
        self.store
            .update_profile(caller.id, changes.name.as_ref(), changes.timezone, Utc::now())
            .await?
            .ok_or(AuthError::InvalidToken)
    }

    /// A new password, given the current one. Every login of the account ends at once (refresh and
    /// access tokens, on every instance); the caller gets a new login and stays signed in.
    pub async fn change_password(
        &self,
        caller: &Caller,
        account: &User,
        change: PasswordChange,
        second: Option<&SecondFactor>,
        client: &Client,
    ) -> AuthResult<TokenPair> {
        self.confirm_password(account, &change.current, client, AuthError::CurrentPasswordIncorrect)
            .await?;
        self.step_up(account, second, client).await?;
        let hash = self.passwords.hash(change.new.expose()).await?;
        self.store.set_password_hash(caller.id, &hash).await?;
        self.end_every_login(caller).await?;
        tracing::info!(user_id = %caller.id, "password changed; every other login ended");
        self.start_login(caller.id, client).await
    }

    /// The account's live logins, newest first.
    pub async fn logins(&self, caller: &Caller) -> AuthResult<Vec<LoginView>> {
        let current = caller.token.login.as_deref();
        Ok(self
            .store
            .list_logins(caller.id, Utc::now())
            .await?
            .into_iter()
            .map(|login| LoginView {
                current: current == Some(login.id.as_str()),
                login,
            })
            .collect())
    }

    /// Ends one of the caller's logins: its refresh tokens and its access tokens are refused from
    /// now on. Another user's login is as unknown as one that never existed.
    pub async fn end_login(&self, caller: &Caller, id: &str) -> AuthResult<()> {
        if self.store.end_user_login(caller.id, id, Utc::now()).await? {
            Ok(())
        } else {
            Err(AuthError::UnknownLogin)
        }
    }

    /// Ends every login of the account, the caller's included.
    pub async fn logout_everywhere(&self, caller: &Caller) -> AuthResult<()> {
        self.end_every_login(caller).await
    }

    /// Every login ends; and the caller's own access token, should it name no login (minted
    /// before logins were tracked, or by the old backend), is logged out too.
    async fn end_every_login(&self, caller: &Caller) -> AuthResult<()> {
        let now = Utc::now();
        self.store.end_every_login(caller.id, now).await?;
        if caller.token.login.is_none() {
            let token = &caller.token;
            self.store
                .revoke_access_token(&token.revocation_key, caller.id, token.expires_at)
                .await?;
        }
        Ok(())
    }

    /// Deletes the account and everything of it this module keeps (the database's rows, the
    /// account's failed-login counts), given its password. Returns what was deleted, for the
    /// caller to clear what other parts keep (the AI's job records and limits).
    pub async fn delete_account(
        &self,
        caller: &Caller,
        deletion: AccountDeletion,
        second: Option<&SecondFactor>,
        client: &Client,
    ) -> AuthResult<User> {
        let account = self.caller_account(caller.id).await?;
        self.confirm_password(&account, &deletion.password, client, AuthError::PasswordIncorrect)
            .await?;
        self.step_up(&account, second, client).await?;
        if !super::admin::delete_unless_last_admin(self.store.as_ref(), caller.id).await? {
            return Err(AuthError::InvalidToken);
        }
        self.throttle.forget(&account.email).await;
        tracing::info!(user_id = %caller.id, "account deleted with everything in it");
        Ok(account)
    }
}
