//! API errors and their wire form: every failure the emulator reports is a `kind: Status`
//! object with the HTTP code, `reason` and `details` the real API server would send, so
//! kubectl prints its usual messages and kube-rs maps them to `ErrorResponse`.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// One field-level cause inside a `Status` (validation failures, apply conflicts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// Identifies the object an error is about, as `details` in a `Status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subject {
    /// API group ("" for core).
    pub group: String,
    /// Plural resource name, e.g. "deployments".
    pub resource: String,
    pub name: String,
}

impl Subject {
    pub fn new(group: &str, resource: &str, name: &str) -> Self {
        Self {
            group: group.to_string(),
            resource: resource.to_string(),
            name: name.to_string(),
        }
    }

    /// `deployments.apps` or `configmaps`, the way the API server qualifies resources.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// Everything a request can fail with. Each variant maps to one HTTP code and `reason`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    #[error("{} \"{}\" not found", .0.qualified(), .0.name)]
    NotFound(Subject),
    #[error("the server could not find the requested resource")]
    NoRoute,
    #[error("{} \"{}\" already exists", .0.qualified(), .0.name)]
    AlreadyExists(Subject),
    #[error(
        "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
        .0.qualified(), .0.name
    )]
    Modified(Subject),
    #[error("{message}")]
    ApplyConflict {
        subject: Subject,
        message: String,
        causes: Vec<Cause>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{kind} \"{}\" is invalid: {}", .subject.name, join_causes(.causes))]
    Invalid {
        kind: String,
        subject: Subject,
        causes: Vec<Cause>,
    },
    #[error("{} \"{}\" is forbidden: {message}", .subject.qualified(), .subject.name)]
    Forbidden { subject: Subject, message: String },
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("the body of the request was in an unknown format - accepted media types include: {0}")]
    UnsupportedMediaType(String),
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error("Request entity too large: limit is {0}")]
    RequestEntityTooLarge(u64),
    #[error("Timeout: {0}")]
    Timeout(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    Unavailable(String),
}

fn join_causes(causes: &[Cause]) -> String {
    causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ApiError {
    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists(_) | ApiError::Modified(_) | ApiError::ApplyConflict { .. } => {
                StatusCode::CONFLICT
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::RequestEntityTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) | ApiError::NoRoute => "NotFound",
            ApiError::AlreadyExists(_) => "AlreadyExists",
            ApiError::Modified(_) | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Gone { .. } => "Expired",
            ApiError::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            ApiError::Timeout(_) => "Timeout",
            ApiError::TooManyRequests(_) => "TooManyRequests",
            ApiError::Internal(_) => "InternalError",
            ApiError::Unavailable(_) => "ServiceUnavailable",
        }
    }

    /// The `Status` object sent as the response body (or inside a watch `ERROR` event).
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        let (subject, causes) = match self {
            ApiError::NotFound(s) | ApiError::AlreadyExists(s) | ApiError::Modified(s) => {
                (Some(s), None)
            }
            ApiError::Forbidden { subject, .. } => (Some(subject), None),
            ApiError::ApplyConflict {
                subject, causes, ..
            } => (Some(subject), Some(causes)),
            ApiError::Invalid {
                subject, causes, ..
            } => (Some(subject), Some(causes)),
            _ => (None, None),
        };
        if let Some(subject) = subject {
            let mut details = json!({"name": subject.name, "kind": subject.resource});
            if !subject.group.is_empty() {
                details["group"] = json!(subject.group);
            }
            if let Some(causes) = causes {
                details["causes"] = causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect();
            }
            status["details"] = details;
        }
        if let ApiError::TooManyRequests(_) | ApiError::Timeout(_) = self {
            status["details"] = json!({"retryAfterSeconds": 1});
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_status_names_group_qualified_resource() {
        let err = ApiError::NotFound(Subject::new("apps", "deployments", "web"));
        let status = err.to_status();
        assert_eq!(status["message"], "deployments.apps \"web\" not found");
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["code"], 404);
        assert_eq!(status["details"]["group"], "apps");
    }

    #[test]
    fn core_resources_are_not_group_qualified() {
        let err = ApiError::AlreadyExists(Subject::new("", "namespaces", "a"));
        assert_eq!(err.to_string(), "namespaces \"a\" already exists");
        assert_eq!(err.code(), StatusCode::CONFLICT);
        assert!(err.to_status()["details"].get("group").is_none());
    }

    #[test]
    fn oversized_bodies_are_413_request_entity_too_large() {
        let status = ApiError::RequestEntityTooLarge(3 * 1024 * 1024).to_status();
        assert_eq!(status["code"], 413);
        assert_eq!(status["reason"], "RequestEntityTooLarge");
        assert_eq!(
            status["message"],
            "Request entity too large: limit is 3145728"
        );
    }

    #[test]
    fn slow_requests_are_504_timeout() {
        let status = ApiError::Timeout("request did not complete within 1m0s".into()).to_status();
        assert_eq!(status["code"], 504);
        assert_eq!(status["reason"], "Timeout");
    }

    #[test]
    fn gone_is_expired_410() {
        let err = ApiError::Gone {
            requested: 3,
            oldest: 10,
        };
        assert_eq!(err.to_status()["reason"], "Expired");
        assert_eq!(err.to_status()["code"], 410);
    }
}
