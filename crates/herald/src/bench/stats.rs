//! Percentiles and process figures.

use std::time::Duration;

/// The `p`th percentile (0..=100) of sorted samples, nearest-rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Resident set size now and at its peak, in bytes, of a process (Linux `/proc`).
pub fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A process's peak resident set over a span of time: its RSS sampled every 100 ms from [`RssPeak::start`] to
/// [`RssPeak::stop`]. (`VmHWM` is the peak since the process started, so it cannot tell one scenario from the ones
/// before it.)
pub struct RssPeak {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssPeak {
    pub fn start(pid: u32) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        let peak = std::sync::Arc::new(AtomicU64::new(rss(pid).0));
        let task = tokio::spawn({
            let peak = peak.clone();
            async move {
                loop {
                    peak.fetch_max(rss(pid).0, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        Self { peak, task }
    }

    /// The peak so far, in bytes, including a last sample now; stops sampling.
    pub fn stop(self, pid: u32) -> u64 {
        use std::sync::atomic::Ordering;
        self.task.abort();
        self.peak.fetch_max(rss(pid).0, Ordering::Relaxed).max(rss(pid).0)
    }
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

/// The name SQLite's connection threads have (sqlx runs each connection on a thread of its own, named
/// `sqlx-sqlite-worker-N`; the kernel keeps the first 15 bytes): the writer, the readers and the checkpointing
/// connection.
const SQLITE_THREAD: &str = "sqlx-sqlite-wor";

/// CPU time (user + system) used so far by a process's threads that run SQLite connections (see [`SQLITE_THREAD`]),
/// living ones only: a connection's thread that ended took its time with it, which the bench's connections, opened
/// at start, do not.
pub fn sqlite_cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim_end() == SQLITE_THREAD)
        })
        .map(|task| stat_cpu(&task.path().join("stat").to_string_lossy()))
        .sum()
}

/// utime + stime of a `/proc/…/stat` file (a process's or a thread's); zero when it cannot be read.
fn stat_cpu(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn reads_this_process_figures() {
        let (now, peak) = rss(std::process::id());
        assert!(now > 0 && peak >= now);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_time(std::process::id()) > Duration::ZERO);
    }

    /// Only threads named as sqlx names SQLite's connection threads count, for the time they ran.
    #[test]
    fn counts_the_cpu_of_sqlite_threads_only() {
        let spin = |name: &str| {
            let (done, wait) = std::sync::mpsc::channel::<()>();
            let (spun, spinning) = std::sync::mpsc::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let started = std::time::Instant::now();
                    let mut x = 0u64;
                    while started.elapsed() < Duration::from_millis(150) {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                    let _ = spun.send(());
                    let _ = wait.recv();
                })
                .expect("a thread");
            spinning.recv().expect("the thread spun");
            (done, thread)
        };
        let before = sqlite_cpu_time(std::process::id());
        let other = spin("herald-other");
        assert_eq!(sqlite_cpu_time(std::process::id()), before, "another thread's time counted");
        let sqlite = spin("sqlx-sqlite-worker-7");
        let after = sqlite_cpu_time(std::process::id());
        assert!(after >= before + Duration::from_millis(100), "{before:?} → {after:?}");
        for (done, thread) in [other, sqlite] {
            drop(done);
            thread.join().expect("joined");
        }
    }
}
