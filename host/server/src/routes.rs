//! The HTTP API: thin handlers over [`AppState`].
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/decisions/{entry}` | authoritative decision: stored, then answered with a signed receipt |
//! | `GET /v1/decisions/{id}` · `GET /v1/decisions` | one stored decision · a filtered, paginated listing |
//! | `POST /v1/evaluate/{entry}` | a preview (partial mode allowed), not stored |
//! | `POST /v1/verify` | recompute what a client computed; agree, or the differing paths |
//! | `GET /v1/policies` · `GET /v1/policies/{name}` | the bundles served |
//! | `/v1/policies/{name}/decisions/{entry}` · `…/evaluate/{entry}` | the same, for a named bundle |
//! | `GET /v1/keys` | the receipt signing key |
//! | `GET /engine/{sha256}/{file}` · `GET /engine/bundles/{hash}.json` | the exact artifact, its JS, each packed bundle |
//! | `GET /healthz` · `/readyz` · `/metrics` | liveness, readiness, Prometheus |

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use eligo_core::wire::{DecideRequest, ErrorKind, Mode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::CompressionLevel;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{authorize, Caller};
use crate::error::ApiError;
use crate::receipt::{sha256, Attestation, RECEIPT_FORMAT};
use crate::state::{now_utc, AppState, Policy};
use crate::store::{DecisionFilter, DecisionRecord};

type AppResult<T> = Result<T, ApiError>;
/// The state every handler gets.
pub type SharedState = Arc<AppState>;

/// The router over `state`, and the OpenAPI document of its API routes
/// (built from the same list, so neither can name a route the other lacks).
pub fn app(state: SharedState) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let document = Arc::new(document);
    let max_body = state.config().max_body_bytes;
    api.route(
        "/openapi.json",
        get(move || {
            let document = Arc::clone(&document);
            async move { Json(document) }
        }),
    )
    .fallback_service(web_page(&state))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        preload_engine,
    ))
    .layer(DefaultBodyLimit::max(max_body))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        refuse_oversized,
    ))
    .layer(middleware::from_fn_with_state(state.clone(), authorize))
    // Answers are compressed as they go out, at a level meant for dynamic
    // content (brotli 4, gzip 4); what is large and fixed is compressed
    // once, at brotli 11 (see [`crate::encoded`] and the web page's
    // precompressed files).
    .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)))
    .layer(middleware::from_fn_with_state(state.clone(), observe))
    .with_state(state)
}

/// Answers 413 to a body whose declared length is over `--max-body-bytes`
/// before reading any of it. Reading up to the limit first, the server
/// answered and closed while the client was still sending the rest, and
/// the client saw a broken pipe instead of the answer.
async fn refuse_oversized(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let max = state.config().max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > max as u64 => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::BadRequest,
            format!("the body is {length} bytes; at most {max} are accepted (--max-body-bytes)"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// The OpenAPI document alone (what `/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Eligo decision service",
        description = "Authoritative, audited eligibility decisions with signed receipts; previews; verification of what a browser computed; the policies and the engine served.",
    ),
    components(schemas(ErrorDoc, ErrorBodyDoc)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn api_routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        // One path, two meanings: POST decides for an entry, GET reads a
        // stored decision by id.
        .routes(routes!(decide_default, get_decision))
        .routes(routes!(list_decisions))
        .routes(routes!(replay_decision))
        .routes(routes!(evaluate_default))
        .routes(routes!(verify))
        .routes(routes!(list_policies))
        .routes(routes!(get_policy, publish))
        .routes(routes!(decide_named))
        .routes(routes!(evaluate_named))
        .routes(routes!(reload))
        .routes(routes!(keys))
        .routes(routes!(engine_current))
        .routes(routes!(engine_bundle))
        .routes(routes!(engine_file))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The error body every route answers with (`ErrorKind` in the core).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorDoc {
    error: ErrorBodyDoc,
}

/// `kind` is one of bad_request, bad_json, invalid_input, missing_needed,
/// rule_error, bundle_error, no_bundle, stopped, host_error.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorBodyDoc {
    kind: String,
    message: String,
    /// Invalid input: each problem with its JSON path.
    #[schema(value_type = Option<Vec<Object>>)]
    problems: Option<Vec<Value>>,
    /// A bundle's problems, each with file, line and column.
    #[schema(value_type = Option<Vec<Object>>)]
    diagnostics: Option<Vec<Value>>,
}

