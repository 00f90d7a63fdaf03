//! The broker sources (contract §9.6): the messages they could not ingest. Admin token only.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use herald_service::paging::page;
use herald_service::DeadLetterOut;

use super::params::PageParams;
use super::{paged, PageModel};
use crate::error::{BadRequest, Forbidden, ValidationFailed};
use crate::extract::{Auth, Params};
use crate::{ApiError, AppState};

/// The messages from the broker sources that were not a valid change, newest first, each with the error
/// `POST /changes` would have answered. They were acknowledged at the broker.
#[utoipa::path(
    get,
    path = "/sources/dead-letters",
    operation_id = "listDeadLetters",
    tag = "platform",
    params(PageParams),
    responses(
        (status = 200, description = "A page of dead letters.", body = PageModel<DeadLetterOut>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn dead_letters(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response, ApiError> {
    who.require_admin()?;
    let p = page(params.str("pageNumber"), params.str("pageSize"))?;
    Ok(paged("/sources/dead-letters", &params, s.herald.list_dead_letters(&who, p).await?).into_response())
}
