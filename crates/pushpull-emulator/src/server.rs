//! The HTTP face: parses Kubernetes REST paths (`/apis/apps/v1/namespaces/x/deployments/y/scale`)
//! into a `Route`, maps verbs and media types onto store calls, and renders JSON, Tables,
//! watch streams and `Status` errors. Every request first passes the fault layer.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::discovery;
use super::faults::Faults;
use super::openapi;
use super::protobuf;
use super::resource::Resource;
use super::scale::scale_of;
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{PatchKind, Propagation, Store, Subresource, WatchFrom, WriteOptions};
use super::table::{self, IncludeObject};
use super::watch::{self as watch_stream, WatchSpec};

#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Arc<Store>,
    pub faults: Faults,
    pub server_address: String,
    pub bookmark_interval: Duration,
    pub shutdown: watch::Receiver<bool>,
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .fallback(handle)
        .layer(middleware::from_fn_with_state(state.clone(), fault_layer))
        .with_state(state)
}

async fn fault_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.faults.before_request().await {
        Ok(()) => next.run(request).await,
        Err(err) => error_response(&err),
    }
}

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Version,
    Health,
    OpenApiIndex,
    OpenApiV2,
    OpenApi(String),
    CoreVersions,
    Groups,
    Group(String),
    ResourceList(String),
    Collection {
        resource: Resource,
        namespace: Option<String>,
    },
    Object {
        resource: Resource,
        namespace: Option<String>,
        name: String,
        sub: Subresource,
    },
}

fn parse_subresource(resource: Resource, sub: &str) -> Option<Subresource> {
    match sub {
        "status" if resource.has_status_subresource() => Some(Subresource::Status),
        "scale" if resource == Resource::Deployment => Some(Subresource::Scale),
        _ => None,
    }
}

fn parse_route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, rest) = match segments.as_slice() {
        ["version"] => return Some(Route::Version),
        ["healthz" | "readyz" | "livez"] => return Some(Route::Health),
        ["openapi", "v3"] => return Some(Route::OpenApiIndex),
        ["openapi", "v2"] => return Some(Route::OpenApiV2),
        ["openapi", "v3", gv @ ..] => return Some(Route::OpenApi(gv.join("/"))),
        ["api"] => return Some(Route::CoreVersions),
        ["apis"] => return Some(Route::Groups),
        ["apis", g] => return Some(Route::Group((*g).to_string())),
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, "v1", rest @ ..] => (*g, rest),
        _ => return None,
    };
    let resource = |plural: &str| Resource::from_plural(group, plural);
    match rest {
        [] => Some(Route::ResourceList(group.to_string())),
        [plural] => Some(Route::Collection {
            resource: resource(plural)?,
            namespace: None,
        }),
        ["namespaces", ns, plural] if group.is_empty() && *plural == "status" => {
            Some(Route::Object {
                resource: Resource::Namespace,
                namespace: None,
                name: (*ns).to_string(),
                sub: Subresource::Status,
            })
        }
        ["namespaces", ns, plural] => {
            let r = resource(plural).filter(|r| r.namespaced())?;
            Some(Route::Collection {
                resource: r,
                namespace: Some((*ns).to_string()),
            })
        }
        ["namespaces", ns, plural, name] => {
            let r = resource(plural).filter(|r| r.namespaced())?;
            Some(Route::Object {
                resource: r,
                namespace: Some((*ns).to_string()),
                name: (*name).to_string(),
                sub: Subresource::Main,
            })
        }
        ["namespaces", ns, plural, name, sub] => {
            let r = resource(plural).filter(|r| r.namespaced())?;
            let sub = parse_subresource(r, sub)?;
            Some(Route::Object {
                resource: r,
                namespace: Some((*ns).to_string()),
                name: (*name).to_string(),
                sub,
            })
        }
        [plural, name] => {
            let r = resource(plural).filter(|r| !r.namespaced())?;
            Some(Route::Object {
                resource: r,
                namespace: None,
                name: (*name).to_string(),
                sub: Subresource::Main,
            })
        }
        _ => None,
    }
}

fn json_response(code: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        code,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

fn error_response(err: &ApiError) -> Response {
    let mut response = json_response(err.code(), &err.to_status());
    if let ApiError::TooManyRequests(_) = err {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .next()
                .is_some_and(|first| first.contains("as=Table"))
        })
}

