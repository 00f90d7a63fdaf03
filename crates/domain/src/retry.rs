//! The retry schedule (contract §7.2): the delays before attempts 2..N, each counted from the end of the previous
//! attempt. With the default schedule a delivery gets six attempts: the first at once, then after 60 s, 120 s, 300 s,
//! 600 s and 900 s. Sandbox (`SBOX`) events get one attempt whatever the schedule.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::new([60, 120, 300, 600, 900].map(Duration::from_secs).to_vec())
    }
}

/// Why a retry schedule could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryScheduleError {
    #[error("delay {index} is empty")]
    Empty { index: usize },
    #[error("delay {index} ({text:?}) is not a duration such as 250ms, 2s, 5m or a number of seconds")]
    Invalid { index: usize, text: String },
    #[error("delay {index} is longer than a day")]
    TooLong { index: usize },
    #[error("at most 100 delays may be given")]
    TooMany,
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>) -> Self {
        Self { delays }
    }

    /// The delays before attempts 2..N.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// How many attempts a delivery gets in all.
    pub fn max_attempts(&self, sandbox: bool) -> u32 {
        if sandbox {
            1
        } else {
            self.delays.len() as u32 + 1
        }
    }

    /// After attempt number `attempt` (1-based) failed in a retryable way: the delay before the next attempt, or
    /// `None` when that was the last attempt.
    pub fn delay_after(&self, attempt: u32, sandbox: bool) -> Option<Duration> {
        if sandbox || attempt == 0 {
            return None;
        }
        self.delays.get(attempt as usize - 1).copied()
    }
}

/// Parses one duration: `250ms`, `2s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().ok().map(Duration::from_secs);
    }
    humantime::parse_duration(t).ok()
}

impl FromStr for RetrySchedule {
    type Err = RetryScheduleError;

    /// `60s,120s,300s`; an empty text is the schedule with no retries.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Ok(Self::new(Vec::new()));
        }
        let mut delays = Vec::new();
        for (i, part) in s.split(',').enumerate() {
            let index = i + 1;
            if part.trim().is_empty() {
                return Err(RetryScheduleError::Empty { index });
            }
            let d = parse_duration(part)
                .ok_or_else(|| RetryScheduleError::Invalid { index, text: part.trim().to_string() })?;
            if d > Duration::from_secs(86_400) {
                return Err(RetryScheduleError::TooLong { index });
            }
            delays.push(d);
        }
        if delays.len() > 100 {
            return Err(RetryScheduleError::TooMany);
        }
        Ok(Self::new(delays))
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.delays.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if d.subsec_nanos() == 0 {
                write!(f, "{}s", d.as_secs())?;
            } else {
                write!(f, "{}ms", d.as_millis())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn default_schedule_gives_six_attempts_with_the_seeds_delays() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(false), 6);
        let table = [(1, secs(60)), (2, secs(120)), (3, secs(300)), (4, secs(600)), (5, secs(900)), (6, None)];
        for (attempt, expected) in table {
            assert_eq!(s.delay_after(attempt, false), expected, "after attempt {attempt}");
        }
    }

    #[test]
    fn sandbox_events_get_one_attempt() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(true), 1);
        assert_eq!(s.delay_after(1, true), None);
    }

    #[test]
    fn parses_units_and_bare_seconds() {
        let s: RetrySchedule = "250ms, 2s,5m,7".parse().unwrap();
        assert_eq!(
            s.delays(),
            &[Duration::from_millis(250), Duration::from_secs(2), Duration::from_secs(300), Duration::from_secs(7)]
        );
        assert_eq!(s.to_string(), "250ms,2s,300s,7s");
        assert_eq!("".parse::<RetrySchedule>().unwrap().max_attempts(false), 1);
    }

    #[test]
    fn rejects_bad_delays_naming_the_position() {
        assert_eq!("1s,,2s".parse::<RetrySchedule>(), Err(RetryScheduleError::Empty { index: 2 }));
        assert_eq!(
            "1s,soon".parse::<RetrySchedule>(),
            Err(RetryScheduleError::Invalid { index: 2, text: "soon".into() })
        );
        assert_eq!("-1".parse::<RetrySchedule>(), Err(RetryScheduleError::Invalid { index: 1, text: "-1".into() }));
        assert_eq!("2d".parse::<RetrySchedule>(), Err(RetryScheduleError::TooLong { index: 1 }));
    }
}
