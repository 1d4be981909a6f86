//! Reading fields of a JSON payload, with errors that name the field.

use crate::time::{parse_instant, parse_oslo};
use crate::types::{FieldError, RecordError, Timestamp};
use crate::json::Json;

/// Parses a JSON payload (a UTF-8 byte-order mark is allowed), borrowing its strings.
pub fn parse_json(payload: &[u8]) -> Result<Json<'_>, RecordError> {
    let bytes = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    Json::parse(bytes).map_err(|e| RecordError::Malformed(format!("invalid JSON: {e}")))
}

/// Parses a payload that must be one JSON object; `what` names it in the error.
pub fn parse_object<'a>(payload: &'a [u8], what: &str) -> Result<Json<'a>, RecordError> {
    let v = parse_json(payload)?;
    if v.is_object() { Ok(v) } else { Err(RecordError::Malformed(format!("{what} must be a JSON object"))) }
}

/// An Altinn 2 reportee (`reportee.ssn`, `reportee.orgNumber`, else `reportee.partyId`).
pub fn a2_reportee(v: &Json) -> Result<crate::types::Party, RecordError> {
    use crate::types::Party;
    Ok(if let Some(ssn) = text(v, "reportee.ssn") {
        Party::Urn(format!("urn:altinn:person:identifier-no:{ssn}"))
    } else if let Some(org) = text(v, "reportee.orgNumber") {
        Party::Urn(format!("urn:altinn:organization:identifier-no:{org}"))
    } else {
        Party::PartyId(required_text(v, "reportee.partyId")?)
    })
}

/// The value at a dotted path (`instanceOwner.partyId`); `null` counts as absent.
pub fn at<'a, 'p>(v: &'a Json<'p>, path: &str) -> Option<&'a Json<'p>> {
    path.split('.')
        .try_fold(v, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// A string (or number, as text) at `path`; empty strings count as absent.
pub fn text(v: &Json, path: &str) -> Option<String> {
    match at(v, path)? {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Like [`text`], but a missing value is an error naming the field.
pub fn required_text(v: &Json, path: &str) -> Result<String, RecordError> {
    text(v, path).ok_or_else(|| RecordError::MissingField(path.to_string()))
}

/// A boolean at `path`; absent is false.
pub fn flag(v: &Json, path: &str) -> bool {
    at(v, path).and_then(Json::as_bool).unwrap_or(false)
}

/// An RFC 3339 instant at `path`, if present; an unreadable one is an error naming the field.
pub fn instant(v: &Json, path: &str) -> Result<Option<Timestamp>, RecordError> {
    match text(v, path) {
        None => Ok(None),
        Some(s) => parse_instant(&s).map(Some).map_err(|message| invalid(path, message)),
    }
}

/// Like [`instant`], but a missing value is an error naming the field.
pub fn required_instant(v: &Json, path: &str) -> Result<Timestamp, RecordError> {
    instant(v, path)?.ok_or_else(|| RecordError::MissingField(path.to_string()))
}

/// An Altinn 2 time at `path` (Norwegian wall time unless it carries an offset), if present.
pub fn oslo_instant(v: &Json, path: &str) -> Result<Option<Timestamp>, RecordError> {
    match text(v, path) {
        None => Ok(None),
        Some(s) => parse_oslo(&s).map(Some).map_err(|message| invalid(path, message)),
    }
}

/// Like [`oslo_instant`], but a missing value is an error naming the field.
pub fn required_oslo_instant(v: &Json, path: &str) -> Result<Timestamp, RecordError> {
    oslo_instant(v, path)?.ok_or_else(|| RecordError::MissingField(path.to_string()))
}

/// The array at `path`, empty when absent.
pub fn list<'a, 'p>(v: &'a Json<'p>, path: &str) -> &'a [Json<'p>] {
    at(v, path).and_then(Json::as_array).unwrap_or(&[])
}

/// An `invalid-field` error.
pub fn invalid(field: &str, message: impl Into<String>) -> RecordError {
    RecordError::InvalidField(FieldError { field: field.to_string(), message: message.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_errors_name_the_field() {
        let v = parse_json(b"\xEF\xBB\xBF{\"a\":{\"b\":\"x\",\"n\":5,\"e\":\"\",\"t\":\"nope\"}}").unwrap();
        assert_eq!(text(&v, "a.b").as_deref(), Some("x"));
        assert_eq!(text(&v, "a.n").as_deref(), Some("5"));
        assert_eq!(text(&v, "a.e"), None);
        assert_eq!(required_text(&v, "a.c"), Err(RecordError::MissingField("a.c".into())));
        assert!(matches!(instant(&v, "a.t"), Err(RecordError::InvalidField(FieldError { field, .. })) if field == "a.t"));
        assert!(matches!(parse_json(b"{"), Err(RecordError::Malformed(_))));
    }
}
