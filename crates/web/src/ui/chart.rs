//! The success/failure chart of a webhook's last 24 hours: attempts bucketed by hour, drawn as inline SVG on the
//! server (no script, no image request).

use chrono::{DateTime, Duration, Utc};
use herald_domain::time::parse_rfc3339;
use herald_service::models::LogOut;
use maud::{html, Markup};

pub const HOURS: usize = 24;

/// Attempts per hour, oldest first; the last bucket ends at `now`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Buckets {
    pub ok: [u32; HOURS],
    pub failed: [u32; HOURS],
}

impl Buckets {
    pub fn from_logs(logs: &[LogOut], now: DateTime<Utc>) -> Buckets {
        let mut b = Buckets::default();
        let start = now - Duration::hours(HOURS as i64);
        for log in logs {
            let Some(t) = parse_rfc3339(&log.time_stamp) else { continue };
            if t < start || t > now {
                continue;
            }
            let i = (((t - start).num_seconds() / 3600) as usize).min(HOURS - 1);
            if log.outcome == "delivered" {
                b.ok[i] += 1;
            } else {
                b.failed[i] += 1;
            }
        }
        b
    }

    pub fn totals(&self) -> (u32, u32) {
        (self.ok.iter().sum(), self.failed.iter().sum())
    }
}

const BAR: u32 = 4;
const GAP: u32 = 1;
const HEIGHT: u32 = 28;

/// The chart: one stacked bar per hour (successes below, failures above), with a text equivalent.
pub fn svg(b: &Buckets) -> Markup {
    let (ok, failed) = b.totals();
    let label = format!("Last 24 hours: {ok} delivered, {failed} failed");
    let max = (0..HOURS).map(|i| b.ok[i] + b.failed[i]).max().unwrap_or(0).max(1);
    let scale = |n: u32| if n == 0 { 0 } else { (n * (HEIGHT - 2) / max).max(2) };
    let width = HOURS as u32 * (BAR + GAP);
    html! {
        span.chart {
            svg xmlns="http://www.w3.org/2000/svg" width=(width) height=(HEIGHT) viewBox=(format!("0 0 {width} {HEIGHT}"))
                role="img" aria-label=(label) {
                title { (label) }
                line x1="0" y1=(HEIGHT - 1) x2=(width) y2=(HEIGHT - 1) class="axis" {}
                @for i in 0..HOURS {
                    @let x = i as u32 * (BAR + GAP);
                    @let h_ok = scale(b.ok[i]);
                    @let h_fail = scale(b.failed[i]);
                    @if h_ok > 0 {
                        rect class="ok" x=(x) y=(HEIGHT - 1 - h_ok) width=(BAR) height=(h_ok) {}
                    }
                    @if h_fail > 0 {
                        rect class="fail" x=(x) y=(HEIGHT - 1 - h_ok - h_fail) width=(BAR) height=(h_fail) {}
                    }
                }
            }
            span.chart-counts aria-hidden="true" {
                span.ok-text { (ok) " ok" } " · " span.fail-text { (failed) " failed" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(at: DateTime<Utc>, outcome: &str) -> LogOut {
        LogOut {
            time_stamp: herald_domain::time::format_log_time(at),
            application_id: String::new(),
            webhook_id: String::new(),
            delivery_id: String::new(),
            url: String::new(),
            topic_id: String::new(),
            customer_id: String::new(),
            entity_id: None,
            event_id: String::new(),
            attempt: 1,
            status_code: None,
            outcome: outcome.into(),
            duration_ms: 0,
            error: None,
            retry_after: None,
            payload: None,
            response: None,
        }
    }

    #[test]
    fn attempts_fall_in_their_hour_and_older_ones_are_left_out() {
        let now = Utc::now();
        let logs = vec![
            log(now - Duration::minutes(5), "delivered"),
            log(now - Duration::minutes(10), "failed"),
            log(now - Duration::minutes(90), "delivered"),
            log(now - Duration::hours(30), "delivered"),
        ];
        let b = Buckets::from_logs(&logs, now);
        assert_eq!(b.ok[HOURS - 1], 1);
        assert_eq!(b.failed[HOURS - 1], 1);
        assert_eq!(b.ok[HOURS - 2], 1);
        assert_eq!(b.totals(), (2, 1));
    }

    #[test]
    fn the_chart_says_what_it_shows() {
        let now = Utc::now();
        let b = Buckets::from_logs(&[log(now, "delivered"), log(now, "rejected")], now);
        let svg = svg(&b).into_string();
        assert!(svg.contains("Last 24 hours: 1 delivered, 1 failed"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
    }
}
