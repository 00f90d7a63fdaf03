//! Applications (contract §4.1): admin only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use herald_domain::signature::AppSigningKey;
use herald_domain::ApplicationId;
use herald_store::{ApplicationRecord, StoreError};

use serde::Deserialize;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::ToSchema;

use crate::input::{non_blank, Errors, Field, StrList};
use crate::models::{ApiKeyOut, AppCreatedOut, AppOut};
use crate::paging::Paged;
use crate::*;

const SCOPE_MAX: usize = 100;
const NAME_MAX: usize = 200;
const CLIENT_ID_MAX: usize = 100;

/// `POST /apps`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreateAppModel, rename_all = "camelCase")]
pub struct AppIn {
    #[serde(default)]
    #[schema(schema_with = app_name, required = true)]
    pub name: Field<String>,
    /// The scopes the application holds; a topic needs its scope. An empty list is allowed; repeats are dropped.
    #[serde(default)]
    #[schema(schema_with = scopes, required = true)]
    pub scopes: StrList,
    #[serde(default)]
    #[schema(schema_with = client_id)]
    pub client_id: Field<String>,
}

/// `PUT /apps/{id}`: replaces the name and the scopes.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UpdateAppModel, rename_all = "camelCase")]
pub struct AppPatch {
    #[serde(default)]
    #[schema(schema_with = app_name, required = true)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = scopes, required = true)]
    pub scopes: StrList,
}

/// `POST /apps/{id}/api-key/rotate` (optional body).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RotateApiKeyModel, rename_all = "camelCase")]
pub struct ApiKeyRotateIn {
    /// How long the key being replaced keeps working: a whole number and a unit, `s`, `m`, `h` or `d` (`0s`, `30m`,
    /// `1h`), at most `30d`. Default `0s`: it stops at once.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[0-9]+[smhd]$", example = "1h")]
    pub grace_period: Field<String>,
}

fn client_id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some("Generated (26 lowercase letters and digits) when absent; unique among applications."))
        .min_length(Some(1))
        .max_length(Some(CLIENT_ID_MAX))
        .pattern(Some(r"^[A-Za-z0-9._-]+$"))
}

fn app_name() -> ObjectBuilder {
    non_blank(NAME_MAX).examples([serde_json::json!("Example CRM")])
}

/// Scopes: letters, digits and `. _ - :`.
fn scopes() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(SCOPE_MAX))
                .pattern(Some(r"^[A-Za-z0-9._:-]+$")),
        )
        .examples([serde_json::json!(["contacts.read", "properties.read"])])
}

/// The longest grace period a rotated API key may keep working.
const MAX_GRACE: chrono::Duration = chrono::Duration::days(30);

/// A grace period: a whole number followed by `s`, `m`, `h` or `d` (`0s`, `30m`, `1h`, `7d`), at most 30 days.
fn parse_grace(text: &str) -> Option<chrono::Duration> {
    // The unit is the last character, whatever its width (`split_at` on a byte index inside it would panic).
    let unit_at = text.char_indices().last()?.0;
    let (digits, unit) = text.split_at(unit_at);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let grace = match unit {
        "s" => chrono::Duration::try_seconds(n)?,
        "m" => chrono::Duration::try_minutes(n)?,
        "h" => chrono::Duration::try_hours(n)?,
        "d" => chrono::Duration::try_days(n)?,
        _ => return None,
    };
    (grace <= MAX_GRACE).then_some(grace)
}

/// A new API key: `hk_` and 32 random bytes, base64url.
fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

fn valid_scope(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
}

fn valid_client_id(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Reads `name` and `scopes` (both required).
fn name_and_scopes(f: &mut Errors, name: &Field<String>, scopes: &StrList) -> (Option<String>, Option<Vec<String>>) {
    let name = f.required_str("name", name, NAME_MAX);
    let scopes = f.str_list("scopes", scopes, SCOPE_MAX);
    match &scopes {
        None if f.has("scopes") => {}
        None => f.add("scopes", "is required (an empty list is allowed)"),
        Some(list) => {
            for (i, s) in list.iter().enumerate() {
                if !valid_scope(s) {
                    f.add(format!("scopes[{i}]"), "may hold only letters, digits and . _ - :");
                }
            }
        }
    }
    (name, scopes.map(dedup))
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(s.clone()));
    v
}

