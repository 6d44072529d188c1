//! `healthtracker admin grant|revoke|invite`: the operator's administration, on the database the
//! server is configured with (DATABASE_URL; nothing else of the server's settings is needed).

use std::process::ExitCode;

use crate::auth::AuthError;
use crate::auth::admin::{create_invite, grant, revoke};
use crate::cli::AdminCommand;
use crate::config::DatabaseSettings;
use crate::domain::day::format_timestamp;
use crate::domain::user::Email;

pub async fn admin_command(command: AdminCommand) -> ExitCode {
    let database = match DatabaseSettings::from_env() {
        Ok((database, _)) => database,
        Err(error) => {
            for line in &error.0 {
                eprintln!("healthtracker: configuration error: {line}");
            }
            return ExitCode::from(2);
        }
    };
    let store = match crate::storage::open(&database).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("healthtracker: could not open the database: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let email = |raw: &str| Email::from_stored(raw.trim().to_lowercase());
    let outcome = match command {
        AdminCommand::Grant { email: raw } => grant(store.as_ref(), &email(&raw))
            .await
            .map(|user| println!("{} is now an administrator", user.email.as_str())),
        AdminCommand::Revoke { email: raw } => revoke(store.as_ref(), &email(&raw))
            .await
            .map(|user| println!("{} is no longer an administrator", user.email.as_str())),
        AdminCommand::Invite { uses, expires_days } => {
            create_invite(store.as_ref(), uses, expires_days, None, chrono::Utc::now())
                .await
                .map(|invite| {
                    // The code alone on stdout (for scripts); what it allows on stderr.
                    println!("{}", invite.code);
                    eprintln!(
                        "invite code: {} registration(s), until {}",
                        invite.uses_left,
                        format_timestamp(invite.expires_at)
                    );
                })
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(AuthError::UnknownUser) => {
            eprintln!("healthtracker: no user has that e-mail");
            ExitCode::FAILURE
        }
        Err(AuthError::LastAdmin) => {
            eprintln!(
                "healthtracker: that is the last active administrator; grant another one first (nothing changed)"
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("healthtracker: {error:#}");
            ExitCode::FAILURE
        }
    }
}
