//! A Herald process started from the built binary, for tests that kill it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct HeraldProcess {
    pub child: Child,
    pub base: String,
    pub port: u16,
}

impl HeraldProcess {
    /// Starts `binary serve` on a free port with the given data dir and extra arguments, and waits until it answers.
    pub async fn start(binary: &Path, data_dir: &Path, admin_token: &str, extra: &[&str]) -> HeraldProcess {
        let port = free_port();
        let log = data_dir.join(format!("herald-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--admin-token")
            .arg(admin_token)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start herald");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "herald did not start; log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        HeraldProcess { child, base, port }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HeraldProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A port free right now on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
