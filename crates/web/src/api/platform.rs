//! The platform API (contract §4): applications, installations, changes. Admin token only.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_service::paging::page;
use herald_store::InstallationFilter;

use super::paged;
use crate::extract::{path_id, Auth, Body, Params};
use crate::{ApiError, AppState};

type Result<T> = std::result::Result<T, ApiError>;

pub async fn create_app(State(s): State<AppState>, Auth(who): Auth, Body(body): Body) -> Result<Response> {
    let out = s.herald.create_app(&who, &body).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/apps/{}", out.app.id))], Json(out)).into_response())
}

pub async fn list_apps(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    who.require_admin()?;
    let p = page(params.str("pageNumber"), params.str("pageSize"))?;
    Ok(paged("/apps", &params, s.herald.list_apps(&who, p).await?).into_response())
}

pub async fn get_app(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> Result<Response> {
    who.require_admin()?;
    Ok(Json(s.herald.get_app(&who, path_id(&id, "application")?).await?).into_response())
}

pub async fn update_app(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response> {
    who.require_admin()?;
    Ok(Json(s.herald.update_app(&who, path_id(&id, "application")?, &body).await?).into_response())
}

pub async fn create_installation(State(s): State<AppState>, Auth(who): Auth, Body(body): Body) -> Result<Response> {
    let out = s.herald.create_installation(&who, &body).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/installations/{}", out.id))], Json(out)).into_response())
}

pub async fn get_installation(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> Result<Response> {
    who.require_admin()?;
    Ok(Json(s.herald.get_installation(&who, path_id(&id, "installation")?).await?).into_response())
}

pub async fn terminate_installation(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    who.require_admin()?;
    s.herald.terminate_installation(&who, path_id(&id, "installation")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

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

pub async fn post_changes(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    who.require_admin()?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::from(herald_service::ServiceError::field("Idempotency-Key", "must be visible ASCII"))
        })?),
    };
    let out = s.herald.ingest_changes(&who, &body, key).await?;
    let mut resp = (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, "application/json")], out.body).into_response();
    if out.replayed {
        resp.headers_mut().insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    }
    Ok(resp)
}
