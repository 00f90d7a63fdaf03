//! The attempt logs (contract §5.4).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use herald_domain::time::parse_rfc3339;
use herald_domain::time::to_micros;
use herald_domain::{ApplicationId, DeliveryId, EventId, WebhookId};
use herald_store::{AttemptCursor, AttemptFilter};

use crate::input::query_param;
use crate::models::LogOut;
use crate::receivable::refusal;
use crate::*;

/// The logs' filters as they arrive in a query string (`GET /webhooks/logs`), read by `list_logs`; the OpenAPI
/// document's parameters are derived from this type.
#[derive(Debug, Clone, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct LogQuery {
    /// Only this application's attempts. An application key sees only its own.
    #[param(format = Uuid)]
    pub application_id: Option<String>,
    /// Attempts started at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Attempts started before this time (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub topic_id: Option<String>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub entity_id: Option<String>,
    #[param(format = Uuid)]
    pub event_id: Option<String>,
    #[param(format = Uuid)]
    pub webhook_id: Option<String>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub customer_id: Option<String>,
    #[param(format = Uuid)]
    pub delivery_id: Option<String>,
    /// Only successful or only failed attempts.
    #[param(schema_with = attempt_status)]
    pub status: Option<String>,
    /// At most this many records, 1 to 1000 (default 100). A page also stops before 8 MiB of records by default
    /// (the first record always comes); the `Link` header then leads to the rest.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Where the previous page ended: copy it from that page's `Link: <…>; rel="next"` header (opaque).
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// Whether the records carry their payload and response. Pages that show neither leave them out, and then
    /// never read them.
    #[param(ignore)]
    pub payloads: bool,
}

/// `success` or `failure`.
fn attempt_status() -> utoipa::openapi::schema::ObjectBuilder {
    crate::input::text_enum(&["success", "failure"])
}

/// A page of the logs and, when more records follow, the cursor of the next page.
#[derive(Debug, Clone)]
pub struct LogPage {
    pub records: Vec<LogOut>,
    pub next: Option<String>,
}

/// How many bytes of records (as JSON) one page of the logs holds by default (`--logs-page-bytes`), beside its
/// count limit; the first record of a page comes however large it is. See docs/API.md.
pub const LOG_PAGE_BYTES: u64 = 8 * 1024 * 1024;

/// A cursor as clients see it: base64url of `<started, microseconds>.<attempt row id>`. Opaque to them.
fn encode_cursor(c: AttemptCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", to_micros(c.started), c.id))
}

/// How many bytes `value` takes as JSON, counted without writing them anywhere.
fn json_len(value: &impl serde::Serialize) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serialising these plain records cannot fail; were it to, the record would count as empty and the store's
    // own cut at the raw bytes still bounds the page.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn decode_cursor(text: &str) -> Option<AttemptCursor> {
    let raw = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
    let (started, id) = std::str::from_utf8(&raw).ok()?.split_once('.')?;
    let started = DateTime::from_timestamp_micros(started.parse().ok()?)?;
    Some(AttemptCursor { started, id: id.parse().ok()? })
}

pub const DEFAULT_LOG_LIMIT: u32 = 100;
pub const MAX_LOG_LIMIT: u32 = 1_000;

/// What `from` and `to` must be.
const LOG_TIME: &str = "an RFC 3339 date and time in the years 0001 to 9999 (UTC)";

/// A log bound: RFC 3339 whose UTC instant lies in the years RFC 3339 can write. An offset can carry
/// `9999-12-31T23:59:59-23:59` into the year 10000; such instants are refused rather than passed on.
fn log_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    parse_rfc3339(text).filter(|t| (1..=9999).contains(&t.year()))
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.is_empty()).cloned()
}

