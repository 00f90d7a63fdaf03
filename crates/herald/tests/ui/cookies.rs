//! The `Secure` flag of the UI's cookies: set when Herald is reached over https (an https `--public-url`, or
//! `X-Forwarded-Proto: https` from a `--trusted-proxy`), never because a client claims https on its own.

use herald_testkit::ui::{cookie_of, csrf_of, ui_client};
use reqwest::header::COOKIE;

use crate::support::{Opts, TestApp, ADMIN};

/// Signs in with `forwarded_proto` (when given) on both requests; returns the `Set-Cookie` headers of the sign-in
/// cookie and of the session cookie.
async fn cookies(app: &TestApp, forwarded_proto: Option<&str>) -> (String, String) {
    let base = &app.client.base;
    let with = |req: reqwest::RequestBuilder| match forwarded_proto {
        Some(p) => req.header("x-forwarded-proto", p),
        None => req,
    };
    let page = with(ui_client().get(format!("{base}/signin"))).send().await.unwrap();
    let (signin, signin_attrs) = cookie_of(&page, "herald_signin").unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let resp = with(ui_client().post(format!("{base}/signin")))
        .header(COOKIE, signin)
        .form(&[("csrf", csrf.as_str()), ("token", ADMIN)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (_, session_attrs) = cookie_of(&resp, "herald_session").unwrap();
    (signin_attrs, session_attrs)
}

fn secure(set_cookie: &str) -> bool {
    set_cookie.split(';').any(|attr| attr.trim() == "Secure")
}

#[tokio::test]
async fn cookies_are_secure_with_an_https_public_url() {
    let app = TestApp::with(Opts { public_url: Some("https://herald.example.com"), ..Opts::default() }).await;
    let (signin, session) = cookies(&app, None).await;
    assert!(secure(&signin), "{signin}");
    assert!(secure(&session), "{session}");
    app.stop().await;
}

#[tokio::test]
async fn cookies_are_not_secure_without_a_public_url_even_if_the_client_claims_https() {
    let app = TestApp::spawn().await;
    let (signin, session) = cookies(&app, None).await;
    assert!(!secure(&signin) && !secure(&session), "{signin} / {session}");
    let (signin, session) = cookies(&app, Some("https")).await;
    assert!(!secure(&signin) && !secure(&session), "X-Forwarded-Proto from an untrusted peer: {signin} / {session}");
    app.stop().await;
    let http = TestApp::with(Opts { public_url: Some("http://herald.internal:8080"), ..Opts::default() }).await;
    let (_, session) = cookies(&http, None).await;
    assert!(!secure(&session), "an http public URL: {session}");
    http.stop().await;
}

#[tokio::test]
async fn cookies_follow_x_forwarded_proto_from_a_trusted_proxy() {
    let app = TestApp::with(Opts { trusted_proxy: true, ..Opts::default() }).await;
    let (signin, session) = cookies(&app, Some("https")).await;
    assert!(secure(&signin) && secure(&session), "{signin} / {session}");
    let (signin, session) = cookies(&app, Some("http")).await;
    assert!(!secure(&signin) && !secure(&session), "{signin} / {session}");
    let (_, session) = cookies(&app, None).await;
    assert!(!secure(&session), "{session}");
    app.stop().await;
}
