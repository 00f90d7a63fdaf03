//! The sources' Prometheus metrics, labelled by source name, registered in the process's one registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

/// Messages consumed, acknowledged and dead-lettered per source; whether it is connected; what waits at the broker.
#[derive(Clone, Default)]
pub struct SourceMetrics {
    consumed: Family<SourceLabel, Counter>,
    acknowledged: Family<SourceLabel, Counter>,
    dead_lettered: Family<SourceLabel, Counter>,
    up: Family<SourceLabel, Gauge>,
    lag: Family<SourceLabel, Gauge>,
}

impl SourceMetrics {
    /// New metrics, registered in `metrics`' registry.
    pub fn registered(metrics: &herald_delivery::Metrics) -> Self {
        let m = SourceMetrics::default();
        metrics.register(
            "herald_source_messages_consumed",
            "Messages received from a broker source",
            m.consumed.clone(),
        );
        metrics.register(
            "herald_source_messages_acknowledged",
            "Messages acknowledged at a broker source, once stored or dead-lettered",
            m.acknowledged.clone(),
        );
        metrics.register(
            "herald_source_messages_dead_lettered",
            "Messages from a broker source that were no valid change, kept as dead letters",
            m.dead_lettered.clone(),
        );
        metrics.register("herald_source_up", "1 while a broker source is connected and consuming", m.up.clone());
        metrics.register(
            "herald_source_lag",
            "Messages waiting at the broker for this source, where the broker tells it",
            m.lag.clone(),
        );
        m
    }

    fn label(source: &str) -> SourceLabel {
        SourceLabel { source: source.to_string() }
    }

    pub fn consumed(&self, source: &str) {
        self.consumed.get_or_create(&Self::label(source)).inc();
    }

    pub fn acknowledged(&self, source: &str, n: u64) {
        self.acknowledged.get_or_create(&Self::label(source)).inc_by(n);
    }

    pub fn dead_lettered(&self, source: &str) {
        self.dead_lettered.get_or_create(&Self::label(source)).inc();
    }

    pub fn set_up(&self, source: &str, up: bool) {
        self.up.get_or_create(&Self::label(source)).set(i64::from(up));
    }

    pub fn set_lag(&self, source: &str, lag: u64) {
        self.lag.get_or_create(&Self::label(source)).set(i64::try_from(lag).unwrap_or(i64::MAX));
    }
}