impl Herald {
    pub async fn create_app(&self, who: &Principal, input: AppIn) -> ServiceResult<AppCreatedOut> {
        who.require_admin()?;
        let mut f = Errors::default();
        let (name, scopes) = name_and_scopes(&mut f, &input.name, &input.scopes);
        let client_id = f.optional_str("clientId", &input.client_id, CLIENT_ID_MAX);
        if let Some(c) = &client_id {
            if !valid_client_id(c) {
                f.add("clientId", "may hold only letters, digits and . _ -");
            }
        }
        f.finish()?;
        let (Some(name), Some(scopes)) = (name, scopes) else { unreachable!("validated above") };
        let now = self.now();
        let api_key = new_api_key();
        let client_id = client_id.unwrap_or_else(generate_client_id);
        let app = ApplicationRecord {
            id: ApplicationId(new_uuid_v7()),
            client_id,
            name,
            scopes,
            api_key_hash: key_hash(&api_key),
            signing_seed: AppSigningKey::from_seed(random_bytes::<32>()).seed().to_vec(),
            created: now,
            modified: now,
        };
        match self.inner.store.insert_application(&app).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::field("clientId", "another application has this client id"))
            }
            Err(e) => return Err(e.into()),
        }
        self.routing_changed();
        Ok(AppCreatedOut { app: AppOut::from(&app), api_key })
    }

    pub async fn list_apps(&self, who: &Principal, page: herald_store::Page) -> ServiceResult<Paged<AppOut>> {
        who.require_admin()?;
        let (items, total) = self.inner.store.list_applications(page).await?;
        Ok(Paged { items: items.iter().map(AppOut::from).collect(), page, total })
    }

    /// The application record, if the principal may see it.
    pub async fn app_record(&self, who: &Principal, id: ApplicationId) -> ServiceResult<ApplicationRecord> {
        who.check_app(id)?;
        match self.inner.store.get_application(id).await {
            Err(StoreError::NotFound) => Err(ServiceError::NotFound("application")),
            other => Ok(other?),
        }
    }

    pub async fn get_app(&self, who: &Principal, id: ApplicationId) -> ServiceResult<AppOut> {
        who.require_admin()?;
        Ok(AppOut::from(&self.app_record(who, id).await?))
    }

    pub async fn update_app(&self, who: &Principal, id: ApplicationId, input: AppPatch) -> ServiceResult<AppOut> {
        who.require_admin()?;
        let mut f = Errors::default();
        let (name, scopes) = name_and_scopes(&mut f, &input.name, &input.scopes);
        f.finish()?;
        let (Some(name), Some(scopes)) = (name, scopes) else { unreachable!("validated above") };
        let app = match self.inner.store.update_application(id, &name, &scopes, self.now()).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("application")),
            other => other?,
        };
        self.routing_changed();
        Ok(AppOut::from(&app))
    }

    /// Gives the application a new API key. `{ "gracePeriod"?: "1h" }` (an empty body is `{}`): how long the key it
    /// replaces keeps working, default `0s` (it stops at once).
    pub async fn rotate_api_key(
        &self,
        who: &Principal,
        id: ApplicationId,
        input: ApiKeyRotateIn,
    ) -> ServiceResult<ApiKeyOut> {
        who.require_admin()?;
        let mut f = Errors::default();
        let grace = match f.optional_str("gracePeriod", &input.grace_period, 32) {
            None => chrono::Duration::zero(),
            Some(text) => parse_grace(&text).unwrap_or_else(|| {
                f.add(
                    "gracePeriod",
                    "must be a whole number and a unit (s, m, h or d), like 0s, 30m or 1h, at most 30d",
                );
                chrono::Duration::zero()
            }),
        };
        f.finish()?;
        let now = self.now();
        let previous_expires = (grace > chrono::Duration::zero()).then(|| now + grace);
        let api_key = new_api_key();
        match self.inner.store.rotate_api_key(id, &key_hash(&api_key), previous_expires, now).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("application")),
            other => other?,
        };
        Ok(ApiKeyOut { api_key, previous_key_expires: previous_expires.map(herald_domain::time::format_api_time) })
    }

    /// Deletes the application: its webhooks stop at once (pending deliveries cancelled), its installations end,
    /// its keys stop working; its logs stay until retention prunes them.
    pub async fn delete_app(&self, who: &Principal, id: ApplicationId) -> ServiceResult<()> {
        who.require_admin()?;
        match self.inner.store.delete_application(id, self.now()).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("application")),
            other => other?,
        }
        self.routing_changed();
        Ok(())
    }

    /// Every application, for the UI's picker (admin), or the caller's own.
    pub async fn visible_apps(&self, who: &Principal) -> ServiceResult<Vec<AppOut>> {
        match who {
            Principal::App(app) => Ok(vec![AppOut::from(app.as_ref())]),
            Principal::Admin => {
                let mut out = Vec::new();
                let mut number = 1;
                loop {
                    let (items, total) =
                        self.inner.store.list_applications(herald_store::Page { number, size: 100 }).await?;
                    out.extend(items.iter().map(AppOut::from));
                    if out.len() as u64 >= total || items.is_empty() {
                        return Ok(out);
                    }
                    number += 1;
                }
            }
        }
    }
}

/// A client id like Reapit's: 26 lowercase letters and digits.
fn generate_client_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    random_bytes::<26>().iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grace_period_is_a_whole_number_and_a_unit_of_at_most_thirty_days() {
        assert_eq!(parse_grace("0s"), Some(chrono::Duration::zero()));
        assert_eq!(parse_grace("90s"), Some(chrono::Duration::seconds(90)));
        assert_eq!(parse_grace("30m"), Some(chrono::Duration::minutes(30)));
        assert_eq!(parse_grace("1h"), Some(chrono::Duration::hours(1)));
        assert_eq!(parse_grace("30d"), Some(chrono::Duration::days(30)));
        for bad in ["", "h", "1", "1.5h", "-1h", "31d", "1w", "1 h", "99999999999999999999s", "\u{80}", "1é", "é1h"] {
            assert_eq!(parse_grace(bad), None, "{bad:?}");
        }
    }
}
