//! Rows to records, once for both databases: ids and lists through the backend's [`Dialect`](crate::dialect::Dialect),
//! sealed columns opened with the store's [`Sealer`].

use crate::codec::{opt_time, time};
use crate::dialect::Sql;
use crate::*;

pub fn application<DB: Sql>(row: &DB::Row, sealer: &Sealer) -> StoreResult<ApplicationRecord> {
    Ok(ApplicationRecord {
        id: DB::get_id(row, "id")?.into(),
        client_id: DB::text(row, "client_id")?,
        name: DB::text(row, "name")?,
        scopes: DB::get_list(row, "scopes")?,
        api_key_hash: DB::text(row, "api_key_hash")?,
        signing_seed: sealer.open_bytes(DB::bytes(row, "signing_seed")?)?,
        created: time(DB::int(row, "created")?),
        modified: time(DB::int(row, "modified")?),
    })
}

pub fn installation<DB: Sql>(row: &DB::Row) -> StoreResult<InstallationRecord> {
    Ok(InstallationRecord {
        id: DB::get_id(row, "id")?.into(),
        application_id: DB::get_id(row, "application_id")?.into(),
        customer_id: DB::text(row, "customer_id")?,
        customer_name: DB::opt_text(row, "customer_name")?,
        customer_email: DB::opt_text(row, "customer_email")?,
        created: time(DB::int(row, "created")?),
        terminated: opt_time(DB::opt_int(row, "terminated")?),
    })
}

pub fn webhook<DB: Sql>(row: &DB::Row, sealer: &Sealer) -> StoreResult<WebhookRecord> {
    Ok(WebhookRecord {
        id: DB::get_id(row, "id")?.into(),
        application_id: DB::get_id(row, "application_id")?.into(),
        url: DB::text(row, "url")?,
        description: DB::opt_text(row, "description")?,
        topic_ids: DB::get_list(row, "topic_ids")?,
        customer_ids: DB::get_list(row, "customer_ids")?,
        active: DB::flag(row, "active")?,
        ignore_etag_only_changes: DB::flag(row, "ignore_etag_only_changes")?,
        ordered: DB::flag(row, "ordered")?,
        rate_limit: DB::opt_int(row, "rate_limit")?.and_then(|r| u32::try_from(r).ok()),
        secret: sealer.open_text(DB::text(row, "secret")?)?,
        previous_secret: sealer.open_opt_text(DB::opt_text(row, "previous_secret")?)?,
        previous_secret_expires: opt_time(DB::opt_int(row, "previous_secret_expires")?),
        disabled_reason: DB::opt_text(row, "disabled_reason")?,
        last_success: opt_time(DB::opt_int(row, "last_success")?),
        failing_since: opt_time(DB::opt_int(row, "failing_since")?),
        failing_announced: opt_time(DB::opt_int(row, "failing_announced")?),
        created: time(DB::int(row, "created")?),
        modified: time(DB::int(row, "modified")?),
        filter: DB::opt_text(row, "filter")?,
    })
}
