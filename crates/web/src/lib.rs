//! Herald's HTTP layer: the platform API, the webhook management API (and its `/resthooks` view), health, and the
//! web UI. Handlers are thin: authenticate (an extractor), call the service, render. Every error leaves as the JSON
//! body of contract §3 through [`ApiError`]; no handler runs SQL or holds a business rule.

mod api;
pub mod body_timeout;
mod error;
mod extract;
mod ui;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use herald_service::Herald;

pub use error::ApiError;

/// The largest request body accepted (contract §3: 1 MiB for changes).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub herald: Herald,
}

/// The whole HTTP surface of Herald.
pub fn router(herald: Herald) -> Router {
    let state = AppState { herald };
    api::routes()
        .merge(ui::routes())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
