//! The daemon's HTTP side: `GET /healthz`, `/api/status`, `/api/backups`, `/metrics`
//! and `/` (the dashboard), all served from the in-memory state, never by reading the
//! repository per request. A bearer token (`[daemon] token_env`) guards `/api/*` and
//! `/metrics`; `/healthz` and the dashboard page itself (which holds no data) stay open.

use super::state::State;
use axum::extract::State as Shared;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lifeboat_core::Secret;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The loop sleeps at most 30 s between turns; three missed turns means it is stuck.
const STALLED_AFTER: Duration = Duration::from_secs(90);

const DASHBOARD: &str = include_str!("dashboard.html");

#[derive(Clone)]
struct App {
    state: State,
    token: Option<Arc<Secret<String>>>,
}

/// Binds `addr` now (so that a taken port fails the start with a clear message) and
/// serves on a thread of its own.
pub fn serve(
    addr: SocketAddr,
    state: State,
    token: Option<Secret<String>>,
) -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let app = App {
        state,
        token: token.map(Arc::new),
    };
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/status", get(api_status))
        .route("/api/backups", get(api_backups))
        .route("/metrics", get(metrics))
        .route("/", get(dashboard))
        .with_state(app);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    if let Err(e) = axum::serve(listener, router).await {
                        tracing::error!(error = %e, "HTTP server stopped");
                    }
                }
                Err(e) => tracing::error!(error = %e, "HTTP server could not start"),
            }
        });
    });
    Ok(bound)
}

/// `None` when allowed; the 401 otherwise.
fn refused(app: &App, headers: &HeaderMap) -> Option<Response> {
    let token = app.token.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.expose().as_bytes()));
    (!ok).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required (Authorization: Bearer …)\n",
        )
            .into_response()
    })
}

/// Compares without stopping at the first difference (no timing hint at the token).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn healthz(Shared(app): Shared<App>) -> Response {
    let since = app.state.since_heartbeat();
    if since < STALLED_AFTER {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let msg = format!(
            "the scheduler loop has not turned for {}s\n",
            since.as_secs()
        );
        (StatusCode::SERVICE_UNAVAILABLE, msg).into_response()
    }
}

fn json(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn api_status(Shared(app): Shared<App>, headers: HeaderMap) -> Response {
    if let Some(refused) = refused(&app, &headers) {
        return refused;
    }
    json(&app.state.view(jiff::Timestamp::now()))
}

async fn api_backups(Shared(app): Shared<App>, headers: HeaderMap) -> Response {
    if let Some(refused) = refused(&app, &headers) {
        return refused;
    }
    json(&app.state.backups())
}

async fn metrics(Shared(app): Shared<App>, headers: HeaderMap) -> Response {
    if let Some(refused) = refused(&app, &headers) {
        return refused;
    }
    let view = app.state.view(jiff::Timestamp::now());
    let counters = super::metrics::Counters {
        lock_waits: lifeboat_repo::lock_waits(),
        notifications_delivered: crate::notify::delivered_total(),
        notifications_undelivered: crate::notify::undelivered_total(),
    };
    let body = super::metrics::render(&view, &counters);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn dashboard() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DASHBOARD,
    )
        .into_response()
}
