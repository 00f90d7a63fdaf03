//! When the engine claims: its loop's pacing, apart from the loop so that its rules are tested without a store.
//!
//! A claim is a write (it marks rows held), queued behind the group commit's on SQLite, so the engine claims only
//! when it has room and there may be due work, and never in a tight loop:
//! - after a claim that filled the room, at once (more may be due);
//! - after a partial or empty claim, when the next delivery is due, at a wake-up (no sooner than [`CLAIM_GAP`] after
//!   the claim) or at the idle poll, whichever comes first;
//! - after a failed claim, after a back-off that doubles from [`BACKOFF_MIN`] to [`BACKOFF_MAX`] (the store is
//!   away: wake-ups do not shorten it);
//! - when a saturated webhook's queue falls below its cap after an empty claim, at once (that claim may have
//!   skipped its due work).

use std::time::Duration;

use tokio::time::Instant;

/// The longest the loop sleeps without looking for due work (other nodes' deliveries, missed wake-ups).
pub const IDLE_POLL: Duration = Duration::from_millis(250);
/// The shortest time between an empty claim and the next one a wake-up asks for: under load every accepted change
/// may wake the engine, and most of those wake-ups concern webhooks whose queues are full.
pub const CLAIM_GAP: Duration = Duration::from_millis(10);
/// The first back-off after a failed claim.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest back-off after failed claims.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The claim schedule of one engine loop.
#[derive(Debug, Clone)]
pub struct ClaimPacer {
    /// When the next claim may start.
    claim_after: Instant,
    backoff: Duration,
    last_claim: Instant,
    last_claim_empty: bool,
    /// A wake-up arrived while a claim was in progress: its rows may be newer than the claim's snapshot.
    woken_during_claim: bool,
}

impl ClaimPacer {
    pub fn new(now: Instant) -> Self {
        Self {
            claim_after: now,
            backoff: BACKOFF_MIN,
            last_claim: now,
            last_claim_empty: false,
            woken_during_claim: false,
        }
    }

    /// Whether the store answered the last claim (the engine is not backing off).
    pub fn store_healthy(&self) -> bool {
        self.backoff == BACKOFF_MIN
    }

    /// Whether a claim may start at `now`.
    pub fn may_claim(&self, now: Instant) -> bool {
        now >= self.claim_after
    }

    pub fn claim_started(&mut self, now: Instant) {
        self.last_claim = now;
    }

    /// A saturated webhook's queue fell below its cap.
    pub fn queue_freed(&mut self, now: Instant) {
        if self.last_claim_empty && self.store_healthy() {
            self.claim_after = self.claim_after.min(now);
        }
    }

    /// The claim took `full` (as many as asked for) or fewer deliveries.
    pub fn claimed(&mut self, now: Instant, full: bool) {
        self.backoff = BACKOFF_MIN;
        self.last_claim_empty = !full;
        self.claim_after = now + if full { Duration::ZERO } else { IDLE_POLL };
        self.after_claim();
    }

    /// Nothing was claimable; the next delivery is due in `next_due` (when known).
    pub fn empty(&mut self, now: Instant, next_due: Option<Duration>) {
        self.backoff = BACKOFF_MIN;
        self.last_claim_empty = true;
        self.claim_after = now + next_due.map_or(IDLE_POLL, |d| d.clamp(CLAIM_GAP, IDLE_POLL));
        self.after_claim();
    }

    /// The claim failed: back off, twice as long as last time.
    pub fn failed(&mut self, now: Instant) {
        self.last_claim_empty = true;
        self.claim_after = now + self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        self.woken_during_claim = false;
    }

    fn after_claim(&mut self) {
        if std::mem::take(&mut self.woken_during_claim) {
            self.claim_after = self.claim_after.min(self.last_claim + CLAIM_GAP);
        }
    }

    /// New deliveries were stored unheld: claim them soon, unless backing off from a failing store.
    pub fn woken(&mut self, now: Instant, claiming: bool) {
        if claiming {
            self.woken_during_claim = true;
        } else if self.store_healthy() {
            let soonest = if self.last_claim_empty { self.last_claim + CLAIM_GAP } else { self.last_claim };
            self.claim_after = self.claim_after.min(soonest.max(now));
        }
    }

