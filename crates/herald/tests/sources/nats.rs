//! The scenarios of `scenarios.rs` on NATS JetStream.

use crate::brokers::Broker;
use crate::scenarios;

#[tokio::test]
async fn nats_a_thousand_changes_are_delivered_and_invalid_messages_become_dead_letters() {
    scenarios::a_thousand_changes_and_two_dead_letters(Broker::nats().await).await;
}

#[tokio::test]
async fn nats_a_node_killed_mid_stream_loses_nothing() {
    scenarios::a_node_killed_mid_stream_loses_nothing(Broker::nats().await).await;
}

#[tokio::test]
async fn nats_a_node_stopped_by_sigterm_mid_stream_loses_nothing() {
    scenarios::a_node_stopped_mid_stream_loses_nothing(Broker::nats().await).await;
}

#[tokio::test]
async fn nats_a_broker_outage_is_reported_and_survived() {
    scenarios::a_broker_outage_is_reported_and_survived(Broker::nats().await).await;
}

#[tokio::test]
async fn nats_two_nodes_ingest_each_change_once() {
    scenarios::two_nodes_ingest_each_change_once(Broker::nats().await).await;
}
