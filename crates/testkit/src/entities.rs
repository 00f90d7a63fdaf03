//! Checks on the events of entity state (`PUT /entities/…`): concurrent writes of one entity must chain.

use serde_json::Value;

/// Orders modification payloads (`old`, `new`) into one chain starting at `first`: each one's `old` is the
/// previous one's `new`, and every payload is used exactly once. Returns the payloads' indexes in chain order, or
/// what breaks the chain.
pub fn chain(first: &Value, payloads: &[Value]) -> Result<Vec<usize>, String> {
    let mut used = vec![false; payloads.len()];
    let mut order = Vec::with_capacity(payloads.len());
    let mut current = first.clone();
    for step in 0..payloads.len() {
        let next: Vec<usize> = (0..payloads.len()).filter(|&i| !used[i] && payloads[i]["old"] == current).collect();
        match next.as_slice() {
            [i] => {
                used[*i] = true;
                order.push(*i);
                current = payloads[*i]["new"].clone();
            }
            [] => return Err(format!("step {step}: no payload has old = {current}")),
            several => return Err(format!("step {step}: {} payloads share old = {current}", several.len())),
        }
    }
    Ok(order)
}
