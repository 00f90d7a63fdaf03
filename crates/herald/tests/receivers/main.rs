//! The receiver examples of `examples/receivers` (Python, Node, Rust) verifying real deliveries from a Herald in the
//! same test, and docs/RECEIVERS.md quoting them faithfully.
//!
//! The Python and Node receivers run as subprocesses (`target/receivers-venv/bin/python receiver.py 0`,
//! `node receiver.mjs 0`); what they need is installed by `scripts/receivers-setup`, which these tests run when it
//! is missing. A missing `python3`, `node` or `npm` fails the tests: they never skip. The Rust receiver is the
//! example crate's library, served in-process by the same `serve` as its binary.

#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use support::*;

/// A valid Standard Webhooks secret that no Herald webhook has.
const WRONG_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

fn venv() -> PathBuf {
    std::env::var_os("HERALD_RECEIVERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/receivers-venv"))
}

/// Runs `scripts/receivers-setup <what>` once per test binary (it does nothing when all is installed).
fn setup(what: &'static str) {
    static PYTHON: OnceLock<Result<(), String>> = OnceLock::new();
    static NODE: OnceLock<Result<(), String>> = OnceLock::new();
    let once = if what == "python" { &PYTHON } else { &NODE };
    let result = once.get_or_init(|| {
        let started = Instant::now();
        let out = std::process::Command::new(repo_root().join("scripts/receivers-setup"))
            .arg(what)
            .env("HERALD_RECEIVERS_VENV", venv())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run scripts/receivers-setup: {e}"))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        eprintln!("scripts/receivers-setup {what} ({:.1?}): {}", started.elapsed(), text.trim());
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("scripts/receivers-setup {what} failed ({}):\n{text}", out.status))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[derive(Clone, Copy, Debug)]
enum Lang {
    Python,
    Node,
    Rust,
}

/// A running example receiver and what it printed.
struct Receiver {
    lang: Lang,
    url: String,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    process: Mutex<Option<tokio::process::Child>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

fn collect<R: tokio::io::AsyncRead + Unpin + Send + 'static>(from: R, into: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(from).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            into.lock().unwrap().push(line);
        }
    });
}

