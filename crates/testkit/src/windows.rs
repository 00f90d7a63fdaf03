//! Counting events in time windows: how a test checks a rate limit (contract §9.3).

use std::ops::Sub;
use std::time::Duration;

/// The most of `times` (sorted, earliest first) that fall within any span shorter than `window`.
pub fn busiest<T: Copy + Sub<Output = Duration>>(times: &[T], window: Duration) -> usize {
    (0..times.len()).map(|i| times[i..].iter().take_while(|t| **t - times[i] < window).count()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_fullest_window_and_excludes_its_end() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect::<Vec<_>>();
        assert_eq!(busiest(&ms(&[]), Duration::from_secs(1)), 0);
        assert_eq!(busiest(&ms(&[0, 500, 999, 1000, 1400]), Duration::from_secs(1)), 4, "500 to 1400");
        assert_eq!(busiest(&ms(&[0, 600, 1000, 1100, 1700]), Duration::from_secs(1)), 3, "1000 after 0 is out");
    }
}
