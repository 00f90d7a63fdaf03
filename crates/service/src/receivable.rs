//! Whether an application may still receive an event it was sent before: after an uninstall or a scope removal it
//! may not, so redelivery and replay refuse such events and the logs keep their records without the payload.
//! The rule itself is `herald_domain::routing::may_still_receive`; this module applies it to stored events.

use herald_domain::routing::{may_still_receive, Refusal, RoutingTable};
use herald_domain::{topics, ApplicationId, FieldError, PING_CUSTOMER};

/// Why `application` may no longer receive the stored event of `topic_id` for `customer`, if it may not.
/// `webhook_customers`: the customer list of the webhook it would go to (`None` for the logs, where the webhook may
/// be gone: there a sandbox event stays readable). Pings (customer `webhook-test`, example data) are always allowed,
/// and so is a topic the catalogue no longer has (no scope to check).
pub(crate) fn refusal(
    table: &RoutingTable,
    application: ApplicationId,
    topic_id: &str,
    customer: &str,
    webhook_customers: Option<&[String]>,
) -> Option<Refusal> {
    if customer == PING_CUSTOMER {
        return None;
    }
    let topic = topics::find(topic_id)?;
    may_still_receive(application, topic, customer, webhook_customers, table).err()
}

/// The refusal as the field error of a 422 answer.
pub(crate) fn refusal_error(refusal: &Refusal, customer: &str) -> FieldError {
    FieldError::new(refusal.field(), refusal.message(customer))
}
