//! The topic catalogue: every topic Herald emits, with its description and required scope. One place, as data.
//! (STUB: the full 48-topic table is being written.)

use crate::EntityType;

/// One topic of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    /// `contacts.modified`
    pub id: &'static str,
    /// A short human name, `Contact modified`.
    pub name: &'static str,
    /// What makes the topic fire, as the seed's table says (with the contract's corrections).
    pub description: &'static str,
    /// The scope an application must hold to receive the topic; `None` for `application.*`.
    pub scope: Option<&'static str>,
    /// The entity type whose changes emit it; `None` for `application.*`.
    pub entity_type: Option<EntityType>,
}

static TOPICS: &[Topic] = &[];

/// Every topic, sorted by id.
pub fn all() -> &'static [Topic] {
    TOPICS
}

/// The topic with this id.
pub fn find(id: &str) -> Option<&'static Topic> {
    TOPICS.iter().find(|t| t.id == id)
}
