//! Sign-in sessions of the web UI: a random session id in an `HttpOnly; SameSite=Strict` cookie, mapped in memory to
//! the token that was pasted (re-authenticated through the service on every request, so that a revoked key stops
//! working at once), a per-session CSRF token, the application picked and a one-shot flash message.
//! Extractors: [`Ui`] for pages (no session: 303 to the sign-in page) and [`Posted`] for forms (no session or no
//! valid CSRF token: a 403 page). Nothing here decides what a principal may do: the service does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Form, FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::ApplicationId;
use herald_service::Principal;
use rand::RngCore;

use super::error::UiError;
use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "herald_session";
/// The sign-in form's own CSRF cookie (double submit), set before there is a session.
pub const SIGNIN_COOKIE: &str = "herald_signin";
/// The hidden form field holding the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// A session ends this long after sign-in, whatever happens in between.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// A one-shot message shown on the next page.
#[derive(Debug, Clone)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

struct SessionData {
    token: String,
    csrf: String,
    app: Option<ApplicationId>,
    flash: Option<Flash>,
    expires: Instant,
}

/// Every live session of this process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, SessionData>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, SessionData>> {
        // A panic while holding the lock leaves plain data behind; the map stays usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session for a token that authenticated; returns its id.
    pub fn create(&self, token: &str) -> String {
        let sid = random_token();
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        map.insert(
            sid.clone(),
            SessionData {
                token: token.to_string(),
                csrf: random_token(),
                app: None,
                flash: None,
                expires: now + SESSION_LIFETIME,
            },
        );
        sid
    }

    pub fn remove(&self, sid: &str) {
        self.lock().remove(sid);
    }

    /// The token and CSRF token of a live session.
    fn lookup(&self, sid: &str) -> Option<(String, String, Option<ApplicationId>)> {
        let mut map = self.lock();
        match map.get(sid) {
            Some(s) if s.expires > Instant::now() => Some((s.token.clone(), s.csrf.clone(), s.app)),
            Some(_) => {
                map.remove(sid);
                None
            }
            None => None,
        }
    }

    fn set_app(&self, sid: &str, app: ApplicationId) {
        if let Some(s) = self.lock().get_mut(sid) {
            s.app = Some(app);
        }
    }

    fn set_flash(&self, sid: &str, flash: Flash) {
        if let Some(s) = self.lock().get_mut(sid) {
            s.flash = Some(flash);
        }
    }

    fn take_flash(&self, sid: &str) -> Option<Flash> {
        self.lock().get_mut(sid).and_then(|s| s.flash.take())
    }
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The value of a cookie in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>) -> String {
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/{age}")
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed-in visitor of the UI.
pub struct Ui {
    pub who: Principal,
    pub csrf: String,
    /// The application picked earlier in this session (the admin's choice).
    pub picked_app: Option<ApplicationId>,
    sid: String,
    sessions: Arc<Sessions>,
}

impl Ui {
    pub fn remember_app(&self, app: ApplicationId) {
        self.sessions.set_app(&self.sid, app);
    }

    pub fn flash(&self, ok: bool, text: impl Into<String>) {
        self.sessions.set_flash(&self.sid, Flash { ok, text: text.into() });
    }

    pub fn take_flash(&self) -> Option<Flash> {
        self.sessions.take_flash(&self.sid)
    }

    pub fn sign_out(&self) {
        self.sessions.remove(&self.sid);
    }

    /// Resolves the session of a request, or says why there is none.
    async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Ui>, UiError> {
        let Some(sessions) = parts.extensions.get::<Arc<Sessions>>().cloned() else {
            return Err(UiError::internal("the UI session store is not installed"));
        };
        let Some(sid) = cookie(&parts.headers, SESSION_COOKIE) else { return Ok(None) };
        let Some((token, csrf, picked_app)) = sessions.lookup(&sid) else { return Ok(None) };
        match state.herald.authenticate(&token).await? {
            Some(who) => Ok(Some(Ui { who, csrf, picked_app, sid, sessions })),
            None => {
                sessions.remove(&sid);
                Ok(None)
            }
        }
    }
}

/// What a page answers without a session: back to the sign-in page.
pub fn to_signin() -> Response {
    Redirect::to("/signin").into_response()
}

impl FromRequestParts<AppState> for Ui {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Ui::resolve(parts, state).await {
            Ok(Some(ui)) => Ok(ui),
            Ok(None) => Err(to_signin()),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl OptionalFromRequestParts<AppState> for Ui {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        Ui::resolve(parts, state).await.map_err(IntoResponse::into_response)
    }
}

/// A submitted form's fields, in order (a name may repeat, as checkboxes do).
#[derive(Debug, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The trimmed value, `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// A form posted by a signed-in visitor with the session's CSRF token. Anything else is refused with a 403 page.
pub struct Posted {
    pub ui: Ui,
    pub form: FormData,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let ui = match Ui::resolve(&parts, state).await {
            Ok(Some(ui)) => ui,
            Ok(None) => return Err(UiError::csrf().into_response()),
            Err(e) => return Err(e.into_response()),
        };
        let req = Request::from_parts(parts, body);
        let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(|e| UiError::page(e.status(), "The form could not be read", e.body_text()).into_response())?;
        let form = FormData(pairs);
        match form.get(CSRF_FIELD) {
            Some(t) if constant_time_eq(t, &ui.csrf) => Ok(Posted { ui, form }),
            _ => Err(UiError::csrf().into_response()),
        }
    }
}
