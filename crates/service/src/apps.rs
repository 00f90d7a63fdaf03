//! Applications (contract §4.1): admin only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use herald_domain::signature::AppSigningKey;
use herald_domain::ApplicationId;
use herald_store::{ApplicationRecord, StoreError};

use crate::input::{object, Fields};
use crate::models::{AppCreatedOut, AppOut};
use crate::paging::Paged;
use crate::*;

const SCOPE_MAX: usize = 100;

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
        let api_key = format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
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
