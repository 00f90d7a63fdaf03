//! The entity types a platform publishes changes for (contract §4.3).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityType {
    Applicants,
    Appointments,
    Companies,
    Contacts,
    Conveyancing,
    Documents,
    Enquiries,
    Identitychecks,
    Landlords,
    Offers,
    Offices,
    Properties,
    Tenancies,
    Vendors,
    Worksorders,
}

impl EntityType {
    pub const ALL: [EntityType; 15] = [
        EntityType::Applicants,
        EntityType::Appointments,
        EntityType::Companies,
        EntityType::Contacts,
        EntityType::Conveyancing,
        EntityType::Documents,
        EntityType::Enquiries,
        EntityType::Identitychecks,
        EntityType::Landlords,
        EntityType::Offers,
        EntityType::Offices,
        EntityType::Properties,
        EntityType::Tenancies,
        EntityType::Vendors,
        EntityType::Worksorders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Applicants => "applicants",
            EntityType::Appointments => "appointments",
            EntityType::Companies => "companies",
            EntityType::Contacts => "contacts",
            EntityType::Conveyancing => "conveyancing",
            EntityType::Documents => "documents",
            EntityType::Enquiries => "enquiries",
            EntityType::Identitychecks => "identitychecks",
            EntityType::Landlords => "landlords",
            EntityType::Offers => "offers",
            EntityType::Offices => "offices",
            EntityType::Properties => "properties",
            EntityType::Tenancies => "tenancies",
            EntityType::Vendors => "vendors",
            EntityType::Worksorders => "worksorders",
        }
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the entity types of contract §4.3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entity type")]
pub struct UnknownEntityType;

impl FromStr for EntityType {
    type Err = UnknownEntityType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityType::ALL.into_iter().find(|e| e.as_str() == s).ok_or(UnknownEntityType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entity_type_parses_from_its_name() {
        for e in EntityType::ALL {
            assert_eq!(e.as_str().parse::<EntityType>(), Ok(e));
        }
        assert_eq!("contact".parse::<EntityType>(), Err(UnknownEntityType));
    }
}
