//! The UI's session and CSRF rules over plain HTTP (no browser): pages need a session, posts need the session's
//! CSRF token, the session cookie is `HttpOnly; SameSite=Strict`, and an application key sees only its own.

use herald_testkit::ui::{cookie_of, csrf_of, sign_in, ui_client};
use reqwest::header::{COOKIE, LOCATION};

use crate::support::{TestApp, ADMIN};
use crate::Fixture;

fn client() -> reqwest::Client {
    ui_client()
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_sign_in() {
    let app = TestApp::spawn().await;
    let base = &app.client.base;
    for path in [
        "/",
        "/ui/webhooks",
        "/ui/webhooks/new",
        "/ui/webhooks/0190a0e0-0000-7000-8000-000000000000/edit",
        "/ui/logs",
        "/ui/logs/export.csv",
        "/ui/logs/attempt?delivery=x&attempt=1",
        "/ui/about",
    ] {
        let resp = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(resp.headers()[LOCATION], "/signin", "{path}");
    }
    // A stale or made-up session cookie is no session.
    let resp = client()
        .get(format!("{base}/ui/webhooks"))
        .header(COOKIE, "herald_session=0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let page = client().get(format!("{base}/signin")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    app.stop().await;
}

#[tokio::test]
async fn a_post_without_the_session_csrf_token_is_refused() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let base = f.base();
    let (session, csrf) = sign_in(&base, &f.key).await;
    let form = |token: &str| {
        vec![
            ("csrf", token.to_string()),
            ("app", f.app_id.clone()),
            ("url", "https://example.com/hook".to_string()),
            ("topicIds", "contacts.created".to_string()),
        ]
    };
    let post = |cookie: Option<String>, body: Vec<(&'static str, String)>| {
        let mut req = client().post(format!("{base}/ui/webhooks/new")).form(&body);
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        req.send()
    };
    for (what, cookie, body) in [
        ("a wrong token", Some(session.clone()), form("0000")),
        ("no token", Some(session.clone()), form("").into_iter().filter(|(k, _)| *k != "csrf").collect()),
        ("no session", None, form(&csrf)),
    ] {
        let resp = post(cookie, body).await.unwrap();
        assert_eq!(resp.status(), 403, "{what}");
        assert!(resp.text().await.unwrap().contains("Request refused"), "{what}: a 403 page");
    }
    assert!(f.api_webhooks().await.is_empty(), "nothing was created");
    // Another session's token does not do either.
    let (_, other_csrf) = sign_in(&base, &f.key).await;
    assert_eq!(post(Some(session.clone()), form(&other_csrf)).await.unwrap().status(), 403);
    // With the session's token the same form works.
    let ok = post(Some(session.clone()), form(&csrf)).await.unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(f.api_webhooks().await.len(), 1);
    // Sign-out needs the token too.
    let out = client().post(format!("{base}/signout")).header(COOKIE, &session).form(&[("csrf", "x")]).send().await;
    assert_eq!(out.unwrap().status(), 403);
    // The sign-in form needs its double-submit cookie.
    let resp = client().post(format!("{base}/signin")).form(&[("csrf", "abc"), ("token", ADMIN)]).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(cookie_of(&resp, "herald_session").is_none());
    f.app.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_strict_and_ends_at_sign_out() {
    let app = TestApp::spawn().await;
    let base = app.client.base.clone();
    let c = client();
    let page = c.get(format!("{base}/signin")).send().await.unwrap();
    let (signin_cookie, _) = cookie_of(&page, "herald_signin").unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let bad = c
        .post(format!("{base}/signin"))
        .header(COOKIE, &signin_cookie)
        .form(&[("csrf", csrf.as_str()), ("token", "not-a-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(cookie_of(&bad, "herald_session").is_none());
    assert!(bad.text().await.unwrap().contains("id=\"token-error\""), "the error is next to the field");

    let resp = c
        .post(format!("{base}/signin"))
        .header(COOKIE, &signin_cookie)
        .form(&[("csrf", csrf.as_str()), ("token", ADMIN)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (session, attrs) = cookie_of(&resp, "herald_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(attr), "{attr} in {attrs}");
    }
    let page = c.get(format!("{base}/ui/webhooks")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let csrf = csrf_of(&page.text().await.unwrap());
    let out = c.post(format!("{base}/signout")).header(COOKIE, &session).form(&[("csrf", csrf)]).send().await.unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()[LOCATION], "/signin");
    let after = c.get(format!("{base}/ui/webhooks")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(after.status(), 303, "the session is gone on the server too");
    app.stop().await;
}

#[tokio::test]
async fn an_application_key_sees_only_its_own_application() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let (other, _, _) = f.app.create_app("Other Agency", &["contacts.read"]).await;
    let theirs = f.app.create_webhook(&other, "https://other.example.com/hook", &["contacts.created"], &[]).await;
    let base = f.base();
    let (session, _) = sign_in(&base, &f.key).await;
    let get = |path: String| client().get(format!("{base}{path}")).header(COOKIE, &session).send();
    let page = get(format!("/ui/webhooks?app={other}")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Acme Lettings") && !page.contains("Other Agency"), "asking for another app shows its own");
    assert!(!page.contains("other.example.com"));
    let id = theirs["id"].as_str().unwrap();
    for path in
        [format!("/ui/webhooks/{id}/edit"), format!("/ui/webhooks/{id}/ping"), format!("/ui/webhooks/{id}/delete")]
    {
        assert_eq!(get(path.clone()).await.unwrap().status(), 404, "{path}");
    }
    f.app.stop().await;
}

#[tokio::test]
async fn the_filtered_logs_export_as_csv() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let receiver = herald_testkit::Receiver::start(herald_testkit::Behaviour::Status(200)).await;
    let hook = f.app.create_webhook(&f.app_id, &receiver.url(), &["contacts.created"], &[]).await;
    let (s, _) = f
        .app
        .client
        .post(
            &format!("/webhooks/subscriptions/{}/ping", hook["id"].as_str().unwrap()),
            ADMIN,
            serde_json::json!({"topicId": "contacts.created"}),
        )
        .await;
    assert_eq!(s, 200);
    let base = f.base();
    let (session, _) = sign_in(&base, &f.key).await;
    let get = |q: &str| client().get(format!("{base}/ui/logs/export.csv?{q}")).header(COOKIE, &session).send();
    let resp = get("").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("timeStamp,webhookId,deliveryId,url,topicId"), "{text}");
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].contains(&receiver.url()) && lines[1].contains(",contacts.created,webhook-test,"), "{text}");
    assert!(lines[1].contains(",200,delivered,"), "{text}");
    // The filters apply: no failures.
    let none = get("status=failure").await.unwrap().text().await.unwrap();
    assert_eq!(none.lines().count(), 1, "{none}");
    f.app.stop().await;
}

#[tokio::test]
async fn the_admin_rotates_an_api_key_and_deletes_an_application_on_the_applications_page() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let base = f.base();
    let id = f.app_id.clone();
    let key_status = |key: String| {
        let base = base.clone();
        async move {
            let resp = client().get(format!("{base}/webhooks/subscriptions")).bearer_auth(key).send().await.unwrap();
            resp.status().as_u16()
        }
    };
    let (session, csrf) = sign_in(&base, ADMIN).await;
    let get = |path: String| client().get(format!("{base}{path}")).header(COOKIE, &session).send();
    let post = |path: String, form: Vec<(&'static str, String)>| {
        client().post(format!("{base}{path}")).header(COOKIE, &session).form(&form).send()
    };
    let list = get("/ui/apps".into()).await.unwrap();
    assert_eq!(list.status(), 200);
    let html = list.text().await.unwrap();
    let rotate = format!("/ui/apps/{id}/api-key/rotate");
    assert!(html.contains("Acme Lettings") && html.contains(&rotate), "the application with its rotate form");
    assert!(html.contains(&format!("/ui/apps/{id}/delete")), "and its delete link");

    let refused = post(rotate.clone(), vec![("csrf", "0000".into()), ("gracePeriod", "0s".into())]).await.unwrap();
    assert_eq!(refused.status(), 403, "a rotation without the session's CSRF token");
    assert_eq!(key_status(f.key.clone()).await, 200, "nothing rotated");
    let rotated = post(rotate, vec![("csrf", csrf.clone()), ("gracePeriod", "0s".into())]).await.unwrap();
    assert_eq!(rotated.status(), 200);
    let html = rotated.text().await.unwrap();
    let at = html.find("id=\"new-api-key\">").expect("the new key is shown") + "id=\"new-api-key\">".len();
    let new_key = html[at..].split('<').next().unwrap().to_string();
    assert!(new_key.starts_with("hk_"), "{new_key}");
    assert_eq!((key_status(f.key.clone()).await, key_status(new_key.clone()).await), (401, 200));

    let confirm = get(format!("/ui/apps/{id}/delete")).await.unwrap();
    assert_eq!(confirm.status(), 200);
    assert!(confirm.text().await.unwrap().contains("Delete application"));
    let refused = post(format!("/ui/apps/{id}/delete"), vec![("csrf", "0000".into())]).await.unwrap();
    assert_eq!(refused.status(), 403, "a deletion without the session's CSRF token");
    let deleted = post(format!("/ui/apps/{id}/delete"), vec![("csrf", csrf.clone())]).await.unwrap();
    assert_eq!(deleted.status(), 303);
    assert_eq!(deleted.headers()[LOCATION], "/ui/apps");
    assert_eq!(key_status(new_key).await, 401, "the deleted application's key stops");
    let (status, _) = f.app.client.get(&format!("/apps/{id}"), ADMIN).await;
    assert_eq!(status, 404);

    let other = Fixture::new(TestApp::spawn().await).await;
    let other_base = other.base();
    let (app_session, _) = sign_in(&other_base, &other.key).await;
    let page = client().get(format!("{other_base}/ui/apps")).header(COOKIE, &app_session).send().await.unwrap();
    assert_eq!(page.status(), 403, "an application key has no applications page");
    f.app.stop().await;
    other.app.stop().await;
}

#[tokio::test]
async fn a_log_date_beyond_the_year_9999_is_a_field_error_on_the_page_not_a_panic() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let base = f.base();
    let (session, _) = sign_in(&base, &f.key).await;
    for (query, field) in [("to=%2B262142-12-31", "to"), ("from=%2B262142-12-31", "from"), ("to=9999-12-31", "")] {
        let resp = client().get(format!("{base}/ui/logs?{query}")).header(COOKIE, &session).send().await.unwrap();
        let status = resp.status().as_u16();
        let page = resp.text().await.unwrap();
        if field.is_empty() {
            assert_eq!(status, 200, "{query}: the last day there is");
            continue;
        }
        assert_eq!(status, 422, "{query}");
        assert!(page.contains(&format!("id=\"{field}-error\"")), "{query}: the error is next to the field");
        assert!(page.contains("must be a date from 0001-01-01 to 9999-12-31"), "{query}");
    }
    let csv = client().get(format!("{base}/ui/logs/export.csv?to=%2B262142-12-31")).header(COOKIE, &session).send();
    assert_eq!(csv.await.unwrap().status(), 422);
    f.app.stop().await;
}
