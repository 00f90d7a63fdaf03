//! Sign-in sessions of the web UI: a random session token in an `HttpOnly; SameSite=Strict` cookie (`Secure` when
//! Herald is reached over https), resolved through the service on every request. The service keeps sessions in the
//! store, shared by every node, with their principal, CSRF token, the application picked and a one-shot flash
//! message, and decides when one has expired. Extractors: [`Ui`] for pages (no session: 303 to the sign-in page) and
//! [`Posted`] for forms (no session or no valid CSRF token: a 403 page). Nothing here decides what a principal may
//! do: the service does.

use axum::extract::{Form, FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::ApplicationId;
use herald_service::Principal;
use rand::RngCore;

use super::error::UiError;
use crate::{AppState, WebConfig};

/// The session cookie.
pub const SESSION_COOKIE: &str = "herald_session";
/// The sign-in form's own CSRF cookie (double submit), set before there is a session.
pub const SIGNIN_COOKIE: &str = "herald_signin";
/// The hidden form field holding the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// A one-shot message shown on the next page.
#[derive(Debug, Clone)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

impl Flash {
    /// How a message travels through the store: `1|text` or `0|text`.
    fn encode(&self) -> String {
        format!("{}|{}", if self.ok { 1 } else { 0 }, self.text)
    }

    fn decode(stored: &str) -> Option<Flash> {
        let (ok, text) = stored.split_once('|')?;
        Some(Flash { ok: ok == "1", text: text.to_string() })
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

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie. `secure`: only ever sent over https.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> String {
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/{age}{secure}")
}

/// Whether this request reached Herald over https: always when the public URL is https, else when a trusted proxy
/// says so in `X-Forwarded-Proto` (the header is ignored from anyone else: a client could send it).
pub fn is_https(cfg: &WebConfig, headers: &HeaderMap) -> bool {
    cfg.public_https
        || (cfg.trusted_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
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
    /// The session's token (from its cookie).
    token: String,
    /// The one-shot message waiting for this page, as stored.
    flash: Option<String>,
    state: AppState,
}

impl Ui {
    /// Remembers the application picked. A failure only loses the choice, so it is logged, not shown.
    pub async fn remember_app(&self, app: ApplicationId) {
        if let Err(e) = self.state.herald.remember_session_app(&self.token, app).await {
            tracing::warn!(error = %e, "the application picked could not be remembered in the session");
        }
    }

    /// Leaves a message for the next page. Called after an action succeeded: a failure here only loses the
    /// message, so it is logged rather than turning the success into an error page.
    pub async fn flash(&self, ok: bool, text: impl Into<String>) {
        let flash = Flash { ok, text: text.into() };
        if let Err(e) = self.state.herald.set_session_flash(&self.token, &flash.encode()).await {
            tracing::warn!(error = %e, "a message for the next page could not be stored");
        }
    }

    /// The message left for this page, once: it is cleared as it is taken.
    pub async fn take_flash(&self) -> Option<Flash> {
        let stored = self.flash.as_deref()?;
        if let Err(e) = self.state.herald.clear_session_flash(&self.token, stored).await {
            tracing::warn!(error = %e, "a message shown could not be cleared; it may show once more");
        }
        Flash::decode(stored)
    }

    /// Ends the session on every node.
    pub async fn sign_out(&self) -> Result<(), UiError> {
        Ok(self.state.herald.end_session(&self.token).await?)
    }

    /// Resolves the session of a request, or says why there is none.
    async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Ui>, UiError> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Ok(None) };
        let Some(s) = state.herald.resume_session(&token).await? else { return Ok(None) };
        Ok(Some(Ui { who: s.who, csrf: s.csrf, picked_app: s.picked_app, token, flash: s.flash, state: state.clone() }))
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
