//! The query parameters of the API, as the OpenAPI document describes them (those of `GET /webhooks/logs` and
//! `GET /analytics/deliveries` come from `herald_service::LogQuery` and `AnalyticsQuery` themselves). The handlers read them by name
//! (`extract::Params`) and the service parses each (`herald_service::input::query_param`, `paging::page`); each
//! description here must say what that parsing accepts (`scripts/schemathesis` holds them to it).
#![allow(dead_code)]

use herald_service::input::text_enum;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::IntoParams;

/// Paging (contract §6.1). A page past the last is an empty page.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PageParams {
    /// The page, from 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page_number: Option<u32>,
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
}

fn bool_text() -> ObjectBuilder {
    text_enum(&["true", "false", "1", "0"])
}

fn true_false() -> ObjectBuilder {
    text_enum(&["true", "false"])
}

fn sort_by() -> ObjectBuilder {
    text_enum(&["created", "-created", "modified", "-modified"])
}

/// `applicationId` alone: an application key may name only its own application (another answers 404).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ApplicationParam {
    /// Herald's application id.
    #[param(format = Uuid)]
    pub application_id: Option<String>,
}

/// Filters of `GET /webhooks/subscriptions`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct WebhookListParams {
    /// Only this application's webhooks. An application key sees only its own.
    #[param(format = Uuid)]
    pub application_id: Option<String>,
    /// Only active (`true`, `1`) or inactive (`false`, `0`) webhooks.
    #[param(schema_with = bool_text)]
    pub active: Option<String>,
    /// The order (default `created`, oldest first).
    #[param(schema_with = sort_by)]
    pub sort_by: Option<String>,
}

/// Filters of `GET /resthooks`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ResthookListParams {
    #[param(schema_with = bool_text)]
    pub active: Option<String>,
    #[param(schema_with = sort_by)]
    pub sort_by: Option<String>,
}

/// Filters of `GET /installations`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct InstallationListParams {
    #[param(format = Uuid)]
    pub application_id: Option<String>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub customer_id: Option<String>,
    /// `true`: current installations only; `false`: terminated ones only.
    #[param(schema_with = true_false)]
    pub is_installed: Option<String>,
}
