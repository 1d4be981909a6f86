//! `dialogsync serve`: a Dialogporten-compatible API over the store (DESIGN.md "API"), with the
//! status page as HTML and a health check.
//!
//! - `GET /api/v1/enduser/dialogs`, `/dialogs/{id}`, `/parties` (enduser.rs), bearer tokens
//!   (auth.rs), errors as problem+json (problem.rs);
//! - `/api/v1/serviceowner/dialogs…`: the "dialog services" source; service owners write dialogs
//!   of their own resources (serviceowner.rs);
//! - `GET /api/v1/events` and `/api/v1/events/stream` (server-sent events): every change as a
//!   CloudEvent, in order (events.rs);
//! - `GET /status`: the status report as a web page; `GET /metrics` (Prometheus, metrics.rs);
//!   `GET /openapi.json`; `GET /healthz`.

pub mod auth;
pub mod enduser;
pub mod events;
pub mod metrics;
pub mod problem;
pub mod serviceowner;

use crate::config::Config;
use crate::store::Store;
use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post, put};
use std::sync::{Arc, LazyLock};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct ApiState {
    pub store: Store,
    pub keys: auth::Keys,
    pub config: Config,
}

/// The API's own OpenAPI document (the subset of Dialogporten's it serves), with Dialogporten's
/// service-owner request schemas merged in.
pub static OPENAPI: LazyLock<String> = LazyLock::new(|| {
    let mut doc: serde_json::Value = serde_json::from_str(include_str!("openapi.json")).expect("openapi.json is JSON");
    let so: serde_json::Value = serde_json::from_str(serviceowner::SCHEMAS).expect("embedded schemas are JSON");
    for (name, schema) in so["components"]["schemas"].as_object().into_iter().flatten() {
        doc["components"]["schemas"][name] = schema.clone();
    }
    doc.to_string()
});

static IDS: AtomicU64 = AtomicU64::new(0);

/// A number unique within this process.
pub(crate) fn next_id() -> u64 {
    IDS.fetch_add(1, Ordering::Relaxed)
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/status", get(status_page))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(|| async { ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI.as_str()) }))
        .route("/api/v1/enduser/dialogs", get(enduser::search))
        .route("/api/v1/enduser/dialogs/{id}", get(enduser::get))
        .route("/api/v1/enduser/parties", get(enduser::parties))
        .route("/api/v1/serviceowner/dialogs", get(serviceowner::search).post(serviceowner::create))
        .route("/api/v1/serviceowner/dialogs/{id}", get(serviceowner::get).put(serviceowner::update).delete(serviceowner::delete))
        .route("/api/v1/serviceowner/dialogs/{id}/actions/restore", post(serviceowner::restore))
        .route("/api/v1/serviceowner/dialogs/{id}/actions/purge", post(serviceowner::purge))
        .route("/api/v1/serviceowner/dialogs/{id}/activities", post(serviceowner::create_activity))
        .route("/api/v1/serviceowner/dialogs/{id}/endusercontext/systemlabels", put(serviceowner::set_system_labels))
        .route("/api/v1/events", get(events::list))
        .route("/api/v1/events/stream", get(events::stream))
        .with_state(state)
}

/// The status report (`dialogsync status`) as a page of its own.
async fn status_page(State(state): State<Arc<ApiState>>) -> axum::response::Response {
    match crate::status::report(&state.config, &state.store).await {
        Ok(r) => Html(crate::status::html(&r)).into_response(),
        Err(e) => problem::Problem::internal(e).into_response(),
    }
}

/// The keys tokens are checked against: `api.jwks`, else the development key (with a warning).
pub fn keys(config: &Config) -> Result<auth::Keys> {
    match &config.api.jwks {
        Some(path) => auth::Keys::load(path),
        None => {
            let dev = auth::DevKey::at(&config.dev_key_dir());
            dev.ensure()?;
            eprintln!(
                "warning: no api.jwks configured: accepting tokens of the DEVELOPMENT key {} (mint them with `dialogsync token`)",
                dev.jwks.display()
            );
            auth::Keys::load(&dev.jwks)
        }
    }
}

/// Serves until the process ends; prints `listening on http://ADDR` first.
pub async fn serve(config: Config, store: Store, listen: &str) -> Result<()> {
    let state = Arc::new(ApiState { keys: keys(&config)?, store, config });
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    axum::serve(listener, router(state)).await?;
    Ok(())
}
