//! Contract §6.1: the paging envelope, its bounds, defaults and links, on every paged endpoint.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{TestApp, ADMIN};
use crate::{assert_422_naming, embedded_ids, send};

/// The query parameters of a link's `href`, decoded.
fn query_of(href: &str) -> (String, BTreeMap<String, String>) {
    let (path, query) = href.split_once('?').unwrap_or((href, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (path.to_string(), pairs)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                out.push(u8::from_str_radix(hex, 16).expect("percent escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8")
}

fn link(body: &Value, name: &str) -> Option<String> {
    body["_links"][name]["href"].as_str().map(str::to_string)
}

fn page_number_of(href: &str) -> String {
    query_of(href).1.get("pageNumber").cloned().unwrap_or_default()
}

const PAGED: [&str; 4] = ["/apps", "/installations", "/webhooks/subscriptions", "/webhooks/topics"];

#[tokio::test]
async fn a_page_size_out_of_range_answers_422_naming_page_size() {
    let app = TestApp::spawn().await;
    for path in PAGED {
        for bad in ["0", "101", "-1", "abc", "1.5", "99999999999"] {
            let q = format!("{path}?pageSize={bad}");
            let r = send(&app, Method::GET, &q, Some(ADMIN), &[], None).await;
            assert_422_naming(&r, "pageSize", &q);
        }
    }
}

#[tokio::test]
async fn a_page_number_out_of_range_answers_422_naming_page_number() {
    let app = TestApp::spawn().await;
    for path in PAGED {
        for bad in ["0", "-1", "abc", "2.0"] {
            let q = format!("{path}?pageNumber={bad}");
            let r = send(&app, Method::GET, &q, Some(ADMIN), &[], None).await;
            assert_422_naming(&r, "pageNumber", &q);
        }
    }
}

#[tokio::test]
async fn bounds_of_page_size_are_accepted() {
    let app = TestApp::spawn().await;
    for path in PAGED {
        for ok in ["1", "100"] {
            let (status, body) = app.client.get(&format!("{path}?pageSize={ok}"), ADMIN).await;
            assert_eq!(status, 200, "{path}?pageSize={ok}: {body}");
            assert_eq!(body["pageSize"], json!(ok.parse::<u32>().unwrap()), "{path}");
        }
    }
}

#[tokio::test]
async fn paging_defaults_to_page_1_of_25() {
    let app = TestApp::spawn().await;
    let (status, body) = app.client.get("/webhooks/topics", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pageNumber"], 1);
    assert_eq!(body["pageSize"], 25);
    assert_eq!(body["pageCount"], 25);
    assert_eq!(body["_embedded"].as_array().map(Vec::len), Some(25));
    assert_eq!(body["totalCount"], 51);
    assert_eq!(body["totalPageCount"], 3);
    assert!(link(&body, "next").is_some_and(|h| page_number_of(&h) == "2"), "{body}");
    assert!(link(&body, "prev").is_none(), "no prev on the first page: {body}");
    for path in PAGED {
        let (_, body) = app.client.get(path, ADMIN).await;
        assert_eq!((body["pageNumber"].clone(), body["pageSize"].clone()), (json!(1), json!(25)), "{path}: {body}");
    }
}

#[tokio::test]
async fn a_page_past_the_last_is_an_empty_page() {
    let app = TestApp::spawn().await;
    let (status, body) = app.client.get("/webhooks/topics?pageNumber=5&pageSize=25", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["_embedded"], json!([]));
    assert_eq!(body["pageCount"], 0);
    assert_eq!(body["pageNumber"], 5);
    assert_eq!(body["totalCount"], 51);
    assert_eq!(body["totalPageCount"], 3);
    assert!(link(&body, "next").is_none(), "no next past the last page: {body}");
    assert_eq!(link(&body, "last").map(|h| page_number_of(&h)), Some("3".into()), "{body}");
    assert_eq!(link(&body, "self").map(|h| page_number_of(&h)), Some("5".into()), "{body}");
    let (status, body) = app.client.get("/webhooks/subscriptions?pageNumber=3", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["_embedded"].clone(), body["totalCount"].clone()), (json!([]), json!(0)), "{body}");
}

#[tokio::test]
async fn an_empty_list_has_self_first_and_last_links() {
    let app = TestApp::spawn().await;
    for path in ["/apps", "/installations", "/webhooks/subscriptions"] {
        let (status, body) = app.client.get(path, ADMIN).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["_embedded"], json!([]), "{path}");
        assert_eq!((body["pageCount"].clone(), body["totalCount"].clone()), (json!(0), json!(0)), "{path}");
        for name in ["self", "first", "last"] {
            assert!(link(&body, name).is_some(), "{path}: {name} link in {body}");
        }
        assert!(link(&body, "next").is_none() && link(&body, "prev").is_none(), "{path}: {body}");
    }
}

#[tokio::test]
async fn links_walk_the_pages_and_keep_the_other_query_parameters() {
    let app = TestApp::spawn().await;
    let (a, _, _) = app.create_app("Paged", &["contacts.read"]).await;
    let (b, _, _) = app.create_app("Other", &["contacts.read"]).await;
    let mut created = Vec::new();
    for i in 0..5 {
        let hook = app.create_webhook(&a, &format!("https://example.com/{i}"), &["contacts.created"], &[]).await;
        created.push(hook["id"].as_str().unwrap().to_string());
    }
    // Noise: an inactive webhook of A and a webhook of B, both filtered out.
    app.create_webhook_with(json!({ "applicationId": a, "url": "https://example.com/off",
        "topicIds": ["contacts.created"], "active": false }))
        .await;
    app.create_webhook(&b, "https://example.com/b", &["contacts.created"], &[]).await;

    let first = format!("/webhooks/subscriptions?applicationId={a}&active=true&pageSize=2&pageNumber=2");
    let (status, body) = app.client.get(&first, ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pageNumber"], 2);
    assert_eq!(body["pageSize"], 2);
    assert_eq!(body["pageCount"], 2);
    assert_eq!(body["totalCount"], 5);
    assert_eq!(body["totalPageCount"], 3);
    for (name, number) in [("self", "2"), ("first", "1"), ("prev", "1"), ("next", "3"), ("last", "3")] {
        let href = link(&body, name).unwrap_or_else(|| panic!("{name} link missing in {body}"));
        let (path, q) = query_of(&href);
        assert_eq!(path, "/webhooks/subscriptions", "{name}: {href}");
        assert_eq!(q.get("pageNumber").map(String::as_str), Some(number), "{name}: {href}");
        assert_eq!(q.get("pageSize").map(String::as_str), Some("2"), "{name}: {href}");
        assert_eq!(q.get("applicationId"), Some(&a), "{name} keeps applicationId: {href}");
        assert_eq!(q.get("active").map(String::as_str), Some("true"), "{name} keeps active: {href}");
    }

    // Following the links from the first page walks every webhook once.
    let mut seen = Vec::new();
    let mut next = Some(format!("/webhooks/subscriptions?applicationId={a}&active=true&pageSize=2"));
    let mut pages = 0;
    while let Some(href) = next {
        let (status, body) = app.client.get(&href, ADMIN).await;
        assert_eq!(status, 200, "{href}: {body}");
        let items = embedded_ids(&body);
        assert_eq!(body["pageCount"], json!(items.len()), "{href}");
        assert_eq!(body["totalPageCount"], 3, "{href}");
        seen.extend(items);
        pages += 1;
        assert!(pages <= 3, "more pages than totalPageCount");
        next = link(&body, "next");
    }
    assert_eq!(pages, 3);
    let mut expected = created.clone();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected, "the pages hold A's five active webhooks, each once");

    let (_, last) = app
        .client
        .get(&format!("/webhooks/subscriptions?applicationId={a}&active=true&pageSize=2&pageNumber=3"), ADMIN)
        .await;
    assert_eq!(last["pageCount"], 1, "the last page holds the rest: {last}");
    assert!(link(&last, "next").is_none(), "{last}");
    assert_eq!(link(&last, "prev").map(|h| page_number_of(&h)), Some("2".into()), "{last}");
}

#[tokio::test]
async fn a_value_with_reserved_characters_survives_the_links() {
    let app = TestApp::spawn().await;
    let (a, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&a, "A&B=C D").await;
    let (status, body) = app.client.get("/installations?customerId=A%26B%3DC%20D&pageSize=1", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalCount"], 1, "{body}");
    let href = link(&body, "self").expect("self link");
    assert_eq!(query_of(&href).1.get("customerId").map(String::as_str), Some("A&B=C D"), "{href}");
    let (status, again) = app.client.get(&href, ADMIN).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["_embedded"], body["_embedded"], "the self link gives the same page");
}

#[tokio::test]
async fn applications_and_installations_are_paged_with_correct_totals() {
    let app = TestApp::spawn().await;
    let mut apps = Vec::new();
    for i in 0..5 {
        let (id, _, _) = app.create_app(&format!("App {i}"), &[]).await;
        app.install(&id, "RPT").await;
        apps.push(id);
    }
    for path in ["/apps", "/installations"] {
        let mut seen = Vec::new();
        for number in 1..=3 {
            let (status, body) = app.client.get(&format!("{path}?pageSize=2&pageNumber={number}"), ADMIN).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["totalCount"], 5, "{path}: {body}");
            assert_eq!(body["totalPageCount"], 3, "{path}: {body}");
            let items = embedded_ids(&body);
            assert_eq!(body["pageCount"], json!(items.len()), "{path}");
            assert_eq!(items.len(), if number < 3 { 2 } else { 1 }, "{path} page {number}");
            seen.extend(items);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5, "{path}: every item once");
    }
    let mut listed: Vec<String> = {
        let (_, body) = app.client.get("/apps?pageSize=100", ADMIN).await;
        embedded_ids(&body)
    };
    listed.sort();
    apps.sort();
    assert_eq!(listed, apps);
}
