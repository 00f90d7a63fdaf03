//! What a receiver of an ordered webhook saw, entity by entity (contract §9.1).

use std::collections::BTreeMap;

use crate::Received;

/// One request as an ordered webhook's receiver sees it: the `herald-entity-sequence` header and the payload.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub sequence: i64,
    pub delivery: String,
    pub payload: serde_json::Value,
}

/// The requests of each entity (the payload's `entityId`), in arrival order. Panics on a request without a
/// `herald-entity-sequence` header.
pub fn by_entity(received: &[Received]) -> BTreeMap<String, Vec<Arrival>> {
    let mut out: BTreeMap<String, Vec<Arrival>> = BTreeMap::new();
    for r in received {
        let payload = r.json();
        let entity = payload["entityId"].as_str().expect("an entityId").to_string();
        let sequence = r
            .header("herald-entity-sequence")
            .unwrap_or_else(|| panic!("no herald-entity-sequence header on a delivery of {entity}"))
            .parse()
            .expect("a number");
        let delivery = r.header("webhook-id").expect("a webhook-id");
        out.entry(entity).or_default().push(Arrival { sequence, delivery, payload });
    }
    out
}

/// The sequences an entity's receiver saw once repeats are folded: a delivery attempted again right after itself
/// (a retry, or a resend after a crash) counts once. Repeats anywhere else are an error: a delivery seen again
/// after a later one means the order broke.
pub fn folded(arrivals: &[Arrival]) -> Result<Vec<i64>, String> {
    let mut out: Vec<(i64, &str)> = Vec::new();
    for a in arrivals {
        match out.last() {
            Some((s, d)) if *d == a.delivery && *s == a.sequence => {}
            _ => {
                if out.iter().any(|(_, d)| *d == a.delivery) {
                    return Err(format!(
                        "delivery {} (sequence {}) came again after a later one",
                        a.delivery, a.sequence
                    ));
                }
                out.push((a.sequence, &a.delivery));
            }
        }
    }
    Ok(out.into_iter().map(|(s, _)| s).collect())
}