impl Herald {
    /// A page of the logs, newest first: at most `limit` records and, with payloads, at most the configured bytes of
    /// JSON (the first record always comes), with the cursor of the next page when more records match.
    pub async fn list_logs(&self, who: &Principal, q: &LogQuery) -> ServiceResult<LogPage> {
        let app: Option<ApplicationId> =
            query_param("applicationId", q.application_id.as_deref(), |s| s.parse().ok(), "an application id")?;
        if let Some(a) = app {
            who.check_app(a)?;
        }
        let filter = AttemptFilter {
            application_id: app.or(who.application_id()),
            from: query_param("from", q.from.as_deref(), log_time, LOG_TIME)?,
            to: query_param("to", q.to.as_deref(), log_time, LOG_TIME)?,
            topic_id: nonempty(&q.topic_id),
            entity_id: nonempty(&q.entity_id),
            event_id: query_param("eventId", q.event_id.as_deref(), |s| s.parse::<EventId>().ok(), "a UUID")?,
            webhook_id: query_param("webhookId", q.webhook_id.as_deref(), |s| s.parse::<WebhookId>().ok(), "a UUID")?,
            customer_id: nonempty(&q.customer_id),
            delivery_id: query_param("deliveryId", q.delivery_id.as_deref(), |s| s.parse().ok(), "a UUID")?,
            success: query_param(
                "status",
                q.status.as_deref(),
                |s| match s {
                    "success" => Some(true),
                    "failure" => Some(false),
                    _ => None,
                },
                "success or failure",
            )?,
            limit: query_param(
                "limit",
                q.limit.as_deref(),
                |s| s.parse::<u32>().ok().filter(|n| (1..=MAX_LOG_LIMIT).contains(n)),
                "a whole number from 1 to 1000",
            )?
            .unwrap_or(DEFAULT_LOG_LIMIT),
            cursor: query_param(
                "cursor",
                q.cursor.as_deref(),
                decode_cursor,
                "a cursor from this endpoint's Link header",
            )?,
            bodies: q.payloads,
            byte_budget: q.payloads.then_some(self.inner.cfg.log_page_bytes),
        };
        let page = self.inner.store.list_attempt_page(&filter).await?;
        let table = self.inner.routing.table().await?;
        // The store cut at the raw bytes of payloads and responses; as JSON they only grow (escapes), so the page
        // is cut again at the bytes each record takes in the answer.
        let mut records = Vec::with_capacity(page.records.len());
        let mut bytes = 0u64;
        let mut cut = false;
        // Each store record is dropped once converted, so that a page is not held twice.
        for r in page.records {
            let mut out = LogOut::from(&r);
            // The record stays; the customer's data goes once the application may no longer receive it.
            if refusal(&table, r.application_id, &r.topic_id, &r.customer_id, None).is_some() {
                out.payload = None;
            }
            if q.payloads {
                bytes = bytes.saturating_add(json_len(&out) + 1);
                if !records.is_empty() && bytes > self.inner.cfg.log_page_bytes {
                    cut = true;
                    break;
                }
            }
            records.push((out, r.cursor()));
        }
        let next = (page.more || cut).then(|| records.last().map(|(_, c)| encode_cursor(*c))).flatten();
        Ok(LogPage { records: records.into_iter().map(|(out, _)| out).collect(), next })
    }

    /// One attempt of a delivery with its payload and response, or `None` when the principal sees no such attempt.
    /// Only that attempt's payload is read.
    pub async fn log_attempt(&self, who: &Principal, delivery: &str, attempt: u32) -> ServiceResult<Option<LogOut>> {
        let Ok(delivery) = delivery.parse::<DeliveryId>() else { return Ok(None) };
        let mut filter = AttemptFilter {
            application_id: who.application_id(),
            delivery_id: Some(delivery),
            limit: MAX_LOG_LIMIT,
            ..AttemptFilter::default()
        };
        let listed = self.inner.store.list_attempt_page(&filter).await?;
        let Some(found) = listed.records.iter().find(|r| r.attempt == attempt) else { return Ok(None) };
        // The page after a cursor just past this record starts with it.
        let c = found.cursor();
        filter.cursor = Some(AttemptCursor { started: c.started, id: c.id.saturating_add(1) });
        filter.limit = 1;
        filter.bodies = true;
        let page = self.inner.store.list_attempt_page(&filter).await?;
        let table = self.inner.routing.table().await?;
        Ok(page.records.first().filter(|r| r.id == c.id).map(|r| {
            let mut out = LogOut::from(r);
            if refusal(&table, r.application_id, &r.topic_id, &r.customer_id, None).is_some() {
                out.payload = None;
            }
            out
        }))
    }
}
