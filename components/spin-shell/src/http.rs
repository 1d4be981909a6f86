//! HTTP through Spin: GET a source's page (`wasi:http/outgoing-handler`), and read a request
//! and answer it for the components on Spin's HTTP trigger (`wasi:http/incoming-handler`).

use crate::wasi::http::{outgoing_handler, types as http};
use crate::wasi::io::streams::StreamError;

/// GET `url` through Spin's outbound HTTP: the body of a 2xx answer.
pub fn get(url: &str) -> Result<Vec<u8>, String> {
    let fail = |m: String| format!("GET {url}: {m}");
    let (scheme, rest) = url.split_once("://").ok_or_else(|| fail("not an absolute URL".into()))?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.starts_with('?') { format!("/{path}") } else if path.is_empty() { "/".into() } else { path.to_string() };
    let headers = http::Fields::new();
    headers.append("accept", b"application/json").map_err(|e| fail(format!("{e:?}")))?;
    let request = http::OutgoingRequest::new(headers);
    let scheme = if scheme == "https" { http::Scheme::Https } else { http::Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|_| fail("bad scheme".into()))?;
    request.set_authority(Some(authority)).map_err(|_| fail("bad authority".into()))?;
    request.set_path_with_query(Some(&path)).map_err(|_| fail("bad path".into()))?;
    let body = request.body().map_err(|_| fail("request body".into()))?;
    http::OutgoingBody::finish(body, None).map_err(|e| fail(format!("{e:?}")))?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| fail(format!("{e:?}")))?;
    let response = loop {
        match pending.get() {
            Some(r) => break r.map_err(|_| fail("response taken twice".into()))?.map_err(|e| fail(format!("{e:?}")))?,
            None => pending.subscribe().block(),
        }
    };
    let status = response.status();
    let incoming = response.consume().map_err(|_| fail("response body".into()))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|_| fail("response stream".into()))?;
        loop {
            match stream.blocking_read(1 << 16) {
                Ok(chunk) => bytes.extend(chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => return Err(fail(e.to_debug_string())),
            }
        }
    }
    drop(incoming);
    match status {
        200..=299 => Ok(bytes),
        _ => Err(fail(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>()))),
    }
}

/// A request as the handlers read it: its method and its path without the query.
pub fn method_and_path(request: &http::IncomingRequest) -> (http::Method, String) {
    let path = request.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default().to_string();
    (request.method(), path)
}

/// Answers with `status` and `body` of `content_type`.
pub fn respond(out: http::ResponseOutparam, status: u16, content_type: &str, body: &[u8]) {
    let headers = http::Fields::new();
    let _ = headers.append("content-type", content_type.as_bytes());
    let response = http::OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    // The response goes out first: the body is streamed to a reader that already waits.
    http::ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        // At most 4096 bytes per blocking write (wasi:io).
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = http::OutgoingBody::finish(outgoing, None);
}

/// Answers with `value` as JSON.
pub fn json(out: http::ResponseOutparam, status: u16, value: &impl serde::Serialize) {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    respond(out, status, "application/json", &body);
}
