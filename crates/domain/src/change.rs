//! A change: what the platform tells Herald about one entity (contract §4.3), validated.
//! (STUB: parsing and the eTag-only check are being written.)

use serde_json::{Map, Value};

use crate::{EntityType, FieldError};

/// An entity as JSON: always an object.
pub type Entity = Map<String, Value>;

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub customer_id: String,
    pub entity_type: EntityType,
    pub entity_id: String,
    /// `None`: the entity was created.
    pub old: Option<Entity>,
    /// `None`: the entity was deleted or archived.
    pub new: Option<Entity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Modified,
    Deleted,
}

impl Change {
    /// Validates one change given as JSON; field names in the errors are the change's own (`entityId`, `old`, ...).
    pub fn from_json(_value: &Value) -> Result<Change, Vec<FieldError>> {
        unimplemented!()
    }

    pub fn kind(&self) -> ChangeKind {
        match (&self.old, &self.new) {
            (None, _) => ChangeKind::Created,
            (Some(_), None) => ChangeKind::Deleted,
            (Some(_), Some(_)) => ChangeKind::Modified,
        }
    }

    /// A modification whose only differences are `_eTag` and `modified` (contract §8.2).
    pub fn is_etag_only(&self) -> bool {
        false
    }
}
