//! Errors as `application/problem+json` (RFC 9457), the way Dialogporten answers: a title, the
//! status, and for validation errors the field path of each.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub title: String,
    pub detail: Option<String>,
    /// Field path → messages.
    pub errors: BTreeMap<String, Vec<String>>,
}

impl Problem {
    pub fn new(status: StatusCode, title: impl Into<String>) -> Problem {
        Problem { status, title: title.into(), detail: None, errors: BTreeMap::new() }
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
        let mut p = Problem::new(StatusCode::BAD_REQUEST, "One or more validation errors occurred.");
        p.errors.insert(field.into(), vec![message.into()]);
        p
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
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
    }
}
