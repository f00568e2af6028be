//! `eligo token`: a new API token for `eligo serve`.

use eligo_server::auth::{new_secret, Role, TokenArg};

use super::{out, CommandResult, Failure};

/// `eligo token` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What the token may do: read, decide, admin, joined by `+`
    /// (admin implies the others).
    #[arg(long, default_value = "decide")]
    roles: String,
}

pub fn run(args: &Args) -> CommandResult {
    let roles = args
        .roles
        .split('+')
        .map(|role| match role {
            "read" => Ok(Role::Read),
            "decide" => Ok(Role::Decide),
            "admin" => Ok(Role::Admin),
            other => Err(Failure::Usage(format!(
                "`{other}` is not a role: read, decide or admin"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let secret = new_secret().map_err(Failure::failed)?;
    let token = TokenArg::new(&secret, &roles);
    eprintln!(
        "The first line is the secret: give it to the client (Authorization: Bearer …); \
         it is not stored anywhere.\nThe second is for the server: --token '…', or in the \
         config file's tokens = [ … ]."
    );
    out!("{secret}");
    out!("{token}");
    Ok(())
}