/// The web page: static files from `--web-root`, `index.html` for `/`;
/// anything else is the API's 404. A file's `.br` or `.gz` beside it (which
/// `cargo xtask web` writes at brotli quality 11) is sent instead when the
/// browser accepts it. The page itself is revalidated on every
/// load (`no-cache`) so a new deployment is seen at once; what it loads by
/// hash is cached forever (see [`crate::encoded::Encoded::response`]).
fn web_page(state: &AppState) -> Router {
    let not_found = || async { ApiError::not_found("no such route or page") };
    Router::new()
        .fallback_service(
            ServeDir::new(&state.config().web_root)
                .precompressed_br()
                .precompressed_gzip()
                .not_found_service(axum::handler::HandlerWithoutStateExt::into_service(
                    not_found,
                )),
        )
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
}

/// The caseworker's form (`/`, `/index.html`) can decide only once it has
/// the engine's API, the artifact and the default policy. Its script finds
/// their URLs in `/engine/current`, so without a hint they are fetched
/// after the page, its script and that answer, one after the other. The
/// server knows them already: a `Link` header names them with the page, so
/// the browser fetches all of them while it parses it.
async fn preload_engine(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let is_form = matches!(request.uri().path(), "/" | "/index.html");
    let mut response = next.run(request).await;
    if is_form && response.status().is_success() {
        if let Ok(links) = HeaderValue::from_str(&engine_preloads(&state)) {
            response.headers_mut().append(header::LINK, links);
        }
    }
    response
}

/// The `Link` header value for [`preload_engine`]: the same URLs, fetched
/// the same way (`fetch` and module imports), as the page's script uses,
/// so the browser reuses what it preloaded.
fn engine_preloads(state: &AppState) -> String {
    let sha = state.artifact_sha256().trim_start_matches("sha256:");
    let mut links = vec![
        "</engine/current>; rel=preload; as=fetch; crossorigin".to_string(),
        format!("</engine/{sha}/index.js>; rel=modulepreload"),
        format!("</engine/{sha}/eligo.js>; rel=modulepreload"),
        format!("</engine/{sha}/eligo_bg.wasm>; rel=preload; as=fetch; crossorigin"),
    ];
    // The page's script takes the first policy `/engine/current` lists.
    if let Some(policy) = state.policy(None) {
        links.push(format!(
            "</engine/bundles/{}.json>; rel=preload; as=fetch; crossorigin",
            policy.hash
        ));
    }
    links.join(", ")
}

/// Counts every request by route and status, with its latency.
async fn observe(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics()
        .request(&route, response.status().as_u16(), started.elapsed());
    response
}

/// The body of a decision or preview request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    /// The entry's input, as its schema says.
    #[schema(value_type = Object)]
    input: Value,
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    /// Previews only: `partial` for forms.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    mode: Option<Mode>,
}

/// Parses a JSON body into `T`, as a 400 naming what is wrong (axum's own
/// rejection would answer in plain text).
fn json_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> AppResult<T> {
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or_default();
        if !kind.starts_with("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorKind::BadRequest,
                format!("the body must be application/json, not `{kind}`"),
            ));
        }
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    // A key named twice anywhere is refused, as the engine refuses it (an
    // audited request has one reading). In the input, with the very answer
    // the engine gives: its path relative to the input (`members[0].age`).
    if let Err(eligo_core::strict_json::StrictJsonError::DuplicateKey(path)) =
        eligo_core::strict_json::check(text)
    {
        let in_input = path.strip_prefix("input.").or_else(|| {
            path.strip_prefix("input")
                .filter(|rest| rest.starts_with('['))
        });
        return Err(match in_input {
            Some(in_input) => ApiError::from(eligo_core::api::duplicate_key(in_input)),
            // Elsewhere in the body (`as_of`, a verified envelope): the
            // request itself is malformed.
            None => ApiError::bad_request(format!(
                "{path}: the key appears twice in one object of the body"
            )),
        });
    }
    serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))
}

