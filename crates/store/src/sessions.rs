//! The record of a web UI session. The store keeps sessions and answers for them; when one has expired, and how
//! many a principal may hold, are the service's rules, passed in as instants and counts.

use chrono::{DateTime, Utc};
use herald_domain::ApplicationId;

/// One sign-in session of the web UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session's token, hex: the token itself is never stored.
    pub token_hash: String,
    /// Who signed in, as the service names it (`admin:<tag>`, or an application id as text). Sessions are capped per principal.
    pub principal: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// The application last picked in this session.
    pub picked_app: Option<ApplicationId>,
    /// A one-shot message for the next page, as the caller encoded it.
    pub flash: Option<String>,
    pub created: DateTime<Utc>,
    /// The last time the session was used (written at most as often as the caller asks).
    pub last_seen: DateTime<Utc>,
}
