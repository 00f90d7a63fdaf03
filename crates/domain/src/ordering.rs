//! Ordered delivery per entity (contract §9.1): the pure rules of which delivery of an entity may be attempted.
//!
//! A webhook with `ordered: true` gets each entity's deliveries one after the other, in the order Herald accepted
//! them. Each such delivery carries an *entity key* (the customer and the entity, see [`entity_key`]) and a
//! *sequence*, 1, 2, 3, … per `(webhook, entity key)`. At any time at most one delivery per `(webhook, entity key)`
//! is open for attempts (the *head*, stored `pending`); the later ones are stored `waiting` and are not claimable.
//! When the head ends (delivered, failed for good, dead, cancelled), the waiting delivery with the lowest sequence
//! becomes the head. The store applies these rules inside the transactions that insert deliveries and record
//! attempts; this module says what they are, so that they are tested without a database.

use std::collections::HashMap;
use std::hash::Hash;

/// The key of one entity within a webhook: its customer and its id, unambiguous for any two strings (the
/// customer's length in bytes, `:`, the customer, then the entity). `application.*` events use the installation id
/// as their entity, so that an application's install and uninstall of one customer keep their order too.
pub fn entity_key(customer_id: &str, entity_id: &str) -> String {
    format!("{}:{customer_id}{entity_id}", customer_id.len())
}

/// Where one `(webhook, entity key)` stood before a batch of new deliveries: the last sequence given (0: none yet),
/// and whether one of its deliveries is still open (pending or waiting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyState {
    pub last: i64,
    pub open: bool,
}

/// The place of one new ordered delivery: its sequence, and whether it must wait for an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub sequence: i64,
    pub waiting: bool,
}

/// Places a batch of new deliveries in their entities' order, in batch order: `batch[i]` is the key of the i-th
/// delivery, `None` for one that is not ordered. Each ordered delivery gets the next sequence of its key; the first
/// of a key with nothing open is the head, every other one waits. `keys` is updated to where each key stands after
/// the batch (a key absent from it stood at [`KeyState::default`]).
pub fn place<K: Eq + Hash + Clone>(batch: &[Option<K>], keys: &mut HashMap<K, KeyState>) -> Vec<Option<Placement>> {
    batch
        .iter()
        .map(|key| {
            let key = key.as_ref()?;
            let state = keys.entry(key.clone()).or_default();
            state.last += 1;
            let waiting = state.open;
            state.open = true;
            Some(Placement { sequence: state.last, waiting })
        })
        .collect()
}

/// How many new deliveries each key gets in a batch, in order of first appearance: what the store adds to each
/// key's last sequence in one statement.
pub fn counts<K: Eq + Hash + Clone>(batch: &[Option<K>]) -> Vec<(K, i64)> {
    let mut index: HashMap<&K, usize> = HashMap::new();
    let mut out: Vec<(K, i64)> = Vec::new();
    for key in batch.iter().flatten() {
        match index.get(key) {
            Some(&i) => out[i].1 += 1,
            None => {
                index.insert(key, out.len());
                out.push((key.clone(), 1));
            }
        }
    }
    out
}

/// Which waiting delivery of a key becomes the head when an attempt ends: none while another delivery of the key is
/// still pending (the head, or one that became head meanwhile), else the waiting one with the lowest sequence.
/// `waiting` holds `(sequence, id)` of the key's waiting deliveries.
pub fn next_head<I: Copy>(pending_left: bool, waiting: &[(i64, I)]) -> Option<I> {
    if pending_left {
        return None;
    }
    waiting.iter().min_by_key(|(sequence, _)| *sequence).map(|(_, id)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unambiguous() {
        assert_ne!(entity_key("ab", "c"), entity_key("a", "bc"));
        assert_ne!(entity_key("1:", "x"), entity_key("1", ":x"));
        assert_eq!(entity_key("RPT", "OXF20000001"), "3:RPTOXF20000001");
    }

    #[test]
    fn the_first_delivery_of_an_idle_entity_is_the_head_and_the_rest_wait() {
        let mut keys = HashMap::new();
        let batch = [Some("a"), Some("b"), Some("a"), None, Some("a")];
        let placed = place(&batch, &mut keys);
        assert_eq!(
            placed,
            vec![
                Some(Placement { sequence: 1, waiting: false }),
                Some(Placement { sequence: 1, waiting: false }),
                Some(Placement { sequence: 2, waiting: true }),
                None,
                Some(Placement { sequence: 3, waiting: true }),
            ]
        );
        assert_eq!(keys["a"], KeyState { last: 3, open: true });
        assert_eq!(keys["b"], KeyState { last: 1, open: true });
    }

    #[test]
    fn an_entity_with_an_open_delivery_makes_new_ones_wait_and_sequences_go_on() {
        let mut keys =
            HashMap::from([("a", KeyState { last: 7, open: true }), ("b", KeyState { last: 4, open: false })]);
        let placed = place(&[Some("a"), Some("b")], &mut keys);
        assert_eq!(placed[0], Some(Placement { sequence: 8, waiting: true }));
        assert_eq!(placed[1], Some(Placement { sequence: 5, waiting: false }));
    }

    #[test]
    fn counts_follow_first_appearance() {
        assert_eq!(counts(&[Some("b"), None, Some("a"), Some("b")]), vec![("b", 2), ("a", 1)]);
        assert!(counts::<&str>(&[None, None]).is_empty());
    }

    #[test]
    fn the_lowest_waiting_sequence_becomes_head_only_when_nothing_is_pending() {
        assert_eq!(next_head(false, &[(5, 'x'), (3, 'y'), (9, 'z')]), Some('y'));
        assert_eq!(next_head(true, &[(5, 'x'), (3, 'y')]), None);
        assert_eq!(next_head::<char>(false, &[]), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the batches, each key's sequences are 1, 2, 3, … in batch order with no gap, and exactly one
        /// delivery per key is ever the head while the key stays open.
        #[test]
        fn sequences_are_dense_and_one_head_per_open_key(batches in prop::collection::vec(
            prop::collection::vec(prop::option::of(0u8..4), 0..20), 1..6)) {
            let mut keys: HashMap<u8, KeyState> = HashMap::new();
            let mut seen: HashMap<u8, Vec<i64>> = HashMap::new();
            let mut heads: HashMap<u8, usize> = HashMap::new();
            for batch in &batches {
                for (key, placed) in batch.iter().zip(place(batch, &mut keys)) {
                    match (key, placed) {
                        (Some(k), Some(p)) => {
                            seen.entry(*k).or_default().push(p.sequence);
                            if !p.waiting { *heads.entry(*k).or_default() += 1; }
                        }
                        (None, None) => {}
                        other => prop_assert!(false, "placement for the wrong kind of delivery: {other:?}"),
                    }
                }
            }
            for (k, seqs) in seen {
                prop_assert_eq!(seqs.clone(), (1..=seqs.len() as i64).collect::<Vec<_>>());
                prop_assert_eq!(heads[&k], 1);
            }
        }
    }
}