/// kube-apiserver's `MaxRequestBodyBytes` default: 3 MiB for a JSON or YAML body
/// (k8s.io/apiserver/pkg/server/config.go, `MaxRequestBodyBytes: int64(3 * 1024 * 1024)`).
pub(crate) const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
/// kube-apiserver's `--request-timeout` default (1m0s): a request body must arrive within it.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// After answering 413, the rest of an oversized body is read and discarded (up to this
/// much, for at most `DRAIN_TIME`) so the client can finish sending and read the answer.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Media types a create or update body may have (kube-apiserver's decoders).
const OBJECT_MEDIA_TYPES: [&str; 3] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
const PATCH_MEDIA_TYPES: &str = "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml";

/// The media type of the request body, lower-case and without parameters
/// (`application/json; charset=utf-8` is `application/json`). Absent means JSON, as the
/// API server assumes; a header that is not text is unsupported.
fn media_type(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get(header::CONTENT_TYPE) {
        None => Ok("application/json".into()),
        Some(value) => value
            .to_str()
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .map_err(|_| ApiError::UnsupportedMediaType(OBJECT_MEDIA_TYPES.join(", "))),
    }
}

/// A create, update or delete body's media type, or 415 naming the accepted ones.
fn object_media_type(headers: &HeaderMap) -> Result<String, ApiError> {
    let media = media_type(headers)?;
    if OBJECT_MEDIA_TYPES.contains(&media.as_str()) {
        Ok(media)
    } else {
        Err(ApiError::UnsupportedMediaType(
            OBJECT_MEDIA_TYPES.join(", "),
        ))
    }
}

/// A PATCH body's kind, from its media type, or 415 naming the accepted ones.
fn patch_kind(headers: &HeaderMap) -> Result<PatchKind, ApiError> {
    match media_type(headers)?.as_str() {
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        "application/apply-patch+yaml" => Ok(PatchKind::Apply),
        _ => Err(ApiError::UnsupportedMediaType(PATCH_MEDIA_TYPES.into())),
    }
}

fn parse_body(media: &str, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    match media {
        "application/vnd.kubernetes.protobuf" => protobuf::decode(body).map_err(|e| match e {
            protobuf::ProtobufError::Unsupported(_) => {
                ApiError::UnsupportedMediaType("application/json, application/yaml".into())
            }
            other => ApiError::BadRequest(other.to_string()),
        }),
        "application/yaml" => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}"))),
        _ => serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!("couldn't get version/kind; json parse error: {e}"))
        }),
    }
}

/// Reads a request body of at most `MAX_BODY_BYTES` within `BODY_READ_TIMEOUT`. A body
/// declared or found to be larger is refused with 413 before it is read in full; the rest
/// is discarded in the background so the client can read the answer before the connection
/// closes (unless it waits for `100 Continue`, which then never comes).
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::RequestEntityTooLarge(MAX_BODY_BYTES as u64);
    let expects_continue = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let mut stream = body.into_data_stream();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        if !expects_continue {
            tokio::spawn(discard(stream));
        }
        return Err(too_large());
    }
    let deadline = tokio::time::Instant::now() + BODY_READ_TIMEOUT;
    let mut buf = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return Err(ApiError::Timeout(
                    "request did not complete within 1m0s".into(),
                ));
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Ok(Some(Err(err))) => {
                return Err(ApiError::BadRequest(format!(
                    "error reading the request body: {err}"
                )));
            }
            Ok(Some(Ok(chunk))) => {
                if buf.len() + chunk.len() > MAX_BODY_BYTES {
                    tokio::spawn(discard(stream));
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
}

/// Reads and drops what remains of a refused body, within `DRAIN_LIMIT` and `DRAIN_TIME`.
async fn discard(mut stream: axum::body::BodyDataStream) {
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    let mut total = 0usize;
    while total < DRAIN_LIMIT {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => total += chunk.len(),
            _ => break,
        }
    }
}

