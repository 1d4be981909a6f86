//! Errors as `application/problem+json` (RFC 9457), the way Dialogporten answers: a title, the
//! status, and for validation errors the field path of each.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;

const VALIDATION: &str = "One or more validation errors occurred.";

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: Option<String>,
    /// Field path → messages.
    pub errors: BTreeMap<String, Vec<String>>,
    /// More members of the body (a 409's existing `dialogId`), and a `Location` header for it.
    pub extensions: serde_json::Map<String, serde_json::Value>,
    pub location: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str) -> Problem {
        Problem { status, title, detail: None, errors: BTreeMap::new(), extensions: Default::default(), location: None }
    }

    pub fn detail(mut self, d: impl Into<String>) -> Problem {
        self.detail = Some(d.into());
        self
    }

    pub fn unauthorized(d: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized").detail(d)
    }

    pub fn forbidden(d: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "Forbidden").detail(d)
    }

    pub fn not_found(d: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "Not Found").detail(d)
    }

    /// One or more invalid fields (400, as Dialogporten answers bad query parameters).
    pub fn invalid(field: &str, message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, VALIDATION).field(field, message)
    }

    /// Validation errors, each `field: message` (validate.rs, schema checks): 400.
    pub fn invalid_all(errors: impl IntoIterator<Item = String>) -> Problem {
        errors.into_iter().fold(Problem::new(StatusCode::BAD_REQUEST, VALIDATION), |p, e| match e.split_once(": ") {
            Some((field, message)) => p.field(field, message),
            None => p.field("", e),
        })
    }

    /// A request the schema allows that the dialog's state refuses (Dialogporten's domain errors).
    pub fn unprocessable(field: &str, message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "Unprocessable Entity").field(field, message)
    }

    fn field(mut self, field: &str, message: impl Into<String>) -> Problem {
        self.errors.entry(field.to_string()).or_default().push(message.into());
        self
    }

    pub fn conflict(d: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, "Conflict").detail(d)
    }

    pub fn gone(d: impl Into<String>) -> Problem {
        Problem::new(StatusCode::GONE, "Gone").detail(d)
    }

    pub fn precondition_failed(d: impl Into<String>) -> Problem {
        Problem::new(StatusCode::PRECONDITION_FAILED, "Precondition Failed").detail(d)
    }

    pub fn internal(e: impl std::fmt::Display) -> Problem {
        tracing::error!(error = %e, "request failed");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Problem {
        Problem::internal(e)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("https://datatracker.ietf.org/doc/html/rfc9110#status.{}", self.status.as_u16()),
            "title": self.title,
            "status": self.status.as_u16(),
        });
        if let Some(d) = self.detail {
            body["detail"] = d.into();
        }
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        for (k, v) in self.extensions {
            body[k] = v;
        }
        let mut r = (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response();
        if let Some(l) = self.location.and_then(|l| header::HeaderValue::from_str(&l).ok()) {
            r.headers_mut().insert(header::LOCATION, l);
        }
        r
    }
}
