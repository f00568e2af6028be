//! Bearer tokens and roles.
//!
//! A token is configured by its roles and the sha256 of its secret, never
//! the secret itself; a presented token is hashed and compared in constant
//! time with every configured hash. Roles: `read` (stored decisions),
//! `decide` (decisions, previews, verification), `admin` (publishing and
//! reloading policies, and everything else). The page, the engine's
//! files, policies, keys, health and metrics are public.
//!
//! With no token configured the server answers everyone, and therefore
//! refuses to listen beyond loopback.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use eligo_core::wire::ErrorKind;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::routes::SharedState;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read stored decisions.
    Read,
    /// Decide, preview and verify.
    Decide,
    /// Publish and reload policies; implies every other role.
    Admin,
}

impl Role {
    fn bit(self) -> u8 {
        match self {
            Role::Read => 1,
            Role::Decide => 2,
            Role::Admin => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Decide => "decide",
            Role::Admin => "admin",
        }
    }
}

/// A configured token: `ROLES=sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenArg {
    roles: u8,
    secret_sha256: [u8; 32],
}

impl TokenArg {
    /// A token for `secret` with `roles`.
    pub fn new(secret: &str, roles: &[Role]) -> TokenArg {
        TokenArg {
            roles: roles.iter().fold(0, |bits, role| bits | role.bit()),
            secret_sha256: Sha256::digest(secret.as_bytes()).into(),
        }
    }

    fn allows(&self, role: Role) -> bool {
        self.roles & (role.bit() | Role::Admin.bit()) != 0
    }

    /// How records name the caller: the roles and the first bytes of the
    /// secret's hash (an id, not the secret).
    fn caller(&self) -> String {
        format!("token:{}", hex::encode(&self.secret_sha256[..6]))
    }
}

impl std::fmt::Display for TokenArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles: Vec<&str> = [Role::Read, Role::Decide, Role::Admin]
            .into_iter()
            .filter(|role| self.roles & role.bit() != 0)
            .map(Role::name)
            .collect();
        write!(
            f,
            "{}=sha256:{}",
            roles.join("+"),
            hex::encode(self.secret_sha256)
        )
    }
}

impl std::str::FromStr for TokenArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (roles, hash) = text
            .split_once('=')
            .ok_or_else(|| "a token is ROLES=sha256:HEX (see `eligo token`)".to_string())?;
        let mut bits = 0;
        for role in roles.split('+') {
            bits |= match role {
                "read" => Role::Read,
                "decide" => Role::Decide,
                "admin" => Role::Admin,
                other => return Err(format!("`{other}` is not a role: read, decide or admin")),
            }
            .bit();
        }
        let hex_hash = hash
            .strip_prefix("sha256:")
            .ok_or_else(|| "the token's hash must start with `sha256:`".to_string())?;
        let mut secret_sha256 = [0u8; 32];
        hex::decode_to_slice(hex_hash, &mut secret_sha256)
            .map_err(|_| "the token's hash must be 64 hex digits".to_string())?;
        Ok(TokenArg {
            roles: bits,
            secret_sha256,
        })
    }
}

/// Who made a request, for the audit record.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// The role a request needs, by method and route; `None` is public.
fn required_role(method: &Method, route: &str) -> Option<Role> {
    let reads = *method == Method::GET || *method == Method::HEAD;
    match route {
        "/v1/decisions" | "/v1/decisions/{entry_or_id}" | "/v1/decisions/{id}/replay" if reads => {
            Some(Role::Read)
        }
        "/v1/decisions/{entry_or_id}"
        | "/v1/evaluate/{entry}"
        | "/v1/verify"
        | "/v1/policies/{name}/decisions/{entry}"
        | "/v1/policies/{name}/evaluate/{entry}" => Some(Role::Decide),
        "/v1/policies/{name}" | "/v1/reload" if !reads => Some(Role::Admin),
        _ => None,
    }
}

/// Checks the bearer token against the route's role, and records who
/// called in the request's extensions.
pub async fn authorize(
    State(state): State<SharedState>,
    mut request: Request,
    next: Next,
) -> Response {
    let tokens = state.tokens();
    if tokens.is_empty() {
        request
            .extensions_mut()
            .insert(Caller("loopback".to_string()));
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    let Some(role) = required_role(request.method(), route) else {
        request
            .extensions_mut()
            .insert(Caller("public".to_string()));
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(presented) = presented else {
        return unauthorized("this route needs a bearer token (Authorization: Bearer …)");
    };
    let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
    // Every configured hash is compared, so the time taken says nothing
    // about which (if any) matched.
    let mut found: Option<&TokenArg> = None;
    for token in tokens {
        if bool::from(token.secret_sha256.ct_eq(&digest)) {
            found = Some(token);
        }
    }
    let Some(token) = found else {
        state.metrics().rejected();
        return unauthorized("the bearer token is not one this server knows");
    };
    if !token.allows(role) {
        state.metrics().rejected();
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::BadRequest,
            format!(
                "this token lacks the `{}` role this route needs",
                role.name()
            ),
        )
        .into_response();
    }
    request.extensions_mut().insert(Caller(token.caller()));
    next.run(request).await
}

fn unauthorized(message: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorKind::BadRequest, message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// A new random secret, `eligo_<64 hex>`.
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(format!("eligo_{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_admin_implies_every_role() {
        let token = TokenArg::new("s3cret", &[Role::Decide, Role::Read]);
        let text = token.to_string();
        assert!(text.starts_with("read+decide=sha256:"), "{text}");
        assert_eq!(text.parse::<TokenArg>().unwrap(), token);
        assert!(token.allows(Role::Read) && token.allows(Role::Decide));
        assert!(!token.allows(Role::Admin));
        let admin = TokenArg::new("x", &[Role::Admin]);
        assert!(admin.allows(Role::Read) && admin.allows(Role::Decide));
        assert!("root=sha256:00".parse::<TokenArg>().is_err());
        assert!("read=md5:00".parse::<TokenArg>().is_err());
    }

    #[test]
    fn routes_need_the_roles_they_say() {
        assert_eq!(
            required_role(&Method::POST, "/v1/decisions/{entry_or_id}"),
            Some(Role::Decide)
        );
        assert_eq!(
            required_role(&Method::GET, "/v1/decisions/{entry_or_id}"),
            Some(Role::Read)
        );
        assert_eq!(
            required_role(&Method::PUT, "/v1/policies/{name}"),
            Some(Role::Admin)
        );
        assert_eq!(required_role(&Method::GET, "/v1/policies/{name}"), None);
        assert_eq!(required_role(&Method::GET, "/engine/current"), None);
    }
}
