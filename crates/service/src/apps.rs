//! Applications (contract §4.1): admin only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use herald_domain::signature::AppSigningKey;
use herald_domain::ApplicationId;
use herald_store::{ApplicationRecord, StoreError};

use crate::input::{object, Fields};
use crate::models::{ApiKeyOut, AppCreatedOut, AppOut};
use crate::paging::Paged;
use crate::*;

const SCOPE_MAX: usize = 100;

/// The longest grace period a rotated API key may keep working.
const MAX_GRACE: chrono::Duration = chrono::Duration::days(30);

/// A grace period: a whole number followed by `s`, `m`, `h` or `d` (`0s`, `30m`, `1h`, `7d`), at most 30 days.
fn parse_grace(text: &str) -> Option<chrono::Duration> {
    let unit_at = text.len().checked_sub(1)?;
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
fn name_and_scopes(f: &mut Fields<'_>) -> (Option<String>, Option<Vec<String>>) {
    let name = f.required_str("name", 200);
    let scopes = f.str_list("scopes", SCOPE_MAX);
    match &scopes {
        None if f.errors.iter().any(|e| e.field == "scopes") => {}
        None => f.error("scopes", "is required (an empty list is allowed)"),
        Some(list) => {
            for (i, s) in list.iter().enumerate() {
                if !valid_scope(s) {
                    f.error(format!("scopes[{i}]"), "may hold only letters, digits and . _ - :");
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
    pub async fn create_app(&self, who: &Principal, body: &[u8]) -> ServiceResult<AppCreatedOut> {
        who.require_admin()?;
        let obj = object(body)?;
        let mut f = Fields::new(&obj);
        let (name, scopes) = name_and_scopes(&mut f);
        let client_id = f.optional_str("clientId", 100);
        if let Some(c) = &client_id {
            if !valid_client_id(c) {
                f.error("clientId", "may hold only letters, digits and . _ -");
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

    pub async fn update_app(&self, who: &Principal, id: ApplicationId, body: &[u8]) -> ServiceResult<AppOut> {
        who.require_admin()?;
        let obj = object(body)?;
        let mut f = Fields::new(&obj);
        let (name, scopes) = name_and_scopes(&mut f);
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
    pub async fn rotate_api_key(&self, who: &Principal, id: ApplicationId, body: &[u8]) -> ServiceResult<ApiKeyOut> {
        who.require_admin()?;
        // The body is optional: none, or JSON `null`, means the defaults.
        let blank = body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null";
        let obj = if blank { serde_json::Map::new() } else { object(body)? };
        let mut f = Fields::new(&obj);
        let grace = match f.optional_str("gracePeriod", 32) {
            None => chrono::Duration::zero(),
            Some(text) => parse_grace(&text).unwrap_or_else(|| {
                f.error(
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
        for bad in ["", "h", "1", "1.5h", "-1h", "31d", "1w", "1 h", "99999999999999999999s"] {
            assert_eq!(parse_grace(bad), None, "{bad:?}");
        }
    }
}
