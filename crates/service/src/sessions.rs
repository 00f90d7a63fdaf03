//! Web UI sessions, kept in the store so that every node sharing the database knows them (a load balancer needs no
//! sticky sessions). The session token lives only in the visitor's cookie; the store keeps its SHA-256, the
//! principal (`admin:<tag of the admin token>` or the application id), the CSRF token, the application picked, a one-shot message, and when
//! the session was made and last used. The rules live here: idle and absolute expiry, and the cap on live sessions
//! per principal ([`SessionPolicy`]). The HTTP layer only carries the token in a cookie.

use std::time::Duration;

use herald_domain::ApplicationId;
use herald_store::SessionRecord;
use sha2::{Digest, Sha256};

use crate::*;

/// How long sessions last and how many a principal may hold. Defaults in docs/OPERATIONS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long is over.
    pub idle: Duration,
    /// A session is over this long after sign-in, however busy.
    pub absolute: Duration,
    /// Live sessions per principal; signing in once more drops the oldest.
    pub max_per_principal: u32,
    /// `last_seen` is written at most this often per session (every page view would otherwise be a write).
    pub touch_every: Duration,
}

/// 12 hours idle.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// 7 days after sign-in.
pub const SESSION_ABSOLUTE: Duration = Duration::from_secs(7 * 86_400);
/// 100 live sessions per principal.
pub const SESSIONS_PER_PRINCIPAL: u32 = 100;
/// `last_seen` moves at most once a minute.
pub const SESSION_TOUCH_EVERY: Duration = Duration::from_secs(60);

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: SESSION_IDLE,
            absolute: SESSION_ABSOLUTE,
            max_per_principal: SESSIONS_PER_PRINCIPAL,
            touch_every: SESSION_TOUCH_EVERY,
        }
    }
}

/// The `principal` column of an admin session: `admin:` and a tag of the admin token it signed in with, so that a
/// new admin token (set after a leak, say) ends every session made with the old one. The tag is 8 bytes of a
/// domain-separated SHA-256: enough to tell tokens apart, too little to check guesses of the token against.
fn admin_principal(admin_token_hash: &[u8; 32]) -> String {
    let tag = Sha256::new().chain_update(b"herald session principal\0").chain_update(admin_token_hash).finalize();
    format!("admin:{}", hex::encode(&tag[..8]))
}

/// A live session, resolved.
#[derive(Debug, Clone)]
pub struct UiSession {
    pub who: Principal,
    pub csrf: String,
    pub picked_app: Option<ApplicationId>,
    /// The one-shot message waiting for the next page, as the UI encoded it.
    pub flash: Option<String>,
}

/// SHA-256 of a session token, hex.
fn token_hash(token: &str) -> String {
    key_hash(token)
}

fn as_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(36_500))
}

impl Herald {
    /// Signs in with a bearer token: a new session for the principal it stands for, returned with the session's
    /// token (for the cookie), or `None` when the token is unknown. The principal's oldest sessions beyond the cap
    /// are dropped.
    pub async fn start_session(&self, bearer: &str) -> ServiceResult<Option<String>> {
        let principal = match self.authenticate(bearer).await? {
            None => return Ok(None),
            Some(Principal::Admin) => admin_principal(&self.inner.admin_token_hash),
            Some(Principal::App(app)) => app.id.to_string(),
        };
        let token = hex::encode(random_bytes::<32>());
        let now = self.now();
        let record = SessionRecord {
            token_hash: token_hash(&token),
            principal,
            csrf: hex::encode(random_bytes::<32>()),
            picked_app: None,
            flash: None,
            created: now,
            last_seen: now,
        };
        self.inner.store.insert_session(&record, self.inner.cfg.sessions.max_per_principal.max(1)).await?;
        Ok(Some(token))
    }

    /// The live session of a session token, or `None` (unknown, expired, or its application is gone). An expired
    /// session is deleted at once.
    pub async fn resume_session(&self, token: &str) -> ServiceResult<Option<UiSession>> {
        let hash = token_hash(token);
        let Some(s) = self.inner.store.get_session(&hash).await? else { return Ok(None) };
        let now = self.now();
        let policy = &self.inner.cfg.sessions;
        if now - s.last_seen >= as_chrono(policy.idle) || now - s.created >= as_chrono(policy.absolute) {
            self.inner.store.delete_session(&hash).await?;
            return Ok(None);
        }
        let who = if s.principal == admin_principal(&self.inner.admin_token_hash) {
            Principal::Admin
        } else if s.principal.starts_with("admin:") {
            // Made with another admin token: over.
            self.inner.store.delete_session(&hash).await?;
            return Ok(None);
        } else {
            let Ok(id) = s.principal.parse::<ApplicationId>() else {
                self.inner.store.delete_session(&hash).await?;
                return Ok(None);
            };
            match self.inner.store.get_application(id).await {
                Ok(app) => Principal::App(Arc::new(app)),
                Err(herald_store::StoreError::NotFound) => {
                    self.inner.store.delete_session(&hash).await?;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        };
        if now - s.last_seen >= as_chrono(policy.touch_every) {
            self.inner.store.touch_session(&hash, now).await?;
        }
        Ok(Some(UiSession { who, csrf: s.csrf, picked_app: s.picked_app, flash: s.flash }))
    }

    pub async fn remember_session_app(&self, token: &str, app: ApplicationId) -> ServiceResult<()> {
        Ok(self.inner.store.set_session_app(&token_hash(token), app).await?)
    }

    /// Leaves a one-shot message for the session's next page (on whichever node serves it).
    pub async fn set_session_flash(&self, token: &str, flash: &str) -> ServiceResult<()> {
        Ok(self.inner.store.set_session_flash(&token_hash(token), Some(flash)).await?)
    }

    /// The message `shown` was shown: clears it, unless a newer one replaced it meanwhile.
    pub async fn clear_session_flash(&self, token: &str, shown: &str) -> ServiceResult<()> {
        Ok(self.inner.store.clear_session_flash(&token_hash(token), shown).await?)
    }

    /// Signs out: the session is deleted, for every node.
    pub async fn end_session(&self, token: &str) -> ServiceResult<()> {
        self.inner.store.delete_session(&token_hash(token)).await?;
        Ok(())
    }

    /// Upkeep: deletes the sessions past their idle or absolute lifetime; returns how many.
    pub(crate) async fn delete_expired_sessions(&self, now: chrono::DateTime<chrono::Utc>) -> ServiceResult<u64> {
        let policy = &self.inner.cfg.sessions;
        Ok(self
            .inner
            .store
            .delete_expired_sessions(now - as_chrono(policy.idle), now - as_chrono(policy.absolute))
            .await?)
    }
}
