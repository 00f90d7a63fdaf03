//! A headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`): one chromedriver and one
//! fresh browser profile per test, killed when the test ends. Waits poll the DOM until a condition holds or a
//! timeout passes; there are no fixed sleeps.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a wait for the page may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    pub client: Client,
    pub base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver runs in a process group of its own with the browser it started: ending the group ends both,
        // also when a test panics before closing its session.
        let _ = Command::new("kill").args(["-s", "KILL", "--"]).arg(format!("-{}", self.driver.id())).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where screenshots go: `<target dir>/ui-screenshots`, printed once per test run.
pub fn screenshot_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.parent().map(|p| p.join("ui-screenshots")).unwrap_or_else(|| tmp.join("ui-screenshots"));
        std::fs::create_dir_all(&dir).expect("create the screenshot folder");
        let dir = dir.canonicalize().unwrap_or(dir);
        // Written to stderr directly so that it shows even though the test harness captures `println!`.
        let _ = writeln!(std::io::stderr(), "UI screenshots: {}", dir.display());
        dir
    })
    .clone()
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session for the Herald at `base`.
    pub async fn start(base: &str) -> Browser {
        for bin in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: install Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
            );
        }
        let profile = tempfile::tempdir().expect("browser profile dir");
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }))
        .expect("capabilities");
        let deadline = Instant::now() + Duration::from_secs(60);
        // chromedriver refuses connections until it listens; a session attempt is the readiness probe. A driver that
        // exits first (its port taken between `free_port` and its bind, by a test running beside) is started again
        // on another port.
        let (client, driver) = 'start: loop {
            let port = herald_testkit::free_port();
            let mut driver = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("start chromedriver");
            let url = format!("http://127.0.0.1:{port}");
            loop {
                match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&url).await {
                    Ok(c) => break 'start (c, driver),
                    Err(e) if Instant::now() >= deadline => panic!("no WebDriver session from chromedriver: {e}"),
                    Err(_) if matches!(driver.try_wait(), Ok(Some(_))) => continue 'start,
                    // Real I/O: chromedriver is starting and not yet accepting sessions.
                    Err(_) => tokio::time::sleep(POLL).await,
                }
            }
        };
        let mut browser = Browser { client, base: base.to_string(), driver, _profile: profile };
        browser.resize(DESKTOP).await;
        browser
    }

    pub async fn resize(&mut self, (w, h): (u32, u32)) {
        self.client.set_window_size(w, h).await.expect("resize the window");
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{}", self.base, path)).await.expect("navigate");
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Polls `check` until it gives a value.
    pub async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() > deadline {
                let page = self.client.source().await.unwrap_or_default();
                panic!("timed out waiting for {what} on {}\n{page}", self.path().await);
            }
            // Real I/O: the browser renders the page asynchronously; poll it until the deadline.
            tokio::time::sleep(POLL).await;
        }
    }

    /// The element matching `css`, once it is in the page.
    pub async fn find(&self, css: &str) -> Element {
        self.until(&format!("element {css}"), || async { self.client.find(Locator::Css(css)).await.ok() }).await
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.expect("find elements")
    }

    /// The text of `css`, once it contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        self.until(&format!("{needle:?} in {css}"), || async {
            let el = self.client.find(Locator::Css(css)).await.ok()?;
            let text = el.text().await.ok()?;
            text.contains(needle).then_some(text)
        })
        .await
    }

    /// Waits until the page is `path` (without its query).
    pub async fn wait_path(&self, path: &str) {
        self.until(&format!("page {path}"), || async {
            let url = self.client.current_url().await.ok()?;
            (url.path() == path && self.ready().await).then_some(())
        })
        .await
    }

    async fn ready(&self) -> bool {
        self.client
            .execute("return document.readyState", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(|s| s == "complete"))
            .unwrap_or(false)
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clears a text field and types `value`.
    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.clear().await.expect("clear the field");
        el.send_keys(value).await.expect("type into the field");
    }

    /// Sets a checkbox to `on` by clicking it when needed.
    pub async fn check(&self, css: &str, on: bool) {
        let el = self.find(css).await;
        if el.is_selected().await.expect("checkbox state") != on {
            el.click().await.expect("click the checkbox");
        }
    }

    pub async fn is_checked(&self, css: &str) -> bool {
        self.find(css).await.is_selected().await.expect("checkbox state")
    }

    pub async fn value(&self, css: &str) -> String {
        self.find(css).await.prop("value").await.expect("value").unwrap_or_default()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// Signs in with a token through the sign-in form.
    pub async fn sign_in(&self, token: &str) {
        self.goto("/signin").await;
        self.fill("#token", token).await;
        self.click("#signin-form button[type=submit]").await;
        self.wait_path("/ui/webhooks").await;
    }

    /// The session cookie, to fetch what the browser would (a download) with another client.
    pub async fn session_cookie(&self) -> String {
        let c = self.client.get_named_cookie("herald_session").await.expect("session cookie");
        format!("herald_session={}", c.value())
    }

    /// Saves a screenshot of the whole page as `<name>.png` in [`screenshot_dir`], at the current window width.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let (w, h) = self.client.get_window_size().await.expect("window size");
        let full = self
            .client
            .execute("window.scrollTo(0, 0); return document.documentElement.scrollHeight", vec![])
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(h)
            .clamp(h, 4000);
        self.client.set_window_size(w as u32, full as u32).await.expect("grow the window");
        let png = self.client.screenshot().await.expect("screenshot");
        self.client.set_window_size(w as u32, h as u32).await.expect("restore the window");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("save the screenshot");
        path
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}
