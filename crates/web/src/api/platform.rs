//! The platform API (contract §4): applications, installations, changes. Admin token only.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_service::paging::page;
use herald_store::InstallationFilter;

use herald_service::models::{ApiKeyOut, AppCreatedOut, AppOut, ChangesOut, InstallationOut};

use herald_service::{ApiKeyRotateIn, AppIn, AppPatch, ChangesIn, IdempotencyKey, InstallationIn};

use super::params::{InstallationListParams, PageParams};
use super::{paged, PageModel};
use crate::error::ErrorModel;
use crate::error::{BadRequest, Forbidden, NotFound, PayloadTooLarge, ValidationFailed};
use crate::extract::{path_id, Auth, Body, JsonIn, JsonOrEmpty, Params, PathParam, Publishing};
use crate::{ApiError, AppState};

type Result<T> = std::result::Result<T, ApiError>;

/// Creates an application; the answer holds its API key, shown this once.
#[utoipa::path(
    post,
    path = "/apps",
    operation_id = "createApplication",
    tag = "platform",
    request_body = AppIn,
    responses(
        (status = 201, description = "The application, with its API key.", body = AppCreatedOut,
            headers(("Location" = String, description = "`/apps/{id}`"))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn create_app(State(s): State<AppState>, Auth(who): Auth, JsonIn(input): JsonIn<AppIn>) -> Result<Response> {
    let out = s.herald.create_app(&who, input).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/apps/{}", out.app.id))], Json(out)).into_response())
}

/// The applications, oldest first.
#[utoipa::path(
    get,
    path = "/apps",
    operation_id = "listApplications",
    tag = "platform",
    params(PageParams),
    responses(
        (status = 200, description = "A page of applications.", body = PageModel<AppOut>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn list_apps(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    who.require_admin()?;
    let p = page(params.str("pageNumber"), params.str("pageSize"))?;
    Ok(paged("/apps", &params, s.herald.list_apps(&who, p).await?).into_response())
}

/// One application (never its API key).
#[utoipa::path(
    get,
    path = "/apps/{id}",
    operation_id = "getApplication",
    tag = "platform",
    params(("id" = String, Path, description = "The application's id.")),
    responses(
        (status = 200, description = "The application.", body = AppOut),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn get_app(State(s): State<AppState>, Auth(who): Auth, PathParam(id): PathParam) -> Result<Response> {
    who.require_admin()?;
    Ok(Json(s.herald.get_app(&who, path_id(&id, "application")?).await?).into_response())
}

/// Replaces an application's name and scopes.
#[utoipa::path(
    put,
    path = "/apps/{id}",
    operation_id = "updateApplication",
    tag = "platform",
    params(("id" = String, Path, description = "The application's id.")),
    request_body = AppPatch,
    responses(
        (status = 200, description = "The application as updated.", body = AppOut),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn update_app(
    State(s): State<AppState>,
    Auth(who): Auth,
    PathParam(id): PathParam,
    JsonIn(input): JsonIn<AppPatch>,
) -> Result<Response> {
    who.require_admin()?;
    Ok(Json(s.herald.update_app(&who, path_id(&id, "application")?, input).await?).into_response())
}

/// Deletes an application: its webhooks stop at once (pending deliveries cancelled), its installations end, its API
/// keys stop working (401), and it is no longer found or listed. Its logs stay until retention prunes them.
#[utoipa::path(
    delete,
    path = "/apps/{id}",
    operation_id = "deleteApplication",
    tag = "platform",
    params(("id" = String, Path, description = "The application's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete_app(State(s): State<AppState>, Auth(who): Auth, PathParam(id): PathParam) -> Result<StatusCode> {
    who.require_admin()?;
    s.herald.delete_app(&who, path_id(&id, "application")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives an application a new API key, shown this once. The key it replaces stops at once, or keeps working for
/// the optional `gracePeriod`.
#[utoipa::path(
    post,
    path = "/apps/{id}/api-key/rotate",
    operation_id = "rotateApplicationApiKey",
    tag = "platform",
    params(("id" = String, Path, description = "The application's id.")),
    request_body(content = Option<ApiKeyRotateIn>, description = "Optional; no body, or `null`, is `{}`."),
    responses(
        (status = 200, description = "The new API key.", body = ApiKeyOut),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn rotate_api_key(
    State(s): State<AppState>,
    Auth(who): Auth,
    PathParam(id): PathParam,
    JsonOrEmpty(input): JsonOrEmpty<ApiKeyRotateIn>,
) -> Result<Response> {
    who.require_admin()?;
    Ok(Json(s.herald.rotate_api_key(&who, path_id(&id, "application")?, input).await?).into_response())
}

/// Installs an application for a customer; emits `application.install` to that application alone.
#[utoipa::path(
    post,
    path = "/installations",
    operation_id = "createInstallation",
    tag = "platform",
    request_body = InstallationIn,
    responses(
        (status = 201, description = "The installation.", body = InstallationOut,
            headers(("Location" = String, description = "`/installations/{id}`"))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, body = ErrorModel, description = "The customer already has a current installation of the application."),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn create_installation(
    State(s): State<AppState>,
    Auth(who): Auth,
    JsonIn(input): JsonIn<InstallationIn>,
) -> Result<Response> {
    let out = s.herald.create_installation(&who, input).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/installations/{}", out.id))], Json(out)).into_response())
}

/// One installation.
#[utoipa::path(
    get,
    path = "/installations/{id}",
    operation_id = "getInstallation",
    tag = "platform",
    params(("id" = String, Path, description = "The installation's id.")),
    responses(
        (status = 200, description = "The installation.", body = InstallationOut),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn get_installation(
    State(s): State<AppState>,
    Auth(who): Auth,
    PathParam(id): PathParam,
) -> Result<Response> {
    who.require_admin()?;
    Ok(Json(s.herald.get_installation(&who, path_id(&id, "installation")?).await?).into_response())
}

/// Terminates an installation; emits `application.uninstall` to that application alone.
#[utoipa::path(
    delete,
    path = "/installations/{id}",
    operation_id = "terminateInstallation",
    tag = "platform",
    params(("id" = String, Path, description = "The installation's id.")),
    responses(
        (status = 204, description = "Terminated."),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorModel, description = "The installation is already terminated."),
    )
)]
pub async fn terminate_installation(
    State(s): State<AppState>,
    Auth(who): Auth,
    PathParam(id): PathParam,
) -> Result<StatusCode> {
    who.require_admin()?;
    s.herald.terminate_installation(&who, path_id(&id, "installation")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Installations, oldest first.
#[utoipa::path(
    get,
    path = "/installations",
    operation_id = "listInstallations",
    tag = "platform",
    params(InstallationListParams, PageParams),
    responses(
        (status = 200, description = "A page of installations.", body = PageModel<InstallationOut>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn list_installations(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    who.require_admin()?;
    let p = page(params.str("pageNumber"), params.str("pageSize"))?;
    let filter = InstallationFilter {
        application_id: herald_service::input::query_param(
            "applicationId",
            params.str("applicationId"),
            |v| v.parse().ok(),
            "an application id",
        )?,
        customer_id: params.get("customerId").filter(|c| !c.is_empty()),
        installed: herald_service::input::query_param(
            "isInstalled",
            params.str("isInstalled"),
            |v| match v {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            "true or false",
        )?,
    };
    Ok(paged("/installations", &params, s.herald.list_installations(&who, filter, p).await?).into_response())
}

/// Publishes one change or a batch; answers once every resulting delivery is stored.
#[utoipa::path(
    post,
    path = "/changes",
    operation_id = "publishChanges",
    tag = "platform",
    params((
        "Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$",
        description = "A retried request with the same key answers the first answer instead of creating events again."
    )),
    request_body = ChangesIn,
    responses(
        (status = 202, description = "Every derived event, with its number of deliveries.", body = ChangesOut,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, body = ErrorModel, description = "A request with the same Idempotency-Key is in progress."),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn post_changes(
    _admitted: Publishing,
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    who.require_admin()?;
    let key = idempotency_key(&headers)?;
    let input: ChangesIn = herald_service::input::from_json(&body)?;
    Ok(accepted(s.herald.ingest_changes(&who, input, IdempotencyKey::of(key, &body)?).await?))
}

/// The `Idempotency-Key` header of a request that publishes (`POST /changes`, the entity writes), if any.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => Ok(Some(v.to_str().map_err(|_| {
            ApiError::from(herald_service::ServiceError::field("Idempotency-Key", "must be visible ASCII"))
        })?)),
    }
}

/// The `202` answer of a request that publishes, with `Idempotent-Replayed: true` when it is a stored answer.
pub(super) fn accepted(out: herald_service::IngestOutcome) -> Response {
    let mut resp = (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, "application/json")], out.body).into_response();
    if out.replayed {
        resp.headers_mut().insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    }
    resp
}
