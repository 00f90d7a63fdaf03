//! Web UI sessions across nodes: they live in the shared database, so a load balancer needs no sticky sessions.

use herald_testkit::pg;
use herald_testkit::ui::{csrf_of, sign_in, ui_client};
use reqwest::header::{COOKIE, LOCATION};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_one_node_works_on_the_other_and_sign_out_ends_it_on_both() {
    if pg::skipped() {
        return;
    }
    let cluster = Cluster::start(&NodeOpts::default()).await;
    let (a, b) = (&cluster.base_a(), &cluster.base_b());
    let (app, _) = app_installed(&cluster.a.client).await;
    let (session, csrf) = sign_in(a, ADMIN).await;
    let c = ui_client();

    // A page on node B.
    let page = c.get(format!("{b}/ui/webhooks?app={app}")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(page.status(), 200, "node B knows the session");
    assert_eq!(csrf_of(&page.text().await.unwrap()), csrf, "with the same CSRF token");

    // A CSRF-protected form on node B, its message shown on node A.
    let form = [
        ("csrf", csrf.as_str()),
        ("app", app.as_str()),
        ("url", "https://example.com/hook"),
        ("topicIds", "contacts.created"),
    ];
    let created = c.post(format!("{b}/ui/webhooks/new")).header(COOKIE, &session).form(&form).send().await.unwrap();
    assert_eq!(created.status(), 303, "the form is accepted on node B");
    let next = c.get(format!("{a}/ui/webhooks?app={app}")).header(COOKIE, &session).send().await.unwrap();
    let next = next.text().await.unwrap();
    assert!(next.contains("Webhook created for https://example.com/hook"), "the flash message crosses nodes");

    // Signing out on node B ends the session on node A too.
    let out = c.post(format!("{b}/signout")).header(COOKIE, &session).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(out.status(), 303);
    for base in [a, b] {
        let after = c.get(format!("{base}/ui/webhooks")).header(COOKIE, &session).send().await.unwrap();
        assert_eq!(after.status(), 303, "{base}: signed out");
        assert_eq!(after.headers()[LOCATION], "/signin");
    }
    cluster.stop().await;
}
