//! Sending an event to a webhook again: one delivery (`redeliver`), as a new delivery of the same event (same
//! event id, new delivery id, attempts from 1).

use herald_domain::DeliveryId;
use herald_store::{AttemptFilter, DeliveryState, NewDelivery, StoreError};
use serde::Serialize;

use crate::receivable::{refusal, refusal_error};
use crate::*;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RedeliveryModel)]
pub struct RedeliverOut {
    pub delivery_id: String,
    pub webhook_id: String,
    pub event_id: String,
}

impl Herald {
    /// Queues the event of `delivery` again for its webhook, attempted at once.
    pub async fn redeliver(&self, who: &Principal, delivery: DeliveryId) -> ServiceResult<RedeliverOut> {
        let d = match self.inner.store.get_delivery(delivery).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("delivery")),
            other => other?,
        };
        who.check_app(d.application_id).map_err(|_| ServiceError::NotFound("delivery"))?;
        let hook = match self.inner.store.get_webhook(d.webhook_id).await {
            Err(StoreError::NotFound) => {
                return Err(ServiceError::Conflict("the delivery's webhook was deleted".into()));
            }
            other => other?,
        };
        // Whoever asks (the admin too), the delivery would go to the application: it must still be allowed the event.
        let table = self.inner.routing.table().await?;
        if let Some(refused) = refusal(&table, d.application_id, &d.topic_id, &d.customer_id, Some(&hook.customer_ids))
        {
            return Err(ServiceError::Validation(vec![refusal_error(&refused, &d.customer_id)]));
        }
        let filter = AttemptFilter { delivery_id: Some(delivery), limit: 1, bodies: true, ..AttemptFilter::default() };
        let attempt = self.inner.store.list_attempts(&filter).await?.into_iter().next();
        let Some(attempt) = attempt else {
            return Err(ServiceError::Conflict(
                "the delivery has not been attempted yet; it needs no redelivery".into(),
            ));
        };
        if attempt.body.is_none() {
            return Err(ServiceError::Conflict("the event's payload was pruned by retention".into()));
        }
        let now = self.now();
        let id = DeliveryId(new_uuid_v7());
        let new = NewDelivery {
            id,
            webhook_id: d.webhook_id,
            application_id: d.application_id,
            sandbox: d.sandbox,
            state: DeliveryState::Pending,
            next_attempt_at: Some(now),
            owner: None,
            entity_key: None,
        };
        self.inner.store.insert_deliveries(&[(d.event, new)], now).await?;
        self.inner.engine.wake();
        Ok(RedeliverOut {
            delivery_id: id.to_string(),
            webhook_id: d.webhook_id.to_string(),
            event_id: d.event_id.to_string(),
        })
    }
}