impl Receiver {
    /// Starts the example receiver of `lang` on a free loopback port with this configuration.
    async fn start(lang: Lang, secret: &str, public_x: &str, client_id: &str) -> Receiver {
        let examples = repo_root().join("examples/receivers");
        let mut command = match lang {
            Lang::Rust => return Self::start_in_process(secret, public_x, client_id).await,
            Lang::Python => {
                setup("python");
                let mut c = tokio::process::Command::new(venv().join("bin/python"));
                c.arg("receiver.py").current_dir(examples.join("python"));
                c
            }
            Lang::Node => {
                setup("node");
                let mut c = tokio::process::Command::new("node");
                c.arg("receiver.mjs").current_dir(examples.join("node"));
                c
            }
        };
        command
            .arg("0")
            .env("HERALD_SECRET", secret)
            .env("HERALD_PUBLIC_KEY", public_x)
            .env("HERALD_CLIENT_ID", client_id)
            .env("HOST", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child =
            command.spawn().unwrap_or_else(|e| panic!("cannot start the {lang:?} receiver {command:?}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), lines.clone());
        collect(child.stderr.take().unwrap(), stderr.clone());
        let mut receiver =
            Receiver { lang, url: String::new(), lines, stderr, process: Mutex::new(Some(child)), server: None };
        let first = receiver.wait_line(0, Duration::from_secs(30)).await;
        let address = first.strip_prefix("listening on ").unwrap_or_else(|| panic!("{lang:?} receiver said {first:?}"));
        receiver.url = format!("{address}/hook");
        receiver
    }

    async fn start_in_process(secret: &str, public_x: &str, client_id: &str) -> Receiver {
        let verifier = herald_receiver_example::Verifier::new(secret, public_x, client_id).expect("verifier");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let lines = Arc::new(Mutex::new(vec![format!("listening on {url}")]));
        let sink = lines.clone();
        let output: herald_receiver_example::Output = Arc::new(move |line| sink.lock().unwrap().push(line));
        let server = tokio::spawn(async move {
            herald_receiver_example::serve(listener, verifier, output).await.expect("serve");
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        Receiver { lang: Lang::Rust, url, lines, stderr, process: Mutex::new(None), server: Some(server) }
    }

    /// The `n`th line the receiver printed (0 is its `listening on` line), waiting for it up to `timeout`.
    async fn wait_line(&self, n: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines.lock().unwrap().get(n) {
                return line.clone();
            }
            let exited = self.process.lock().unwrap().as_mut().and_then(|p| p.try_wait().ok().flatten());
            if exited.is_some() {
                // let the readers take what it printed last
                // Real I/O: the reader threads still hold what the exited receiver printed last.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "the {:?} receiver did not print line {n} ({}); stdout: {:?}; stderr:\n{}",
                    self.lang,
                    exited.map_or(format!("waited {timeout:?}"), |status| format!("it exited: {status}")),
                    self.lines.lock().unwrap(),
                    self.stderr.lock().unwrap().join("\n")
                );
            }
            // Real I/O: waiting for the receiver process to print its next line.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A Herald with an application and a `contacts.modified` webhook for the sandbox customer.
struct Setup {
    app: TestApp,
    app_id: String,
    key: String,
    client_id: String,
    public_x: String,
    webhook_id: String,
    secret: String,
}

impl Setup {
    async fn new() -> Setup {
        let app = TestApp::spawn().await;
        let (app_id, key, client_id) = app.create_app("Receiver", &["contacts.read"]).await;
        let public_x = public_key(&app, &app_id, &key).await;
        // The secret exists only once the webhook does: it points nowhere until a receiver holding it listens.
        let hook = app.create_webhook(&app_id, "http://127.0.0.1:9/hook", &["contacts.modified"], &["SBOX"]).await;
        let webhook_id = hook["id"].as_str().unwrap().to_string();
        let secret = hook["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"), "{hook}");
        Setup { app, app_id, key, client_id, public_x, webhook_id, secret }
    }

    async fn point_at(&self, receiver: &Receiver) {
        let body = json!({"url": receiver.url, "topicIds": ["contacts.modified"], "customerIds": ["SBOX"]});
        let (status, out) =
            self.app.client.put(&format!("/webhooks/subscriptions/{}", self.webhook_id), ADMIN, body).await;
        assert_eq!(status, 204, "{out}");
    }

    /// Publishes the seed's contact change, delivers it to `receiver` and returns the line the receiver printed
    /// and the status code Herald's logs recorded for the attempt.
    async fn deliver_to(&self, receiver: &Receiver) -> (String, Value) {
        self.point_at(receiver).await;
        let printed = receiver.lines.lock().unwrap().len();
        self.app.publish(seed_contact_change("SBOX")).await;
        assert_eq!(self.app.deliver().await, 1, "one delivery attempt");
        let line = receiver.wait_line(printed, Duration::from_secs(10)).await;
        let query = format!("/webhooks/logs?applicationId={}&webhookId={}", self.app_id, self.webhook_id);
        let (status, logs) = self.app.client.get(&query, &self.key).await;
        assert_eq!(status, 200, "{logs}");
        let records: Vec<&Value> =
            logs.as_array().expect("a JSON array").iter().filter(|r| r["url"] == receiver.url.as_str()).collect();
        assert_eq!(records.len(), 1, "one attempt to {}: {logs}", receiver.url);
        (line, records[0]["statusCode"].clone())
    }
}

/// The `x` of an application's Ed25519 key, from `GET /webhooks/signing`.
async fn public_key(app: &TestApp, app_id: &str, key: &str) -> String {
    let (status, keys) = app.client.get(&format!("/webhooks/signing?applicationId={app_id}"), key).await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["keys"][0]["crv"], "Ed25519", "{keys}");
    keys["keys"][0]["x"].as_str().unwrap().to_string()
}

const ALL_OK: &str = "verified standard=ok x-signature=ok reapit=ok topic=contacts.modified attempt=1";

async fn receiver_verifies_a_herald_delivery(lang: Lang) {
    let setup = Setup::new().await;
    let receiver = Receiver::start(lang, &setup.secret, &setup.public_x, &setup.client_id).await;
    let (line, status) = setup.deliver_to(&receiver).await;
    assert_eq!(line, ALL_OK, "{lang:?}");
    assert_eq!(status, 204, "{lang:?}: Herald recorded the receiver's answer");
    setup.app.stop().await;
}

async fn receiver_rejects_wrong_credentials_with_401(lang: Lang) {
    let setup = Setup::new().await;

    let wrong_secret = Receiver::start(lang, WRONG_SECRET, &setup.public_x, &setup.client_id).await;
    let (line, status) = setup.deliver_to(&wrong_secret).await;
    assert_eq!(line, ALL_OK.replace("standard=ok", "standard=fail"), "{lang:?}");
    assert_eq!(status, 401, "{lang:?}: Herald recorded the refusal");

    // Another application's key and client id: the Ed25519 and Reapit checks fail, the webhook secret still holds.
    let (other_id, other_key, other_client) = setup.app.create_app("Other", &["contacts.read"]).await;
    let other_x = public_key(&setup.app, &other_id, &other_key).await;
    let wrong_app = Receiver::start(lang, &setup.secret, &other_x, &other_client).await;
    let (line, status) = setup.deliver_to(&wrong_app).await;
    assert_eq!(line, ALL_OK.replace("x-signature=ok reapit=ok", "x-signature=fail reapit=fail"), "{lang:?}");
    assert_eq!(status, 401, "{lang:?}");
    setup.app.stop().await;
}

#[tokio::test]
async fn python_receiver_verifies_a_herald_delivery() {
    receiver_verifies_a_herald_delivery(Lang::Python).await;
}

#[tokio::test]
async fn python_receiver_rejects_wrong_credentials_with_401() {
    receiver_rejects_wrong_credentials_with_401(Lang::Python).await;
}

#[tokio::test]
async fn node_receiver_verifies_a_herald_delivery() {
    receiver_verifies_a_herald_delivery(Lang::Node).await;
}

#[tokio::test]
async fn node_receiver_rejects_wrong_credentials_with_401() {
    receiver_rejects_wrong_credentials_with_401(Lang::Node).await;
}

#[tokio::test]
async fn rust_receiver_verifies_a_herald_delivery() {
    receiver_verifies_a_herald_delivery(Lang::Rust).await;
}

#[tokio::test]
async fn rust_receiver_rejects_wrong_credentials_with_401() {
    receiver_rejects_wrong_credentials_with_401(Lang::Rust).await;
}

/// Every code block of docs/RECEIVERS.md that follows a `<!-- quoted from PATH -->` line appears verbatim in PATH,
/// and each example receiver is quoted at least once.
#[test]
fn receivers_doc_quotes_the_example_files_verbatim() {
    let root = repo_root();
    let doc = std::fs::read_to_string(root.join("docs/RECEIVERS.md")).expect("docs/RECEIVERS.md");
    let mut quoted = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.trim().strip_prefix("<!-- quoted from ").and_then(|r| r.strip_suffix(" -->")) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "a code block follows the quote marker of {path}, not {fence:?}");
        let block: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        let source = std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let source: Vec<&str> = source.lines().collect();
        assert!(
            !block.is_empty() && source.windows(block.len()).any(|w| w == block.as_slice()),
            "docs/RECEIVERS.md quotes lines that are not (or no longer) in {path}:\n{}",
            block.join("\n")
        );
        quoted.push(path.to_string());
    }
    for example in [
        "examples/receivers/python/receiver.py",
        "examples/receivers/node/receiver.mjs",
        "examples/receivers/rust/src/lib.rs",
    ] {
        assert!(quoted.iter().any(|q| q == example), "docs/RECEIVERS.md quotes nothing of {example}");
    }
}
