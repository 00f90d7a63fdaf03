//! The diff of contract §8.1. (STUB)

use serde_json::{Map, Value};

/// For each key whose value differs, `[old, new]`; nested for objects on both sides.
pub fn diff(_old: &Map<String, Value>, _new: &Map<String, Value>) -> Map<String, Value> {
    Map::new()
}