fn find_policy(state: &AppState, name: Option<&str>) -> AppResult<Arc<Policy>> {
    state
        .policy(name)
        .ok_or_else(|| ApiError::not_found(format!("no policy named `{}`", name.unwrap_or(""))))
}

/// Runs the decision in the wasm runtime on a blocking thread, under a
/// permit: no permit left is a 503, never an unbounded queue.
async fn run_decision(
    state: &SharedState,
    policy: &Arc<Policy>,
    request: DecideRequest,
) -> AppResult<eligo_runtime::EnvelopeJson> {
    let Ok(permit) = Arc::clone(state.permits()).try_acquire_owned() else {
        state.metrics().rejected();
        return Err(ApiError::saturated());
    };
    let policy = Arc::clone(policy);
    let entry = request.entry.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let answer = policy.runtime.decide(&request);
        drop(permit);
        (policy, answer)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the decision task failed: {e}")))?;
    let (policy, answer) = answer;
    let outcome = match &answer {
        Ok(_) => "ok".to_string(),
        Err(error) => error.kind.to_string(),
    };
    state.metrics().decision(&policy.name, &entry, &outcome);
    answer.map_err(ApiError::from)
}

fn as_of_or_now(state: &AppState, as_of: Option<String>) -> String {
    as_of.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&state.config().default_offset)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    })
}

/// `{"decision_id", "envelope", "receipt"}`, the envelope and receipt as
/// the bytes stored.
#[derive(Serialize, utoipa::ToSchema)]
struct DecisionAnswer<'a> {
    decision_id: &'a str,
    /// The decision envelope, byte for byte as stored and signed.
    #[schema(value_type = Object)]
    envelope: &'a RawValue,
    /// The signed receipt: `{attestation, signature}`.
    #[schema(value_type = Object)]
    receipt: &'a RawValue,
}

/// Stored JSON text as a raw value, embedded byte for byte.
fn raw(text: &str) -> AppResult<&RawValue> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::internal(format!("a stored record does not read: {e}")))
}

fn decision_answer(record: &DecisionRecord, status: StatusCode) -> AppResult<Response> {
    let answer = DecisionAnswer {
        decision_id: &record.id,
        envelope: raw(&record.envelope)?,
        receipt: raw(&record.receipt)?,
    };
    let text = serde_json::to_string(&answer).expect("an answer serialises");
    Ok((status, [(header::CONTENT_TYPE, "application/json")], text).into_response())
}

