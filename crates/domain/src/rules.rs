//! Topic derivation (contract §8.3): one change in, the topics it emits out. (STUB)

use crate::{Change, Topic};

/// Every topic whose rule holds for the change, in catalogue order.
pub fn derive_topics(_change: &Change) -> Vec<&'static Topic> {
    Vec::new()
}
