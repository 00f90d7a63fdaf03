//! The web UI over plain HTTP, as a browser would use it without following redirects: the sign-in form (with its
//! double-submit cookie), the session cookie, and the CSRF token of a page.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

/// A client that does not follow redirects (a test looks at the `303`s).
pub fn ui_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().expect("an HTTP client")
}

/// The value of `name="csrf"` in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap_or_default().to_string()
}

/// The `name=value` part of a `Set-Cookie` for `name`, and the whole header.
pub fn cookie_of(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap_or_default().to_string(), v.to_string()))
}

/// The sign-in form's cookie and CSRF token, from `GET /signin`.
pub async fn signin_form(base: &str) -> (String, String) {
    let page = ui_client().get(format!("{base}/signin")).send().await.expect("GET /signin");
    let (cookie, _) = cookie_of(&page, "herald_signin").expect("a sign-in cookie");
    let csrf = csrf_of(&page.text().await.expect("the sign-in page"));
    (cookie, csrf)
}

/// Posts the sign-in form with `token`.
pub async fn post_signin(base: &str, form: &(String, String), token: &str) -> reqwest::Response {
    ui_client()
        .post(format!("{base}/signin"))
        .header(COOKIE, &form.0)
        .form(&[("csrf", form.1.as_str()), ("token", token)])
        .send()
        .await
        .expect("POST /signin")
}

/// Signs in over HTTP; returns the session cookie (`herald_session=...`) and the CSRF token of its pages.
pub async fn sign_in(base: &str, token: &str) -> (String, String) {
    let form = signin_form(base).await;
    let resp = post_signin(base, &form, token).await;
    assert_eq!(resp.status(), 303, "sign-in");
    let (session, _) = cookie_of(&resp, "herald_session").expect("a session cookie");
    let page = ui_client().get(format!("{base}/ui/webhooks")).header(COOKIE, &session).send().await.expect("a page");
    assert_eq!(page.status(), 200);
    let csrf = csrf_of(&page.text().await.expect("the page"));
    (session, csrf)
}