#[utoipa::path(post, path = "/v1/decisions/{entry_or_id}", tag = "decisions",
    params(("entry_or_id" = String, Path, description = "The entry point, e.g. household")),
    request_body(content = DecisionBody, description = "`mode` must be absent or strict"),
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key answers the first decision")),
    responses((status = 201, body = DecisionAnswer), (status = 200, description = "the first decision of this Idempotency-Key", body = DecisionAnswer),
        (status = 409, description = "the Idempotency-Key was used for a different request", body = ErrorDoc),
        (status = 413, body = ErrorDoc), (status = 415, body = ErrorDoc), (status = 422, description = "invalid input, a needed field missing, a rule error", body = ErrorDoc),
        (status = 503, description = "saturated; see Retry-After", body = ErrorDoc), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
async fn decide_default(
    State(state): State<SharedState>,
    Path(entry): Path<String>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    decide(state, None, entry, caller, headers, body).await
}

#[utoipa::path(post, path = "/v1/policies/{name}/decisions/{entry}", tag = "decisions",
    params(("name" = String, Path), ("entry" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = DecisionBody,
    responses((status = 201, body = DecisionAnswer), (status = 200, body = DecisionAnswer), (status = 404, body = ErrorDoc), (status = 409, body = ErrorDoc), (status = 422, body = ErrorDoc), (status = 503, body = ErrorDoc), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
async fn decide_named(
    State(state): State<SharedState>,
    Path((name, entry)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    decide(state, Some(name), entry, caller, headers, body).await
}

/// An authoritative decision: strict mode, written to the audit log before
/// it is answered. A repeated `Idempotency-Key` answers the first decision.
async fn decide(
    state: SharedState,
    policy_name: Option<String>,
    entry: String,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let policy = find_policy(&state, policy_name.as_deref())?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|key| !key.is_empty() && key.len() <= 200)
                .ok_or_else(|| {
                    ApiError::bad_request("Idempotency-Key must be 1 to 200 visible characters")
                })?
                .to_string(),
        ),
    };
    let body: DecisionBody = json_body(&headers, &body)?;
    if let Some(key) = &idempotency_key {
        if let Some(first) = state
            .store()
            .by_idempotency_key(key)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
        {
            // A retry is the same request; anything else reusing the key
            // is a client bug that must not silently get someone else's
            // decision.
            let same_input =
                serde_json::from_str::<Value>(&first.input).ok().as_ref() == Some(&body.input);
            let same = same_input
                && first.entry == entry
                && first.policy_name == policy.name
                && body
                    .as_of
                    .as_ref()
                    .is_none_or(|as_of| *as_of == first.as_of);
            if !same {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorKind::BadRequest,
                    format!(
                        "Idempotency-Key `{key}` was used for a different request (decision {}); use a new key for a new request",
                        first.id
                    ),
                ));
            }
            return decision_answer(&first, StatusCode::OK);
        }
    }
    if body.mode.is_some_and(|mode| mode != Mode::Strict) {
        return Err(ApiError::bad_request(
            "authoritative decisions are strict; preview partial ones at /v1/evaluate",
        ));
    }
    let received_at = now_utc();
    let as_of = as_of_or_now(&state, body.as_of);
    let input = body.input;
    let request = DecideRequest {
        entry: entry.clone(),
        input: input.clone(),
        as_of: as_of.clone(),
        mode: Mode::Strict,
        lang: body.lang,
    };
    let envelope = run_decision(&state, &policy, request).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let input_text = input.to_string();
    let receipt = state.signer().sign(Attestation {
        format: RECEIPT_FORMAT.to_string(),
        decision_id: id.clone(),
        key_id: String::new(),
        input_sha256: sha256(input_text.as_bytes()),
        policy_hash: policy.hash.clone(),
        artifact_sha256: state.artifact_sha256().to_string(),
        as_of: as_of.clone(),
        envelope_sha256: sha256(envelope.as_str().as_bytes()),
    });
    let record = DecisionRecord {
        id,
        received_at,
        policy_name: policy.name.clone(),
        entry,
        household_id: input.get("id").and_then(Value::as_str).map(str::to_string),
        status: "decided".to_string(),
        as_of,
        input: input_text,
        envelope: envelope.into_string(),
        policy_hash: policy.hash.clone(),
        artifact_sha256: state.artifact_sha256().to_string(),
        caller: caller.0,
        idempotency_key,
        receipt: serde_json::to_string(&receipt).expect("a receipt serialises"),
    };
    let stored = state
        .store()
        .write(record)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    decision_answer(&stored, StatusCode::CREATED)
}

