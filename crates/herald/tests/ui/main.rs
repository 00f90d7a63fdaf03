//! Tests of Herald's web UI: browser tests in headless Chromium over WebDriver (sign-in, manage, form, ping, logs,
//! redeliver, sign-out) and plain HTTP tests of the session and CSRF rules. Each test runs its own Herald on
//! 127.0.0.1:0 with a fresh SQLite file and real receivers on loopback. Screenshots of the main pages are saved to
//! `<target dir>/ui-screenshots` (the path is printed when the first one is taken).

#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

mod alerts;
mod browser;
mod cookies;
mod http;
mod limits;
mod logs;
mod manage;
mod signin;

use serde_json::Value;
use support::{TestApp, ADMIN};

/// The scopes test applications hold.
pub const SCOPES: &[&str] = &["contacts.read", "offers.read"];

/// An application with one installed customer (`RPT`, "RPT Estates").
pub struct Fixture {
    pub app: TestApp,
    pub app_id: String,
    pub key: String,
}

impl Fixture {
    pub async fn new(app: TestApp) -> Fixture {
        let (app_id, key, _) = app.create_app("Acme Lettings", SCOPES).await;
        app.install(&app_id, "RPT").await;
        Fixture { app, app_id, key }
    }

    pub fn base(&self) -> String {
        self.app.client.base.clone()
    }

    /// The application's webhooks as the API lists them.
    pub async fn api_webhooks(&self) -> Vec<Value> {
        let (status, body) =
            self.app.client.get(&format!("/webhooks/subscriptions?applicationId={}", self.app_id), ADMIN).await;
        assert_eq!(status, 200, "{body}");
        body["_embedded"].as_array().cloned().unwrap_or_default()
    }
}
