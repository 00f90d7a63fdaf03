//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' `#[utoipa::path]` attributes and the
//! models' `ToSchema` derives, served at `GET /openapi.json` (no token). `docs/openapi.json` is a committed copy
//! that a test keeps equal to what is served.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};

use herald_service::{BatchedChange, ChangeBatchIn, ChangeIn, EntityRecordIn};

use super::{entities, platform, resthooks, sources, webhooks};
use crate::error::{BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unavailable, ValidationFailed};

/// Operations that need no token (contract §2).
const PUBLIC: &[&str] = &["/openapi.json", "/healthz", "/readyz", "/metrics"];

/// The name of the bearer security scheme.
const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald",
        description = "Herald's webhook platform API: the platform API (applications, installations, changes; admin \
                       token) and the webhook management API, compatible with Reapit Foundations' webhooks service.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        platform::create_app,
        platform::list_apps,
        platform::get_app,
        platform::update_app,
        platform::delete_app,
        platform::rotate_api_key,
        platform::create_installation,
        platform::list_installations,
        platform::get_installation,
        platform::terminate_installation,
        platform::post_changes,
        entities::put_entity,
        entities::delete_entity,
        entities::get_entity,
        entities::post_entities,
        sources::dead_letters,
        webhooks::list_topics,
        webhooks::get_topic,
        webhooks::list,
        webhooks::create,
        webhooks::get,
        webhooks::update,
        webhooks::delete,
        webhooks::ping,
        webhooks::test_filter,
        webhooks::replay,
        webhooks::secret,
        webhooks::rotate_secret,
        webhooks::logs,
        webhooks::redeliver,
        webhooks::signing_keys,
        webhooks::analytics,
        resthooks::list,
        resthooks::create,
        resthooks::get,
        resthooks::update,
        resthooks::delete,
        super::metrics,
        super::healthz,
        super::readyz,
        openapi_json,
    ),
    components(
        schemas(ChangeIn, ChangeBatchIn, BatchedChange, EntityRecordIn),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            PayloadTooLarge,
            ValidationFailed,
            Unavailable
        )
    ),
    modifiers(&Security),
    tags(
        (name = "platform", description = "Applications, installations and changes (contract §4): admin token."),
        (name = "webhooks", description = "Webhook management (contract §5), compatible with Reapit's webhooks service."),
        (name = "resthooks", description = "Webhooks of one customer, for an application key (contract §5.6)."),
        (name = "operations", description = "Health and this document: no token."),
    )
)]
struct ApiDoc;

/// Adds the bearer scheme, and to every operation that needs a token: the requirement and the answers of the
/// token check (401, and 503 when the store cannot be asked).
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token (`--admin-token`), or an application's API key (`hk_…`, returned once by \
                         `POST /apps`).",
                    ))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let public = PUBLIC.contains(&path.as_str());
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                allow_empty_query_values(op);
                if !public {
                    secure(op);
                }
            }
        }
    }
}

/// An empty query parameter (`?applicationId=`) is read as an absent one, as HTML forms send them.
fn allow_empty_query_values(op: &mut Operation) {
    for p in op.parameters.iter_mut().flatten() {
        if p.parameter_in == ParameterIn::Query {
            // `allowEmptyValue` has no field in utoipa's `Parameter` (it is deprecated, not removed, in OpenAPI 3.1);
            // extensions serialize beside the other fields.
            p.extensions.get_or_insert_with(Default::default).insert("allowEmptyValue".into(), true.into());
        }
    }
}

fn secure(op: &mut Operation) {
    op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    for (status, name) in [("401", "Unauthorized"), ("503", "Unavailable")] {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

/// The document as served, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        // Serializing a tree of plain maps and strings cannot fail; an empty object is the impossible fallback.
        ApiDoc::openapi().to_pretty_json().unwrap_or_else(|_| "{}".to_string())
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}