#[utoipa::path(post, path = "/v1/evaluate/{entry}", tag = "decisions",
    params(("entry" = String, Path)), request_body = DecisionBody,
    responses((status = 200, description = "the envelope; not stored", body = Object), (status = 422, body = ErrorDoc), (status = 503, body = ErrorDoc), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
async fn evaluate_default(
    State(state): State<SharedState>,
    Path(entry): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    evaluate(state, None, entry, headers, body).await
}

#[utoipa::path(post, path = "/v1/policies/{name}/evaluate/{entry}", tag = "decisions",
    params(("name" = String, Path), ("entry" = String, Path)), request_body = DecisionBody,
    responses((status = 200, body = Object), (status = 404, body = ErrorDoc), (status = 422, body = ErrorDoc), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
async fn evaluate_named(
    State(state): State<SharedState>,
    Path((name, entry)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    evaluate(state, Some(name), entry, headers, body).await
}

/// A preview: any mode, nothing stored.
async fn evaluate(
    state: SharedState,
    policy_name: Option<String>,
    entry: String,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let policy = find_policy(&state, policy_name.as_deref())?;
    let body: DecisionBody = json_body(&headers, &body)?;
    let request = DecideRequest {
        entry,
        input: body.input,
        as_of: as_of_or_now(&state, body.as_of),
        mode: body.mode.unwrap_or_default(),
        lang: body.lang,
    };
    let envelope = run_decision(&state, &policy, request).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        envelope.into_string(),
    )
        .into_response())
}

/// What a client sends to have its decision checked.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    #[schema(value_type = Object)]
    input: Value,
    /// The envelope the client computed; its entry, as_of, mode and lang
    /// say what to recompute.
    #[schema(value_type = Object)]
    envelope: Value,
    /// The policy it used, by served name (default: the default policy).
    #[serde(default)]
    policy: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct VerifyAnswer {
    agree: bool,
    same_policy: bool,
    same_engine: bool,
    /// `{path, before, after}` for each JSON path that differs.
    #[schema(value_type = Vec<Object>)]
    differences: Vec<eligo_core::diff::Change>,
    /// The server's envelope.
    #[schema(value_type = Object)]
    envelope: Value,
}

#[utoipa::path(post, path = "/v1/verify", tag = "decisions", request_body = VerifyBody,
    responses((status = 200, body = VerifyAnswer), (status = 422, body = ErrorDoc), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
/// Recomputes a client's decision and compares it with the client's.
async fn verify(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<VerifyAnswer>> {
    let body: VerifyBody = json_body(&headers, &body)?;
    let policy = find_policy(&state, body.policy.as_deref())?;
    let field = |name: &str| body.envelope.get(name).and_then(Value::as_str);
    let (Some(entry), Some(as_of)) = (field("entry"), field("as_of")) else {
        return Err(ApiError::bad_request(
            "envelope: needs at least `entry` and `as_of` to recompute",
        ));
    };
    let mode = match field("mode") {
        Some("partial") => Mode::Partial,
        _ => Mode::Strict,
    };
    let request = DecideRequest {
        entry: entry.to_string(),
        input: body.input.clone(),
        as_of: as_of.to_string(),
        mode,
        lang: field("lang").map(str::to_string),
    };
    let envelope = run_decision(&state, &policy, request).await?;
    let server: Value = serde_json::from_str(envelope.as_str())
        .map_err(|e| ApiError::internal(format!("the engine's envelope does not read: {e}")))?;
    let differences = eligo_core::diff::changes(&body.envelope, &server);
    Ok(Json(VerifyAnswer {
        agree: differences.is_empty(),
        same_policy: body.envelope.pointer("/policy/hash") == server.pointer("/policy/hash"),
        same_engine: body.envelope.pointer("/engine") == server.pointer("/engine"),
        differences,
        envelope: server,
    }))
}

#[utoipa::path(get, path = "/v1/decisions/{entry_or_id}", tag = "decisions",
    params(("entry_or_id" = String, Path, description = "The decision's id")),
    responses((status = 200, description = "the stored record: input, envelope and receipt as stored", body = Object), (status = 404, body = ErrorDoc), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
async fn get_decision(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let record = state
        .store()
        .decision(&id)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("no decision `{id}`")))?;
    record_response(&record)
}

/// A stored record with its input, envelope and receipt as JSON (the
/// envelope's bytes as stored).
#[derive(Serialize)]
struct RecordAnswer<'a> {
    id: &'a str,
    received_at: &'a str,
    policy_name: &'a str,
    entry: &'a str,
    household_id: Option<&'a str>,
    status: &'a str,
    as_of: &'a str,
    policy_hash: &'a str,
    artifact_sha256: &'a str,
    caller: &'a str,
    input: &'a RawValue,
    envelope: &'a RawValue,
    receipt: &'a RawValue,
}

fn record_answer(record: &DecisionRecord) -> AppResult<RecordAnswer<'_>> {
    Ok(RecordAnswer {
        id: &record.id,
        received_at: &record.received_at,
        policy_name: &record.policy_name,
        entry: &record.entry,
        household_id: record.household_id.as_deref(),
        status: &record.status,
        as_of: &record.as_of,
        policy_hash: &record.policy_hash,
        artifact_sha256: &record.artifact_sha256,
        caller: &record.caller,
        input: raw(&record.input)?,
        envelope: raw(&record.envelope)?,
        receipt: raw(&record.receipt)?,
    })
}

