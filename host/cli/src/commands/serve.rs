//! `eligo serve`: the HTTP decision service (see the `eligo-server` crate).

use super::{CommandResult, Failure};

/// `eligo serve` arguments: the server's own.
pub type Args = eligo_server::config::ServeArgs;

pub fn run(args: Args) -> CommandResult {
    eligo_server::run(args).map_err(|error| Failure::failed(error.to_string()))
}
