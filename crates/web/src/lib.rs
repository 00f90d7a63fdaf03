//! Herald's HTTP layer: the platform API, the webhook management API (and its `/resthooks` view), health, and the
//! web UI. Handlers are thin: authenticate (an extractor), call the service, render. Every error leaves as the JSON
//! body of contract §3 through [`ApiError`]; no handler runs SQL or holds a business rule.

mod api;
pub mod body_timeout;
mod error;
mod extract;
pub mod request_id;
mod ui;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use herald_service::Herald;

pub use error::ApiError;

/// The largest request body accepted (contract §3: 1 MiB for changes).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The HTTP layer's part of the configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Herald's public URL is https: cookies are always `Secure`.
    pub public_https: bool,
    /// Herald sits behind a proxy whose `X-Forwarded-Proto` and `X-Forwarded-For` are trusted (else ignored).
    pub trusted_proxy: bool,
    /// Failed sign-ins a client address may make per minute, counted on each node (then 429 until the minute ends).
    pub signin_failures_per_minute: u32,
}

/// 10 failed sign-ins per minute per address.
pub const SIGNIN_FAILURES_PER_MINUTE: u32 = 10;

impl Default for WebConfig {
    fn default() -> Self {
        Self { public_https: false, trusted_proxy: false, signin_failures_per_minute: SIGNIN_FAILURES_PER_MINUTE }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub herald: Herald,
    pub web: Arc<WebConfig>,
    signin_limiter: Arc<ui::SigninLimiter>,
}

/// The whole HTTP surface of Herald, with the default [`WebConfig`].
pub fn router(herald: Herald) -> Router {
    router_with(herald, WebConfig::default())
}

/// The whole HTTP surface of Herald. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`, so that
/// failed sign-ins are counted per client address.
pub fn router_with(herald: Herald, web: WebConfig) -> Router {
    let signin_limiter = Arc::new(ui::SigninLimiter::new(web.signin_failures_per_minute));
    let state = AppState { herald, web: Arc::new(web), signin_limiter };
    api::routes()
        .merge(ui::routes())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(request_id::trace_request))
        .with_state(state)
}