fn record_response(record: &DecisionRecord) -> AppResult<Response> {
    let text = serde_json::to_string(&record_answer(record)?).expect("a record serialises");
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

#[utoipa::path(get, path = "/v1/decisions/{id}/replay", tag = "decisions",
    params(("id" = String, Path)),
    responses((status = 200, body = crate::replay::ReplayReport), (status = 404, body = ErrorDoc), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
/// Re-decides a stored decision with its kept bundle and artifact.
async fn replay_decision(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> AppResult<Json<crate::replay::ReplayReport>> {
    use crate::replay::{replay, ReplayError};
    replay(state.store(), Some(state.engine()), &id)
        .await
        .map(Json)
        .map_err(|error| match error {
            ReplayError::NotFound(message) => ApiError::not_found(message),
            other => ApiError::internal(other.to_string()),
        })
}

#[derive(Serialize)]
struct Listing<'a> {
    decisions: Vec<RecordAnswer<'a>>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[utoipa::path(get, path = "/v1/decisions", tag = "decisions", params(DecisionFilter),
    responses((status = 200, description = "`{decisions: [record], next?: cursor}`, newest first", body = Object), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
async fn list_decisions(
    State(state): State<SharedState>,
    filter: Result<Query<DecisionFilter>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let Query(filter) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (records, next) = state
        .store()
        .list(&filter)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let decisions = records
        .iter()
        .map(record_answer)
        .collect::<AppResult<Vec<_>>>()?;
    let text = serde_json::to_string(&Listing { decisions, next }).expect("a listing serialises");
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
struct PolicySummary {
    name: String,
    /// `disk:<path>` or `api`.
    source: String,
    default: bool,
    /// `{name, version, hash, entries}`.
    #[schema(value_type = Object)]
    bundle: eligo_core::wire::BundleSummary,
    packed_url: String,
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies",
    responses((status = 200, body = Vec<PolicySummary>)))]
async fn list_policies(State(state): State<SharedState>) -> Json<Vec<PolicySummary>> {
    let summaries = state
        .policies()
        .iter()
        .enumerate()
        .map(|(index, policy)| PolicySummary {
            source: policy.source.clone(),
            name: policy.name.clone(),
            default: index == 0,
            bundle: eligo_core::api::summary(&policy.bundle),
            packed_url: format!("/engine/bundles/{}.json", policy.hash),
        })
        .collect();
    Json(summaries)
}

#[derive(Serialize)]
struct PolicyDetail {
    name: String,
    default: bool,
    packed_url: String,
    /// Today (in the server's default offset) and each parameter's value
    /// in force on it; the whole history is under `parameters`.
    today: String,
    in_force: std::collections::BTreeMap<String, eligo_core::wire::ParameterValueInfo>,
    #[serde(flatten)]
    info: eligo_core::wire::BundleInfo,
}

#[utoipa::path(get, path = "/v1/policies/{name}", tag = "policies", params(("name" = String, Path)),
    responses((status = 200, description = "manifest, hash, entries with their input schemas (own form and JSON Schema), parameters with their history", body = Object), (status = 404, body = ErrorDoc)))]
async fn get_policy(
    State(state): State<SharedState>,
    Path(name): Path<String>,
) -> AppResult<Json<PolicyDetail>> {
    let policy = find_policy(&state, Some(&name))?;
    let info = eligo_core::api::describe(&policy.bundle);
    let today = chrono::Utc::now()
        .with_timezone(&state.config().default_offset)
        .format("%Y-%m-%d")
        .to_string();
    // ISO dates compare as text: the latest value from on or before today.
    let in_force = info
        .parameters
        .iter()
        .filter_map(|param| {
            let value = param.values.iter().rev().find(|v| v.from <= today)?;
            Some((param.name.clone(), value.clone()))
        })
        .collect();
    Ok(Json(PolicyDetail {
        name: policy.name.clone(),
        default: Arc::ptr_eq(&policy, &state.policies()[0]),
        packed_url: format!("/engine/bundles/{}.json", policy.hash),
        today,
        in_force,
        info,
    }))
}

#[utoipa::path(put, path = "/v1/policies/{name}", tag = "policies", params(("name" = String, Path)),
    request_body(content = Object, description = "a packed bundle (`eligo pack`) or `{\"files\": {path: text}}`"),
    responses((status = 200, description = "replaced", body = PolicySummary), (status = 201, description = "added", body = PolicySummary),
        (status = 422, description = "the bundle does not load or its tests fail; the old one keeps serving", body = ErrorDoc), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
/// Publishes a bundle under `name`: a packed bundle (as `eligo pack`
/// writes it) or `{"files": {…}}`. It must load and pass its own tests;
/// then it replaces the policy of that name (or adds one) for every new
/// request, on this replica and, through the store, on the others.
async fn publish(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<PolicySummary>)> {
    if !crate::config::valid_policy_name(&name) {
        return Err(ApiError::bad_request(format!(
            "policy name `{name}` must be 1 to 64 letters, digits, - or _"
        )));
    }
    let request: eligo_core::wire::LoadRequest = json_body(&headers, &body)?;
    let bundle = eligo_core::api::load(request).map_err(ApiError::from)?;
    let existed = state.policy(Some(&name)).is_some();
    let policy = state
        .publish(&name, bundle.files().clone(), "api".to_string(), &caller.0)
        .await
        .map_err(|refused| ApiError::from(refused.0))?;
    let default = Arc::ptr_eq(&policy, &state.policies()[0]);
    Ok((
        if existed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(PolicySummary {
            name: policy.name.clone(),
            source: policy.source.clone(),
            default,
            bundle: eligo_core::api::summary(&policy.bundle),
            packed_url: format!("/engine/bundles/{}.json", policy.hash),
        }),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReloadOutcome {
    policy: String,
    /// `unchanged`, `published` or `refused`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ErrorBodyDoc>)]
    error: Option<eligo_core::wire::ErrorBody>,
}

#[utoipa::path(post, path = "/v1/reload", tag = "policies",
    responses((status = 200, body = Vec<ReloadOutcome>), (status = 400, description = "malformed", body = ErrorDoc), (status = 401, description = "no or unknown token", body = ErrorDoc), (status = 403, description = "the token lacks the role", body = ErrorDoc)),
    security(("bearer" = [])))]
/// Reads the bundles named on the command line again (what SIGHUP does):
/// changed ones are checked, tested and swapped in; a broken one is
/// refused with its diagnostics and the old one keeps serving.
async fn reload(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
) -> Json<Vec<ReloadOutcome>> {
    use crate::state::Reloaded;
    let outcomes = state.reload_from_disk(&caller.0).await;
    Json(
        outcomes
            .into_iter()
            .map(|(policy, outcome)| {
                let (outcome, hash, error) = match outcome {
                    Reloaded::Unchanged(hash) => ("unchanged", Some(hash), None),
                    Reloaded::Published(hash) => ("published", Some(hash), None),
                    Reloaded::Refused(refused) => ("refused", None, Some(refused.0)),
                };
                ReloadOutcome {
                    policy,
                    outcome,
                    hash,
                    error,
                }
            })
            .collect(),
    )
}

#[derive(Serialize, utoipa::ToSchema)]
struct KeyInfo {
    key_id: String,
    algorithm: &'static str,
    public_key_hex: String,
}

#[utoipa::path(get, path = "/v1/keys", tag = "receipts", responses((status = 200, body = Vec<KeyInfo>)))]
async fn keys(State(state): State<SharedState>) -> Json<Vec<KeyInfo>> {
    let key = state.signer().verifying_key();
    Json(vec![KeyInfo {
        key_id: state.signer().key_id().to_string(),
        algorithm: "ed25519",
        public_key_hex: hex::encode(key.as_bytes()),
    }])
}

#[utoipa::path(get, path = "/engine/current", tag = "engine",
    responses((status = 200, description = "the artifact's sha256 and URLs, and each policy's packed bundle URL", body = Object)))]
/// Which artifact and bundles a browser should load, by hash.
async fn engine_current(State(state): State<SharedState>) -> Json<Value> {
    let sha = state.artifact_sha256().trim_start_matches("sha256:");
    Json(serde_json::json!({
        "artifact": state.artifact_sha256(),
        "module": format!("/engine/{sha}/index.js"),
        "wasm": format!("/engine/{sha}/eligo_bg.wasm"),
        "policies": state.policies().iter().map(|p| serde_json::json!({
            "name": p.name, "hash": p.hash,
            "url": format!("/engine/bundles/{}.json", p.hash),
        })).collect::<Vec<_>>(),
    }))
}

#[utoipa::path(get, path = "/engine/{sha}/{file}", tag = "engine",
    params(("sha" = String, Path, description = "the artifact's sha256, hex"), ("file" = String, Path, description = "eligo_bg.wasm, index.js, eligo.js, index.d.ts or eligo.d.ts")),
    responses((status = 200, description = "immutable; brotli or gzip as accepted"), (status = 404, body = ErrorDoc)))]
