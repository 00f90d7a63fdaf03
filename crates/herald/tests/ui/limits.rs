//! Limits on signing in: failed sign-ins per client address, live sessions per principal, and session lifetimes
//! (idle and absolute), with the service's clock moved forward instead of sleeping.

use std::time::Duration;

use herald_testkit::ui::{cookie_of, post_signin, sign_in, signin_form, ui_client};
use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER};

use crate::support::{TestApp, ADMIN};
use crate::Fixture;

/// The status of `GET /ui/webhooks` with this session cookie (200: signed in; 303: sent to sign in).
async fn page_status(base: &str, session: &str) -> u16 {
    let resp = ui_client().get(format!("{base}/ui/webhooks")).header(COOKIE, session).send().await.unwrap();
    resp.status().as_u16()
}

#[tokio::test]
async fn after_ten_failed_sign_ins_in_a_minute_an_address_gets_429_even_with_a_good_token() {
    let app = TestApp::spawn().await;
    let base = app.client.base.clone();
    let form = signin_form(&base).await;
    for i in 0..10 {
        let resp = post_signin(&base, &form, "hk_wrong").await;
        assert_eq!(resp.status(), 401, "failure {i} is an ordinary wrong token");
    }
    let resp = post_signin(&base, &form, ADMIN).await;
    assert_eq!(resp.status(), 429);
    assert!(cookie_of(&resp, "herald_session").is_none(), "no session starts");
    let wait: u64 = resp.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let page = resp.text().await.unwrap();
    assert!(page.contains("Too many failed sign-ins from your address"), "a clear message: {page}");
    app.stop().await;
}

#[tokio::test]
async fn signing_in_a_hundred_and_first_time_drops_the_principals_oldest_session() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let base = f.base();
    let form = signin_form(&base).await;
    let mut sessions = Vec::new();
    for _ in 0..101 {
        let resp = post_signin(&base, &form, &f.key).await;
        assert_eq!(resp.status(), 303);
        sessions.push(cookie_of(&resp, "herald_session").unwrap().0);
    }
    assert_eq!(page_status(&base, &sessions[0]).await, 303, "the oldest session was dropped");
    assert_eq!(page_status(&base, &sessions[1]).await, 200);
    assert_eq!(page_status(&base, &sessions[100]).await, 200);
    // Another principal's sessions do not count against this one.
    let (admin, _) = sign_in(&base, ADMIN).await;
    assert_eq!(page_status(&base, &admin).await, 200);
    assert_eq!(page_status(&base, &sessions[1]).await, 200);
    f.app.stop().await;
}

#[tokio::test]
async fn a_session_unused_for_twelve_hours_is_over_and_upkeep_deletes_it() {
    let app = TestApp::spawn().await;
    let base = app.client.base.clone();
    let herald = &app.running().herald;
    let (used, _) = sign_in(&base, ADMIN).await;
    let (idle, _) = sign_in(&base, ADMIN).await;
    herald.clock().advance(Duration::from_secs(11 * 3600));
    assert_eq!(page_status(&base, &used).await, 200, "used within 12 hours");
    herald.clock().advance(Duration::from_secs(3600 + 1));
    let report = herald.run_maintenance().await.unwrap();
    assert_eq!(report.expired_sessions, 1, "upkeep deletes the idle session only");
    assert_eq!(page_status(&base, &idle).await, 303);
    assert_eq!(page_status(&base, &used).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_session_in_use_ends_seven_days_after_sign_in() {
    let app = TestApp::spawn().await;
    let base = app.client.base.clone();
    let herald = &app.running().herald;
    let (session, _) = sign_in(&base, ADMIN).await;
    // Used every 11 hours: never idle, but 15 × 11 h = 165 h < 7 days.
    for _ in 0..15 {
        herald.clock().advance(Duration::from_secs(11 * 3600));
        assert_eq!(page_status(&base, &session).await, 200);
    }
    herald.clock().advance(Duration::from_secs(3 * 3600 + 1));
    let resp = ui_client().get(format!("{base}/ui/webhooks")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/signin");
    app.stop().await;
}

#[tokio::test]
async fn a_new_admin_token_ends_the_sessions_made_with_the_old_one() {
    let mut app = TestApp::spawn().await;
    let (session, _) = sign_in(&app.client.base, ADMIN).await;
    if let Some(r) = app.running.take() {
        r.stop().await;
    }
    // The same database, restarted with another admin token.
    let args = herald_config::ServeArgs {
        data_dir: Some(app.dir.path().display().to_string()),
        database_url: app.db.as_ref().map(|d| d.url().to_string()),
        ..herald_config::ServeArgs::default()
    };
    let cfg = args.resolve_with_env(|_| None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let restarted = herald::start(&cfg, "another-admin-token-0123456789", listener, false).await.unwrap();
    let base = format!("http://{}", restarted.addr);
    assert_eq!(page_status(&base, &session).await, 303, "the old token's session is over");
    let (fresh, _) = sign_in(&base, "another-admin-token-0123456789").await;
    assert_eq!(page_status(&base, &fresh).await, 200);
    restarted.stop().await;
}
