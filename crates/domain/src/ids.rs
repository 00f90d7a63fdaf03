//! Identifier newtypes. Every id Herald mints is a UUID v7 (time-ordered, so that ids sort by creation), rendered in
//! its hyphenated form. Keeping one type per kind of id stops a webhook id being passed where an event id is meant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id from random bits and the given time, ordered by that time.
            pub fn new_v7(unix_millis: u64, random: u128) -> Self {
                let ts = uuid::Timestamp::from_unix(uuid::NoContext, unix_millis / 1000, ((unix_millis % 1000) * 1_000_000) as u32);
                let mut bytes = *Uuid::new_v7(ts).as_bytes();
                // keep the 48-bit time prefix and version/variant bits, take the rest from `random`
                let r = random.to_be_bytes();
                bytes[6] = (bytes[6] & 0xF0) | (r[6] & 0x0F);
                bytes[7] = r[7];
                bytes[8] = (bytes[8] & 0xC0) | (r[8] & 0x3F);
                bytes[9..16].copy_from_slice(&r[9..16]);
                Self(Uuid::from_bytes(bytes))
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

id_type!(
    /// Herald's id of an application (`applicationId` in the API).
    ApplicationId
);
id_type!(
    /// An installation of an application by a customer.
    InstallationId
);
id_type!(
    /// A webhook (a "subscription" in the Reapit-compatible API).
    WebhookId
);
id_type!(
    /// The id shared by every event derived from one `POST /changes` request.
    EventId
);
id_type!(
    /// One delivery: one event to one webhook. It is also the Standard Webhooks `webhook-id`, the same on every attempt.
    DeliveryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_sort_by_time() {
        let a = WebhookId::new_v7(1_000, u128::MAX);
        let b = WebhookId::new_v7(2_000, 0);
        assert!(a < b);
        assert_eq!(a.0.get_version_num(), 7);
    }

    #[test]
    fn ids_round_trip_through_text() {
        let a = EventId::new_v7(1_700_000_000_000, 42);
        let parsed: EventId = a.to_string().parse().unwrap();
        assert_eq!(a, parsed);
    }
}