/// The default field manager for requests without `fieldManager`: the user agent's
/// product name, as the API server derives it.
fn manager(query: &HashMap<String, String>, headers: &HeaderMap) -> String {
    if let Some(m) = query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    // Apply has no default: the store refuses it without one, as the API server does.
    if media_type(headers).is_ok_and(|m| m == "application/apply-patch+yaml") {
        return String::new();
    }
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|m| !m.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

fn truthy(query: &HashMap<String, String>, key: &str) -> bool {
    matches!(query.get(key).map(String::as_str), Some("true" | "1"))
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let query = match Query::<HashMap<String, String>>::try_from_uri(&uri) {
        Ok(Query(query)) => query,
        Err(err) => return error_response(&ApiError::BadRequest(err.body_text())),
    };
    let Some(route) = parse_route(uri.path()) else {
        return error_response(&ApiError::NoRoute);
    };
    // Like kube-apiserver: the media type is checked (415) before the body is read (413).
    let media = match (&method, &route) {
        (&Method::POST, Route::Collection { .. }) | (&Method::PUT, Route::Object { .. }) => {
            object_media_type(&headers).map(Some)
        }
        (&Method::PATCH, Route::Object { .. }) => patch_kind(&headers).map(|_| None),
        _ => Ok(None),
    };
    if let Err(err) = media {
        return error_response(&err);
    }
    let reads_body = matches!(
        (&method, &route),
        (&Method::POST, Route::Collection { .. })
            | (
                &Method::PUT | &Method::PATCH | &Method::DELETE,
                Route::Object { .. }
            )
    );
    let body = if reads_body {
        match read_body(&headers, body).await {
            Ok(body) => body,
            Err(err) => {
                let mut response = error_response(&err);
                if matches!(err, ApiError::RequestEntityTooLarge(_)) {
                    // The rest of the body is not wanted: finish it, then close.
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                return response;
            }
        }
    } else {
        Bytes::new()
    };
    // A bug in one request's handling must not take the connection (or the emulator)
    // down without an answer: it becomes a 500 Status.
    let dispatched = std::panic::catch_unwind(AssertUnwindSafe(|| {
        dispatch(&state, method, route, &query, &headers, &body)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        tracing::error!(%what, "emulator request handler panicked");
        Err(ApiError::Internal(format!(
            "the emulator failed to handle the request: {what}"
        )))
    });
    match dispatched {
        Ok(Reply::Json(code, value)) => json_response(code, &value),
        Ok(Reply::Object(code, object)) => json_response(code, &*object),
        Ok(Reply::List(list)) => json_response(StatusCode::OK, &list),
        Ok(Reply::Text(text)) => (StatusCode::OK, text).into_response(),
        Ok(Reply::Protobuf(bytes)) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )],
            bytes,
        )
            .into_response(),
        Ok(Reply::Watch(spec, from)) => start_watch(&state, spec, from),
        Err(err) => error_response(&err),
    }
}

