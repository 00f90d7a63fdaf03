//! Installations (contract §4.2): admin only. Installing and uninstalling emit `application.install` and
//! `application.uninstall` to the application concerned.

use herald_domain::{ApplicationId, InstallationId, SANDBOX_CUSTOMER};
use herald_store::{InstallationFilter, InstallationRecord, Page, StoreError};

use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::ToSchema;

use crate::input::{non_blank, or_null, Errors, Field};
use crate::models::InstallationOut;
use crate::paging::Paged;
use crate::*;

/// `POST /installations`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreateInstallationModel, rename_all = "camelCase")]
pub struct InstallationIn {
    /// Herald's application id.
    #[serde(default)]
    #[schema(value_type = String, format = Uuid, required = true)]
    pub application_id: Field<String>,
    /// Any customer id but `SBOX`, the sandbox, which needs no installation.
    #[serde(default)]
    #[schema(schema_with = customer_id, required = true)]
    pub customer_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = customer_name)]
    pub customer_name: Field<String>,
    #[serde(default)]
    #[schema(schema_with = customer_email)]
    pub customer_email: Field<String>,
}

const CUSTOMER_ID_MAX: usize = 100;
const CUSTOMER_NAME_MAX: usize = 200;
const CUSTOMER_EMAIL_MAX: usize = 320;

fn customer_id() -> ObjectBuilder {
    non_blank(CUSTOMER_ID_MAX).examples([serde_json::json!("RPT")])
}

fn customer_name() -> Schema {
    or_null(non_blank(CUSTOMER_NAME_MAX))
}

fn customer_email() -> Schema {
    or_null(non_blank(CUSTOMER_EMAIL_MAX))
}

impl Herald {
    pub async fn create_installation(&self, who: &Principal, input: InstallationIn) -> ServiceResult<InstallationOut> {
        who.require_admin()?;
        let mut f = Errors::default();
        let app_text = f.required_str("applicationId", &input.application_id, 100);
        let customer_id = f.required_str("customerId", &input.customer_id, CUSTOMER_ID_MAX);
        let customer_name = f.optional_str("customerName", &input.customer_name, CUSTOMER_NAME_MAX);
        let customer_email = f.optional_str("customerEmail", &input.customer_email, CUSTOMER_EMAIL_MAX);
        let app_id = app_text.as_deref().and_then(|t| match t.parse::<ApplicationId>() {
            Ok(id) => Some(id),
            Err(_) => {
                f.add("applicationId", "is not an application id");
                None
            }
        });
        if customer_id.as_deref() == Some(SANDBOX_CUSTOMER) {
            f.add("customerId", "SBOX is the sandbox and needs no installation");
        }
        f.finish()?;
        let (Some(app_id), Some(customer_id)) = (app_id, customer_id) else { unreachable!("validated above") };
        let app = match self.inner.store.get_application(app_id).await {
            Err(StoreError::NotFound) => return Err(ServiceError::field("applicationId", "no such application")),
            other => other?,
        };
        if self.inner.store.is_installed(app_id, &customer_id).await? {
            return Err(ServiceError::Conflict(format!(
                "customer {customer_id} already has a current installation of this application"
            )));
        }
        let now = self.now();
        let inst = InstallationRecord {
            id: InstallationId(new_uuid_v7()),
            application_id: app_id,
            customer_id,
            customer_name,
            customer_email,
            created: now,
            terminated: None,
        };
        // The installation and its event are one transaction: a crash cannot keep one without the other.
        let event = self.install_event(&app, &inst, true, now).await?;
        self.inner.store.insert_installation(&inst, Some(&event)).await?;
        self.routing_changed();
        self.deliveries_stored(&event);
        Ok(InstallationOut::from(&inst))
    }

    pub async fn terminate_installation(&self, who: &Principal, id: InstallationId) -> ServiceResult<()> {
        who.require_admin()?;
        let inst = match self.inner.store.get_installation(id).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("installation")),
            other => other?,
        };
        if inst.terminated.is_some() {
            return Err(ServiceError::Conflict("the installation is already terminated".into()));
        }
        let app = self.inner.store.get_application(inst.application_id).await?;
        let now = self.now();
        let event = self.install_event(&app, &inst, false, now).await?;
        // The store checks `terminated` again inside the transaction: of two concurrent terminations, one stores the
        // event and the other gets `Conflict`.
        match self.inner.store.terminate_installation(id, now, Some(&event)).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("installation")),
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::Conflict("the installation is already terminated".into()))
            }
            other => other?,
        };
        self.routing_changed();
        self.deliveries_stored(&event);
        Ok(())
    }

    /// Wakes the delivery worker when an installation's event has deliveries to attempt.
    fn deliveries_stored(&self, event: &herald_store::NewEvent) {
        if !event.deliveries.is_empty() {
            self.inner.engine.wake();
        }
    }

    pub async fn list_installations(
        &self,
        who: &Principal,
        filter: InstallationFilter,
        page: Page,
    ) -> ServiceResult<Paged<InstallationOut>> {
        who.require_admin()?;
        let (items, total) = self.inner.store.list_installations(&filter, page).await?;
        Ok(Paged { items: items.iter().map(InstallationOut::from).collect(), page, total })
    }

    /// The customers with a current installation of the application (for the UI's customer picker).
    pub async fn installed_customers(
        &self,
        who: &Principal,
        app: ApplicationId,
    ) -> ServiceResult<Vec<InstallationOut>> {
        who.check_app(app)?;
        let filter = InstallationFilter { application_id: Some(app), customer_id: None, installed: Some(true) };
        let mut out = Vec::new();
        let mut number = 1;
        loop {
            let (items, total) = self.inner.store.list_installations(&filter, Page { number, size: 100 }).await?;
            out.extend(items.iter().map(InstallationOut::from));
            if out.len() as u64 >= total || items.is_empty() {
                return Ok(out);
            }
            number += 1;
        }
    }
}

impl Herald {
    pub async fn get_installation(&self, who: &Principal, id: InstallationId) -> ServiceResult<InstallationOut> {
        who.require_admin()?;
        match self.inner.store.get_installation(id).await {
            Err(StoreError::NotFound) => Err(ServiceError::NotFound("installation")),
            other => Ok(InstallationOut::from(&other?)),
        }
    }
}
