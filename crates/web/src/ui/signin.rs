//! Sign-in and sign-out. The sign-in form is protected by a double-submit token (a cookie and a hidden field) since
//! there is no session yet; the pasted token is checked with the service's `authenticate`, as the API checks a
//! bearer token. Failed sign-ins are limited per client address (`limit`).

use std::time::Instant;

use axum::extract::{Form, FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::error::UiError;
use super::layout::{self, bare, field_errors};
use super::limit::client_ip;
use super::session::{
    constant_time_eq, cookie, is_https, random_token, set_cookie, Posted, Ui, CSRF_FIELD, SESSION_COOKIE, SIGNIN_COOKIE,
};
use crate::AppState;

fn form(csrf: &str, error: Option<&str>) -> Markup {
    let errors: Vec<String> = error.map(str::to_string).into_iter().collect();
    bare(
        "Sign in",
        html! {
            h1 { "Sign in" }
            p.lead { "Paste an application API key to manage that application's webhooks, or the admin token to manage every application's." }
            form #signin-form method="post" action="/signin" novalidate {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                div.field.invalid[error.is_some()] {
                    label for="token" { "API key or admin token" }
                    input #token type="password" name="token" autocomplete="off" required autofocus
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| layout::error_id("token"))];
                    (field_errors("token", &errors))
                }
                button.primary type="submit" { "Sign in" }
            }
            p.hint { "An application's API key is returned once, when the application is created (" code { "POST /apps" } ")." }
        },
    )
}

pub async fn show(State(state): State<AppState>, ui: Option<Ui>, headers: HeaderMap) -> Response {
    if ui.is_some() {
        return Redirect::to("/ui/webhooks").into_response();
    }
    let token = cookie(&headers, SIGNIN_COOKIE).filter(|t| t.len() == 64).unwrap_or_else(random_token);
    let secure = is_https(&state.web, &headers);
    ([(header::SET_COOKIE, set_cookie(SIGNIN_COOKIE, &token, None, secure))], form(&token, None)).into_response()
}

pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let ip = client_ip(&state.web, &parts);
    let secure = is_https(&state.web, &parts.headers);
    let expected = cookie(&parts.headers, SIGNIN_COOKIE);
    let csrf = expected.clone().unwrap_or_default();
    if let Some(left) = state.signin_limiter.blocked_for(ip, Instant::now()) {
        let secs = left.as_secs().max(1);
        let message = format!("Too many failed sign-ins from your address. Try again in {secs} seconds.");
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, secs.to_string())], form(&csrf, Some(&message)))
            .into_response();
    }
    let Form(fields) = match Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), &state).await
    {
        Ok(f) => f,
        Err(e) => return UiError::page(e.status(), "The form could not be read", e.body_text()).into_response(),
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
    match (expected.as_deref(), field(CSRF_FIELD).as_deref()) {
        (Some(e), Some(got)) if !e.is_empty() && constant_time_eq(e, got) => {}
        _ => return UiError::csrf().into_response(),
    }
    let token = field("token").unwrap_or_default();
    if token.is_empty() {
        return (StatusCode::UNPROCESSABLE_ENTITY, form(&csrf, Some("Paste a token to sign in."))).into_response();
    }
    match state.herald.start_session(&token).await {
        Ok(Some(session)) => {
            let mut resp = Redirect::to("/ui/webhooks").into_response();
            let h = resp.headers_mut();
            if let Ok(v) = set_cookie(SESSION_COOKIE, &session, None, secure).parse() {
                h.append(header::SET_COOKIE, v);
            }
            if let Ok(v) = set_cookie(SIGNIN_COOKIE, "", Some(0), secure).parse() {
                h.append(header::SET_COOKIE, v);
            }
            resp
        }
        Ok(None) => {
            state.signin_limiter.failed(ip, Instant::now());
            (
                StatusCode::UNAUTHORIZED,
                form(&csrf, Some("This token is not an application API key or the admin token.")),
            )
                .into_response()
        }
        Err(e) => UiError::from(e).into_response(),
    }
}

pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, Posted { ui, .. }: Posted) -> Response {
    if let Err(e) = ui.sign_out().await {
        return e.into_response();
    }
    let secure = is_https(&state.web, &headers);
    ([(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0), secure))], Redirect::to("/signin")).into_response()
}