async fn engine_file(
    State(state): State<SharedState>,
    Path((sha, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    if format!("sha256:{sha}") != state.artifact_sha256() {
        return Err(ApiError::not_found(format!(
            "this server runs artifact {}, not sha256:{sha}",
            state.artifact_sha256()
        )));
    }
    if file == "eligo_bg.wasm" {
        return Ok(state.artifact().response("application/wasm", &headers));
    }
    let content_type = if file.ends_with(".js") {
        "text/javascript"
    } else {
        "application/typescript"
    };
    let body = state
        .package_file(&file)
        .ok_or_else(|| ApiError::not_found(format!("no engine file `{file}`")))?;
    Ok(body.response(content_type, &headers))
}

#[utoipa::path(get, path = "/engine/bundles/{file}", tag = "engine",
    params(("file" = String, Path, description = "`<hash>.json`: any bundle this server ever served")),
    responses((status = 200, description = "the packed bundle, immutable", body = Object), (status = 404, body = ErrorDoc)))]
async fn engine_bundle(
    State(state): State<SharedState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let hash = file
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::not_found("bundles are /engine/bundles/<hash>.json"))?;
    if let Some(policy) = state.policies().iter().find(|p| p.hash == hash) {
        return Ok(policy.packed_body.response("application/json", &headers));
    }
    let packed = state
        .store()
        .bundle(hash)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("no bundle {hash} was ever served here")))?;
    // A bundle no longer served is rarely asked for: compressed on the way
    // out, like any answer.
    let mut response = ([(header::CONTENT_TYPE, "application/json")], packed).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
async fn healthz() -> &'static str {
    "ok\n"
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "the audit store answers"), (status = 503, body = ErrorDoc)))]
async fn readyz(State(state): State<SharedState>) -> AppResult<&'static str> {
    if state.store().ping().await {
        Ok("ready\n")
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::HostError,
            "the audit store does not answer",
        ))
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text")))]
async fn metrics(State(state): State<SharedState>) -> Response {
    let limit = state.config().max_in_flight;
    let in_flight = limit.saturating_sub(state.permits().available_permits());
    let mut text = state.metrics().render(in_flight, limit);
    text.push_str(&crate::metrics::render_pools(&state.policies()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
