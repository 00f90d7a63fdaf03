//! The memory a log read costs, measured on a Herald child process: its peak resident set (`VmHWM` in
//! `/proc/<pid>/status`) before and after reading a page of logs whose records carry large payloads.

use std::path::Path;
use std::time::{Duration, Instant};

use herald_testkit::{Behaviour, Client, HeraldProcess, Receiver};
use serde_json::{json, Value};

use crate::support::{Backend, ADMIN};

const BIN: &str = env!("CARGO_BIN_EXE_herald");

/// The process's peak resident set, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("a VmHWM line");
    let kb: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmHWM in kB");
    kb * 1024
}

#[tokio::test]
async fn reading_logs_of_large_payloads_costs_about_one_page_of_memory_not_every_record() {
    const CHANGES: u64 = 40;
    const PAYLOAD: usize = 900 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let db = Backend::from_env().database().await;
    let mut flags = vec!["--allow-http-targets", "--allow-private-targets"];
    if let Some(db) = &db {
        flags.extend(["--database-url", db.url(), "--encryption-key", crate::support::TEST_ENCRYPTION_KEY]);
    }
    let herald = HeraldProcess::start(Path::new(BIN), dir.path(), ADMIN, &flags).await;
    let client = Client::new(herald.base.clone());
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let (s, app) = client.post("/apps", ADMIN, json!({ "name": "Big", "scopes": ["contacts.read"] })).await;
    assert_eq!(s, 201, "{app}");
    let app_id = app["id"].as_str().unwrap();
    let (s, _) = client.post("/installations", ADMIN, json!({ "applicationId": app_id, "customerId": "RPT" })).await;
    assert_eq!(s, 201);
    let hook = json!({ "applicationId": app_id, "url": receiver.url(), "topicIds": ["contacts.created"] });
    assert_eq!(client.post("/webhooks/subscriptions", ADMIN, hook).await.0, 201);
    let filler = "x".repeat(PAYLOAD);
    for i in 0..CHANGES {
        let id = format!("BIG{i:03}");
        let change = json!({ "customerId": "RPT", "entityType": "contacts", "entityId": id, "old": null,
                             "new": { "id": id, "notes": filler } });
        assert_eq!(client.post("/changes", ADMIN, change).await.0, 202);
    }
    // Every attempt recorded (counted without reading a payload).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, counts) = client.get("/analytics/deliveries?groupBy=webhook", ADMIN).await;
        let attempts: u64 = counts.as_array().into_iter().flatten().filter_map(|c| c["attempts"].as_u64()).sum();
        if attempts >= CHANGES {
            break;
        }
        assert!(Instant::now() < deadline, "attempts not recorded: {counts}");
        // Real I/O: the child Herald records attempts in batches, a moment after the receiver answered.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let pid = herald.child.id();
    let before = peak_rss(pid);
    let resp = reqwest::Client::new()
        .get(format!("{}/webhooks/logs?limit=1000", herald.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let linked = resp.headers().contains_key("link");
    let page: Vec<Value> = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    let grew = peak_rss(pid).saturating_sub(before);
    let all = CHANGES * PAYLOAD as u64;
    eprintln!(
        "a page of {} records raised the peak RSS by {} MiB ({} MiB of payloads in all)",
        page.len(),
        grew >> 20,
        all >> 20
    );
    assert!(linked, "36 MiB of payloads do not fit one page");
    // A page costs a few copies of its 8 MiB (the records, their JSON answer). Reading every record, as before,
    // raised the peak by 181 MiB here, five times the 36 MiB of payloads.
    let bound = 8 * herald_service::LOG_PAGE_BYTES;
    assert!(grew < bound, "the peak RSS grew by {} MiB, over {} MiB", grew >> 20, bound >> 20);
}
