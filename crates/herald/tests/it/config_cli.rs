//! The binary's command line: bad configuration stops start-up with one clear line; precedence across layers.

use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_herald");

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run herald");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_values_stop_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["serve", "--data-dir", d, "--retry-schedule", "1s,,2s"], &[], "--retry-schedule"),
        (&["serve", "--data-dir", d, "--delivery-timeout", "soon"], &[], "--delivery-timeout"),
        (&["serve", "--data-dir", d, "--listen", "nowhere"], &[], "--listen"),
        (&["serve", "--data-dir", d], &[("HERALD_ALLOW_HTTP_TARGETS", "yes")], "HERALD_ALLOW_HTTP_TARGETS"),
        (&["serve", "--data-dir", d, "--database-url", "mysql://x"], &[], "--database-url"),
        (&["serve", "--config", "/nonexistent/herald.toml"], &[], "/nonexistent/herald.toml"),
    ];
    for (args, env, needle) in cases {
        let (code, stderr) = run(args, env);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("herald: "), "{stderr}");
        assert!(stderr.contains(needle), "{args:?} should name {needle}: {stderr}");
    }
}

#[tokio::test]
async fn flag_beats_environment_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    let (p_file, p_env, p_flag) =
        (herald_testkit::free_port(), herald_testkit::free_port(), herald_testkit::free_port());
    let file = dir.path().join("herald.toml");
    std::fs::write(&file, format!("listen = \"127.0.0.1:{p_file}\"\nadmin_token = \"file-token-0123456789\"\n"))
        .unwrap();
    let data = dir.path().join("data");
    let start = |envs: Vec<(&'static str, String)>, flags: Vec<String>| {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").arg("--config").arg(&file).arg("--data-dir").arg(&data).args(flags);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap()
    };
    async fn answers(port: u16) -> bool {
        for _ in 0..100 {
            if reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok() {
                return true;
            }
            // Real I/O: the child process is starting and not yet listening.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
    let mut c = start(vec![], vec![]);
    assert!(answers(p_file).await, "the file's listen address is used");
    c.kill().unwrap();
    c.wait().unwrap();
    let mut c = start(vec![("HERALD_LISTEN", format!("127.0.0.1:{p_env}"))], vec![]);
    assert!(answers(p_env).await, "the environment beats the file");
    c.kill().unwrap();
    c.wait().unwrap();
    let mut c = start(
        vec![("HERALD_LISTEN", format!("127.0.0.1:{p_env}"))],
        vec!["--listen".into(), format!("127.0.0.1:{p_flag}")],
    );
    assert!(answers(p_flag).await, "the flag beats the environment");
    // the file's admin token is in force
    let resp = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{p_flag}/apps"))
        .bearer_auth("file-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    c.kill().unwrap();
    c.wait().unwrap();
}

#[test]
fn migrate_creates_the_database_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(&["migrate", "--data-dir", dir.path().to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.path().join("herald.db").exists());
}

#[tokio::test]
async fn a_second_process_on_one_data_dir_exits_with_one_line_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first =
        herald_testkit::HeraldProcess::start(std::path::Path::new(BIN), dir.path(), "admin-token-0123456789", &[])
            .await;
    let pid = first.child.id();
    let port = herald_testkit::free_port().to_string();
    let d = dir.path().to_str().unwrap();
    let (code, stderr) = run(
        &[
            "serve",
            "--data-dir",
            d,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--admin-token",
            "admin-token-0123456789",
        ],
        &[],
    );
    assert_ne!(code, 0, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("herald: "), "{stderr}");
    assert!(stderr.contains(&format!("PID {pid}")), "names the first process: {stderr}");
    let (code, stderr) = run(&["migrate", "--data-dir", d], &[]);
    assert_ne!(code, 0, "migrate waits for serve to stop: {stderr}");
    assert!(stderr.contains(&format!("PID {pid}")), "{stderr}");
    let r = reqwest::get(format!("{}/healthz", first.base)).await.expect("the first keeps serving");
    assert!(r.status().is_success());
}

#[cfg(unix)]
#[test]
fn the_data_dir_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, stderr) = run(&["migrate", "--data-dir", data.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{stderr}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir");
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

/// The raw bytes of the SQLite files (database and WAL) of a data dir.
fn database_bytes(data: &std::path::Path) -> Vec<u8> {
    ["herald.db", "herald.db-wal"].iter().flat_map(|f| std::fs::read(data.join(f)).unwrap_or_default()).collect()
}

#[tokio::test]
async fn secrets_are_sealed_in_the_database_and_survive_a_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let admin = "admin-token-0123456789";
    let bin = std::path::Path::new(BIN);
    let flags = ["--allow-http-targets", "--allow-private-targets"];
    let mut first = herald_testkit::HeraldProcess::start(bin, &data, admin, &flags).await;
    let client = herald_testkit::Client::new(first.base.clone());
    let (_, app) =
        client.post("/apps", admin, serde_json::json!({"name": "Sealed", "scopes": ["contacts.read"]})).await;
    let app_id = app["id"].as_str().unwrap().to_string();
    let body = serde_json::json!({"applicationId": app_id, "url": "http://127.0.0.1:9/hook",
        "topicIds": ["contacts.created"], "customerIds": ["SBOX"]});
    let (status, hook) = client.post("/webhooks/subscriptions", admin, body).await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    let (_, keys) = client.get(&format!("/webhooks/signing?applicationId={app_id}"), admin).await;
    first.kill9();

    let bytes = database_bytes(&data);
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the webhook secret is stored in the clear");
    let old_key = std::fs::read_to_string(data.join("encryption-key")).unwrap();

    let (code, out) = {
        let out =
            Command::new(BIN).args(["rotate-encryption-key", "--data-dir", data.to_str().unwrap()]).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("resealed 2 secret(s)"), "{out}");
    let new_key = std::fs::read_to_string(data.join("encryption-key")).unwrap();
    assert_ne!(old_key, new_key);
    assert!(!data.join("encryption-key.next").exists());

    let second = herald_testkit::HeraldProcess::start(bin, &data, admin, &flags).await;
    let client = herald_testkit::Client::new(second.base.clone());
    let hook_id = hook["id"].as_str().unwrap();
    let (_, got) = client.get(&format!("/webhooks/subscriptions/{hook_id}/secret"), admin).await;
    assert_eq!(got["secret"], secret.as_str(), "the secret reads back after the rotation");
    let (_, keys_after) = client.get(&format!("/webhooks/signing?applicationId={app_id}"), admin).await;
    assert_eq!(keys_after, keys, "the signing key is the same");
    drop(second);

    // A rotation that stopped before it resealed left its key in encryption-key.next: another key is refused, and
    // running again finishes with the pending one.
    let pending = "7".repeat(64);
    std::fs::write(data.join("encryption-key.next"), &pending).unwrap();
    let d = data.to_str().unwrap();
    let (code, stderr) = run(&["rotate-encryption-key", "--data-dir", d, "--new-key", &"8".repeat(64)], &[]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("encryption-key.next"), "{stderr}");
    let (code, stderr) = run(&["rotate-encryption-key", "--data-dir", d], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(data.join("encryption-key")).unwrap(), pending, "finished with the pending key");
    assert!(!data.join("encryption-key.next").exists());

    // Started with the old key only, Herald refuses with one line rather than fail deliveries later.
    let (code, stderr) = run(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--admin-token",
            admin,
            "--listen",
            "127.0.0.1:0",
            "--encryption-key",
            old_key.trim(),
        ],
        &[],
    );
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("encryption key"), "{stderr}");
}