    /// How long the loop may sleep at `now` when it waits for a claim (not when one runs or it has no room).
    pub fn wait(&self, now: Instant) -> Duration {
        self.claim_after.saturating_duration_since(now).min(IDLE_POLL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_full_claim_claims_again_at_once_and_a_partial_one_waits_for_the_idle_poll() {
        let t = Instant::now();
        let mut p = ClaimPacer::new(t);
        assert!(p.may_claim(t));
        p.claim_started(t);
        p.claimed(t, true);
        assert!(p.may_claim(t));
        p.claim_started(t);
        p.claimed(t, false);
        assert!(!p.may_claim(t + ms(249)) && p.may_claim(t + IDLE_POLL));
        assert_eq!(p.wait(t), IDLE_POLL);
    }

    #[test]
    fn an_empty_claim_waits_for_the_next_due_time_within_the_gap_and_the_idle_poll() {
        let t = Instant::now();
        let mut p = ClaimPacer::new(t);
        p.empty(t, Some(ms(40)));
        assert!(!p.may_claim(t + ms(39)) && p.may_claim(t + ms(40)));
        p.empty(t, Some(Duration::ZERO));
        assert!(!p.may_claim(t + ms(9)) && p.may_claim(t + CLAIM_GAP), "never sooner than the gap");
        p.empty(t, Some(Duration::from_secs(60)));
        assert!(p.may_claim(t + IDLE_POLL), "never later than the idle poll");
        p.empty(t, None);
        assert!(p.may_claim(t + IDLE_POLL) && !p.may_claim(t + ms(249)));
    }

    #[test]
    fn failed_claims_back_off_doubling_up_to_the_cap_and_a_success_ends_it() {
        let t = Instant::now();
        let mut p = ClaimPacer::new(t);
        let mut waits = Vec::new();
        for _ in 0..8 {
            p.failed(t);
            waits.push(p.claim_after - t);
        }
        let expected: Vec<Duration> = [100, 200, 400, 800, 1600, 3200, 5000, 5000].into_iter().map(ms).collect();
        assert_eq!(waits, expected);
        assert!(!p.store_healthy());
        p.woken(t, false);
        assert!(!p.may_claim(t + ms(4999)), "a wake-up does not cut a back-off short");
        p.claimed(t, false);
        assert!(p.store_healthy());
        p.failed(t);
        assert_eq!(p.claim_after - t, BACKOFF_MIN, "a success starts the back-off over");
    }

    #[test]
    fn a_wake_up_claims_soon_but_not_sooner_than_the_gap_after_an_empty_claim() {
        let t = Instant::now();
        let mut p = ClaimPacer::new(t);
        p.claim_started(t);
        p.empty(t, None);
        p.woken(t + ms(2), false);
        assert!(!p.may_claim(t + ms(9)) && p.may_claim(t + CLAIM_GAP));
        p.claim_started(t + ms(20));
        p.claimed(t + ms(20), false);
        p.woken(t + ms(30), false);
        assert!(p.may_claim(t + ms(30)), "after a claim that found work, at once");
    }

    #[test]
    fn a_wake_up_during_a_claim_brings_the_next_claim_forward() {
        let t = Instant::now();
        let mut p = ClaimPacer::new(t);
        p.claim_started(t);
        p.woken(t + ms(1), true);
        p.claimed(t + ms(5), false);
        assert!(p.may_claim(t + CLAIM_GAP), "the rows that woke it may be newer than the claim's snapshot");
    }

    #[test]
    fn a_freed_queue_claims_at_once_after_an_empty_claim_but_not_during_a_back_off() {
        let t = Instant::now();
        let mut p = ClaimPacer::new(t);
        p.empty(t, None);
        p.queue_freed(t + ms(1));
        assert!(p.may_claim(t + ms(1)), "the empty claim may have skipped the freed webhook's due work");
        p.failed(t + ms(2));
        p.queue_freed(t + ms(3));
        assert!(!p.may_claim(t + ms(3)), "the store is away: the back-off holds");
    }
}
