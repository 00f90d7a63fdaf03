//! Herald's Prometheus metrics: one registry per process, fed by the engine (attempts) and the service (changes,
//! events); queue-depth gauges are set from the store when scraped.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabel {
    pub topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub changes_received: Counter,
    pub events_emitted: Family<TopicLabel, Counter>,
    pub deliveries_created: Counter,
    pub attempts: Family<OutcomeLabel, Counter>,
    pub attempt_duration: Histogram,
    /// How long each publish waited for its changes to be stored durably (its group commit and that commit's sync):
    /// most of a `202`'s latency, and the first figure to look at when the disk or the database is slow.
    pub changes_store_duration: Histogram,
    pub deliveries_due: Gauge,
    pub deliveries_scheduled: Gauge,
    pub deliveries_waiting: Gauge,
    pub webhooks_failing: Gauge,
    pub webhooks_disabled: Counter,
    pub publishes_shed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::default();
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            changes_received: Counter::default(),
            events_emitted: Family::default(),
            deliveries_created: Counter::default(),
            attempts: Family::default(),
            attempt_duration: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            changes_store_duration: Histogram::new(exponential_buckets(0.000_25, 2.0, 14)),
            deliveries_due: Gauge::default(),
            deliveries_scheduled: Gauge::default(),
            deliveries_waiting: Gauge::default(),
            webhooks_failing: Gauge::default(),
            webhooks_disabled: Counter::default(),
            publishes_shed: Counter::default(),
        };
        r.register("herald_changes_received", "Changes accepted by POST /changes", m.changes_received.clone());
        r.register("herald_events_emitted", "Events derived from changes, by topic", m.events_emitted.clone());
        r.register(
            "herald_deliveries_created",
            "Deliveries created (one event to one webhook)",
            m.deliveries_created.clone(),
        );
        r.register("herald_attempts", "Delivery attempts, by outcome", m.attempts.clone());
        r.register("herald_attempt_duration_seconds", "Duration of delivery attempts", m.attempt_duration.clone());
        r.register(
            "herald_changes_store_duration_seconds",
            "Time a publish waited for its changes to be stored durably (group commit and sync)",
            m.changes_store_duration.clone(),
        );
        r.register("herald_deliveries_due", "Pending deliveries due now (queue depth)", m.deliveries_due.clone());
        r.register(
            "herald_deliveries_scheduled",
            "Pending deliveries waiting for a retry",
            m.deliveries_scheduled.clone(),
        );
        r.register(
            "herald_deliveries_waiting",
            "Deliveries of ordered webhooks waiting for an earlier delivery of their entity",
            m.deliveries_waiting.clone(),
        );
        r.register(
            "herald_publishes_shed",
            "Publishing requests answered 503 because as many as --max-pending-publishes were being handled",
            m.publishes_shed.clone(),
        );
        r.register("herald_webhooks_failing", "Active webhooks whose last attempts failed", m.webhooks_failing.clone());
        r.register(
            "herald_webhooks_disabled",
            "Webhooks deactivated after failing too long",
            m.webhooks_disabled.clone(),
        );
        *m.registry.lock().unwrap_or_else(|p| p.into_inner()) = r;
        m
    }

    pub fn attempt(&self, outcome: &str, seconds: f64) {
        self.attempts.get_or_create(&OutcomeLabel { outcome: outcome.to_string() }).inc();
        self.attempt_duration.observe(seconds);
    }

    pub fn event(&self, topic: &str, deliveries: usize) {
        self.events_emitted.get_or_create(&TopicLabel { topic: topic.to_string() }).inc();
        self.deliveries_created.inc_by(deliveries as u64);
    }

    /// Registers a metric kept by another part of the process (the broker sources), so that `/metrics` shows it.
    pub fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry.lock().unwrap_or_else(|p| p.into_inner()).register(name, help, metric);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_label() {
        let m = Metrics::new();
        m.attempt("delivered", 0.01);
        m.attempt("delivered", 0.02);
        m.event("contacts.modified", 3);
        m.changes_store_duration.observe(0.002);
        let text = m.render();
        assert!(text.contains("herald_attempts_total{outcome=\"delivered\"} 2"), "{text}");
        assert!(text.contains("herald_events_emitted_total{topic=\"contacts.modified\"} 1"), "{text}");
        assert!(text.contains("herald_deliveries_created_total 3"), "{text}");
        assert!(text.contains("herald_attempt_duration_seconds_count 2"), "{text}");
        assert!(text.contains("herald_changes_store_duration_seconds_count 1"), "{text}");
    }
}