enum Reply {
    Json(StatusCode, Value),
    Text(&'static str),
    Watch(WatchSpec, WatchFrom),
    Object(StatusCode, Arc<Value>),
    List(ListBody),
    Protobuf(Vec<u8>),
}

/// A list response serialized straight from the stored objects (no copies).
#[derive(serde::Serialize)]
struct ListBody {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Value,
    items: Vec<Shared>,
}

/// A stored object serialized in place.
struct Shared(Arc<Value>);

impl serde::Serialize for Shared {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

fn ok(value: Value) -> Result<Reply, ApiError> {
    Ok(Reply::Json(StatusCode::OK, value))
}

fn dispatch(
    state: &AppState,
    method: Method,
    route: Route,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let store = &state.store;
    let opts = WriteOptions {
        manager: manager(query, headers),
        force: truthy(query, "force"),
        dry_run: query.get("dryRun").is_some_and(|d| d == "All"),
    };
    match (method, route) {
        (Method::GET, Route::Version) => ok(discovery::version()),
        (Method::GET, Route::Health) => Ok(Reply::Text("ok")),
        (Method::GET, Route::OpenApiIndex) => ok(openapi::index()),
        (Method::GET, Route::OpenApiV2) => Ok(Reply::Protobuf(openapi::v2_document())),
        (Method::GET, Route::OpenApi(gv)) => openapi::document(&gv)
            .map(ok)
            .unwrap_or(Err(ApiError::NoRoute)),
        (Method::GET, Route::CoreVersions) => ok(discovery::core_versions(&state.server_address)),
        (Method::GET, Route::Groups) => ok(discovery::groups()),
        (Method::GET, Route::Group(g)) => discovery::group(&g)
            .map(ok)
            .unwrap_or(Err(ApiError::NoRoute)),
        (Method::GET, Route::ResourceList(g)) => discovery::resource_list(&g)
            .map(ok)
            .unwrap_or(Err(ApiError::NoRoute)),
        (
            Method::GET,
            Route::Collection {
                resource,
                namespace,
            },
        ) => {
            let labels =
                LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let fields =
                FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let table = wants_table(headers)
                .then(|| IncludeObject::parse(query.get("includeObject").map(String::as_str)));
            if truthy(query, "watch") {
                let initial_events = truthy(query, "sendInitialEvents");
                let from = match query.get("resourceVersion").map(String::as_str) {
                    None | Some("") | Some("0") => WatchFrom::Current,
                    Some(_) if initial_events => WatchFrom::Current,
                    Some(rv) => WatchFrom::Version(rv.parse().map_err(|_| {
                        ApiError::BadRequest(format!("invalid resource version: {rv:?}"))
                    })?),
                };
                let timeout = watch_timeout(query.get("timeoutSeconds").map(String::as_str))?;
                let spec = WatchSpec {
                    resource,
                    namespace,
                    labels,
                    fields,
                    bookmarks: truthy(query, "allowWatchBookmarks"),
                    bookmark_interval: state.bookmark_interval,
                    timeout,
                    initial_events_end: initial_events,
                    table,
                };
                return Ok(Reply::Watch(spec, from));
            }
            let (items, rv) = store.list(resource, namespace.as_deref(), &labels, &fields);
            let (page, continue_token, remaining) = paginate(&items, query)?;
            if let Some(include) = table {
                let mut t = table::table(resource, page.iter().map(|v| &**v), rv, include, true);
                if let Some(token) = continue_token {
                    t["metadata"]["continue"] = json!(token);
                }
                return ok(t);
            }
            let mut metadata = json!({"resourceVersion": rv.to_string()});
            if let Some(token) = continue_token {
                metadata["continue"] = json!(token);
                metadata["remainingItemCount"] = json!(remaining);
            }
            Ok(Reply::List(ListBody {
                kind: format!("{}List", resource.kind()),
                api_version: resource.api_version(),
                metadata,
                items: page.iter().cloned().map(Shared).collect(),
            }))
        }
        (
            Method::POST,
            Route::Collection {
                resource,
                namespace,
            },
        ) => {
            if resource.namespaced() && namespace.is_none() {
                return Err(ApiError::MethodNotAllowed);
            }
            let created = store.create(
                resource,
                namespace.as_deref().unwrap_or(""),
                parse_body(&object_media_type(headers)?, body)?,
                &opts,
            )?;
            Ok(Reply::Object(StatusCode::CREATED, created))
        }
        (
            Method::GET,
            Route::Object {
                resource,
                namespace,
                name,
                sub,
            },
        ) => {
            let object = store.get(resource, namespace.as_deref().unwrap_or(""), &name)?;
            if sub == Subresource::Scale {
                return ok(scale_of(&object)?);
            }
            if wants_table(headers) {
                let include = IncludeObject::parse(query.get("includeObject").map(String::as_str));
                let rv = object
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0);
                return ok(table::table(resource, [&*object], rv, include, true));
            }
            Ok(Reply::Object(StatusCode::OK, object))
        }
        (
            Method::PUT,
            Route::Object {
                resource,
                namespace,
                name,
                sub,
            },
        ) => {
            let updated = store.update(
                resource,
                namespace.as_deref().unwrap_or(""),
                &name,
                sub,
                parse_body(&object_media_type(headers)?, body)?,
                &opts,
            )?;
            Ok(Reply::Object(StatusCode::OK, render_sub(updated, sub)?))
        }
        (
            Method::PATCH,
            Route::Object {
                resource,
                namespace,
                name,
                sub,
            },
        ) => {
            let kind = patch_kind(headers)?;
            let patch_body = match kind {
                // JSON is YAML, and most clients send JSON: parse that fast path first.
                PatchKind::Apply => match serde_json::from_slice(body) {
                    Ok(value) => value,
                    Err(_) => serde_yaml_ng::from_slice(body)
                        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?,
                },
                _ => serde_json::from_slice(body)
                    .map_err(|e| ApiError::BadRequest(format!("invalid JSON patch: {e}")))?,
            };
            let ns = namespace.as_deref().unwrap_or("");
            let existed = kind == PatchKind::Apply && store.get(resource, ns, &name).is_ok();
            let patched = store.patch(resource, ns, &name, sub, kind, &patch_body, &opts)?;
            let code = if kind == PatchKind::Apply && !existed {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(Reply::Object(code, render_sub(patched, sub)?))
        }
        (
            Method::DELETE,
            Route::Object {
                resource,
                namespace,
                name,
                sub: Subresource::Main,
            },
        ) => {
            // DeleteOptions, when sent, must be readable (400/415 like the API server).
            let options = if body.is_empty() {
                Value::Null
            } else {
                parse_body(&object_media_type(headers)?, body)?
            };
            let precondition = options
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str);
            let dry_run = opts.dry_run
                || options
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|d| !d.is_empty());
            let policy = options
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .or(query.get("propagationPolicy").map(String::as_str))
                .or_else(|| {
                    // The deprecated `orphanDependents: true` means Orphan.
                    (options.get("orphanDependents").and_then(Value::as_bool) == Some(true))
                        .then_some("Orphan")
                });
            let propagation = match policy {
                None | Some("Background") => Propagation::Background,
                Some("Foreground") => Propagation::Foreground,
                Some("Orphan") => Propagation::Orphan,
                Some(other) => {
                    return Err(ApiError::BadRequest(format!(
                        "DeleteOptions.propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                    )));
                }
            };
            let deleted = store.delete_with(
                resource,
                namespace.as_deref().unwrap_or(""),
                &name,
                precondition,
                dry_run,
                propagation,
            )?;
            if deleted.pointer("/metadata/deletionTimestamp").is_some() && !dry_run {
                // Foreground: the API server answers with the object, now marked.
                return ok((*deleted).clone());
            }
            let mut details = json!({"name": name, "kind": resource.plural()});
            if !resource.group().is_empty() {
                details["group"] = json!(resource.group());
            }
            if let Some(uid) = deleted.pointer("/metadata/uid") {
                details["uid"] = uid.clone();
            }
            ok(
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
            )
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// kube-apiserver's minimum request timeout (`--min-request-timeout`, default 1800 s).
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(1800);

/// How long a watch stays open, as kube-apiserver's `GetTimeoutForWatch` decides: the
/// `timeoutSeconds` given (a negative value, which the API server allows, ends the watch
/// at once), or the minimum request timeout when it is absent or 0. Not an integer: 400.
fn watch_timeout(timeout_seconds: Option<&str>) -> Result<Duration, ApiError> {
    let seconds = match timeout_seconds {
        None | Some("") => 0,
        Some(t) => t.parse::<i64>().map_err(|_| {
            ApiError::BadRequest(format!(
                "invalid timeoutSeconds {t:?}: must be an integer number of seconds"
            ))
        })?,
    };
    Ok(match seconds {
        0 => MIN_REQUEST_TIMEOUT,
        s if s < 0 => Duration::ZERO,
        s => Duration::from_secs(s.unsigned_abs()),
    })
}

fn render_sub(object: Arc<Value>, sub: Subresource) -> Result<Arc<Value>, ApiError> {
    match sub {
        Subresource::Scale => scale_of(&object).map(Arc::new),
        _ => Ok(object),
    }
}

/// One page of a list: the items, the continue token, how many remain after it.
type Page<'a> = (&'a [Arc<Value>], Option<String>, usize);

/// `limit` / `continue` paging; the token is the `namespace/name` of the last item sent.
fn paginate<'a>(
    items: &'a [Arc<Value>],
    query: &HashMap<String, String>,
) -> Result<Page<'a>, ApiError> {
    let key = |v: &Value| {
        let m = |k: &str| {
            v.pointer(&format!("/metadata/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        format!("{}/{}", m("namespace"), m("name"))
    };
    let start = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => items
            .iter()
            .position(|v| key(v) > *token)
            .unwrap_or(items.len()),
        None => 0,
    };
    let limit = match query.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest(format!("invalid limit: {l:?}")))?,
        None => 0,
    };
    let rest = &items[start..];
    if limit == 0 || rest.len() <= limit {
        return Ok((rest, None, 0));
    }
    let page = &rest[..limit];
    let token = page.last().map(|v| key(v));
    Ok((page, token, rest.len() - limit))
}

fn start_watch(state: &AppState, spec: WatchSpec, from: WatchFrom) -> Response {
    let body = match state
        .store
        .watch(spec.resource, spec.namespace.as_deref(), from)
    {
        Ok(start) => Body::from_stream(watch_stream::stream(
            spec,
            start,
            state.faults.watch_drops(),
            state.shutdown.clone(),
        )),
        // Like the API server: 200, then a single ERROR event carrying the Status.
        Err(err) => Body::from(watch_stream::error_line(&err)),
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_cover_the_rest_paths_clients_use() {
        assert_eq!(
            parse_route("/api/v1/namespaces"),
            Some(Route::Collection {
                resource: Resource::Namespace,
                namespace: None
            })
        );
        assert_eq!(
            parse_route("/api/v1/namespaces/default"),
            Some(Route::Object {
                resource: Resource::Namespace,
                namespace: None,
                name: "default".into(),
                sub: Subresource::Main
            })
        );
        assert_eq!(
            parse_route("/api/v1/namespaces/a/configmaps"),
            Some(Route::Collection {
                resource: Resource::ConfigMap,
                namespace: Some("a".into())
            })
        );
        assert_eq!(
            parse_route("/apis/apps/v1/namespaces/a/deployments/web/scale"),
            Some(Route::Object {
                resource: Resource::Deployment,
                namespace: Some("a".into()),
                name: "web".into(),
                sub: Subresource::Scale
            })
        );
        assert_eq!(
            parse_route("/apis/apps/v1/deployments"),
            Some(Route::Collection {
                resource: Resource::Deployment,
                namespace: None
            })
        );
        assert_eq!(
            parse_route("/apis/apps/v1"),
            Some(Route::ResourceList("apps".into()))
        );
        assert_eq!(
            parse_route("/apis/batch/v1/jobs"),
            Some(Route::Collection {
                resource: Resource::Job,
                namespace: None
            })
        );
        assert_eq!(parse_route("/apis/policy/v1/poddisruptionbudgets"), None);
        assert_eq!(parse_route("/api/v1/namespaces/a/configmaps/c/scale"), None);
        assert_eq!(
            parse_route("/apis/apps/v1/deployments/web"),
            None,
            "namespaced object needs a namespace"
        );
    }

    #[test]
    fn table_is_wanted_only_when_preferred() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            ),
        );
        assert!(wants_table(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_table(&h));
    }

    #[test]
    fn pagination_continues_after_the_last_key() {
        let items: Vec<Arc<Value>> = ["a", "b", "c"]
            .iter()
            .map(|n| Arc::new(json!({"metadata": {"namespace": "d", "name": n}})))
            .collect();
        let q: HashMap<String, String> = [("limit".to_string(), "2".to_string())].into();
        let (page, token, remaining) = paginate(&items, &q).unwrap();
        assert_eq!((page.len(), remaining), (2, 1));
        let q: HashMap<String, String> = [("continue".to_string(), token.unwrap())].into();
        let (page, token, _) = paginate(&items, &q).unwrap();
        assert_eq!(page[0]["metadata"]["name"], "c");
        assert!(token.is_none());
    }

    #[test]
    fn watch_timeout_follows_the_api_server() {
        assert_eq!(watch_timeout(None).unwrap(), MIN_REQUEST_TIMEOUT);
        assert_eq!(watch_timeout(Some("0")).unwrap(), MIN_REQUEST_TIMEOUT);
        assert_eq!(watch_timeout(Some("-5")).unwrap(), Duration::ZERO);
        assert_eq!(watch_timeout(Some("7")).unwrap(), Duration::from_secs(7));
        let err = watch_timeout(Some("soon")).unwrap_err();
        assert_eq!(err.code(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn media_types_are_matched_exactly_without_parameters() {
        let with = |ct: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            h
        };
        assert_eq!(
            object_media_type(&with("application/json; charset=utf-8")).unwrap(),
            "application/json"
        );
        assert_eq!(
            object_media_type(&HeaderMap::new()).unwrap(),
            "application/json"
        );
        for bad in [
            "text/plain",
            "text/yaml",
            "application/jsonx",
            "application/xml",
        ] {
            let err = object_media_type(&with(bad)).unwrap_err();
            assert_eq!(err.code(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad}");
        }
        assert_eq!(
            patch_kind(&with("application/merge-patch+json")).unwrap(),
            PatchKind::Merge
        );
        assert_eq!(
            patch_kind(&with("application/json")).unwrap_err().code(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn field_manager_defaults_to_user_agent_product() {
        let mut h = HeaderMap::new();
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_static("kubectl/v1.32.4 (linux/amd64) kubernetes/abc"),
        );
        assert_eq!(manager(&HashMap::new(), &h), "kubectl");
    }
}
