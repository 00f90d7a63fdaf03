//! Example entities and the example changes that Ping sends. (STUB)

use serde_json::Value;

use crate::change::Entity;
use crate::{EntityType, Topic};

/// A realistic entity of this type.
pub fn example_entity(_entity_type: EntityType) -> Entity {
    Entity::new()
}

/// The `old` and `new` sides of an example change for which this topic's rule holds (for `application.*`, `new` is
/// the install payload of contract §8.4 and `old` is `None`).
pub fn example_change(_topic: &Topic) -> (Option<Entity>, Option<Entity>) {
    (None, None)
}

#[allow(dead_code)]
fn _unused(_: Value) {}