#[tokio::test]
async fn a_damaged_sqlite_file_is_reported_by_readyz() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let admin = "admin-token-0123456789";
    let bin = std::path::Path::new(BIN);
    let mut first = herald_testkit::HeraldProcess::start(bin, &data, admin, &[]).await;
    let client = herald_testkit::Client::new(first.base.clone());
    let (_, ready) = client.get("/readyz", admin).await;
    assert_eq!(ready["status"], "ready", "a sound file is ready");
    for i in 0..300 {
        let (s, _) = client
            .post("/apps", admin, serde_json::json!({"name": format!("app {i} {}", "x".repeat(150)), "scopes": []}))
            .await;
        assert_eq!(s, 201);
    }
    first.kill9();
    // Everything into the main file, then the root page of `applications` overwritten with garbage.
    let db = data.join("herald.db");
    let (root, page_size) = {
        use sqlx::{ConnectOptions, Connection};
        let mut conn =
            sqlx::sqlite::SqliteConnectOptions::new().filename(&db).connect().await.expect("open the database file");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.unwrap();
        let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'applications'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        (root as u64, page_size as u64)
    };
    let mut file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    use std::io::{Seek, Write};
    file.seek(std::io::SeekFrom::Start((root - 1) * page_size)).unwrap();
    file.write_all(&vec![0xA5; page_size as usize]).unwrap();
    file.sync_all().unwrap();
    drop(file);

    let second = herald_testkit::HeraldProcess::start(bin, &data, admin, &[]).await;
    let r = reqwest::get(format!("{}/readyz", second.base)).await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["description"].as_str().unwrap_or_default().contains("damaged"), "{body}");
    drop(second);

    // Without the check, the damage is met by the first read of it: here the start-up check of the stored secrets,
    // which stops serve with one line.
    let (code, stderr) = run(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--admin-token",
            admin,
            "--listen",
            "127.0.0.1:0",
            "--integrity-check=false",
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("malformed"), "{stderr}");
}
