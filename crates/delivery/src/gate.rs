//! What may hold a webhook's deliveries back in the engine (contract §9.3), apart from the loop so that its rules are
//! tested without a store: a *hold* (a `Retry-After` received with a `429` or `503`), a *rate limit* (send slots
//! reserved in the store, shared by every node), and a *circuit breaker* (after [`BREAKER_THRESHOLD`] consecutive
//! failures of the endpoint, one probe at a time, [`PROBE_FIRST`] doubling to [`PROBE_MAX`] apart). Deliveries held
//! back wait in the engine's queue; none of them spends an attempt.

use std::collections::VecDeque;
use std::time::Duration;

use herald_domain::DeliveryId;
use tokio::time::Instant;

/// Consecutive endpoint failures (5xx, timeouts, broken connections) that open a webhook's circuit.
pub const BREAKER_THRESHOLD: u32 = 5;
/// The spacing of probes after the circuit opens; it doubles after each failed probe, up to [`PROBE_MAX`].
pub const PROBE_FIRST: Duration = Duration::from_secs(2);
pub const PROBE_MAX: Duration = Duration::from_secs(60);
/// The longest a `Retry-After` holds a webhook (contract §9.3).
pub const HOLD_MAX: Duration = Duration::from_secs(24 * 60 * 60);
/// Send slots are `1/rate` apart plus this share, so that a send a little late cannot put `rate + 1` attempts in a
/// receiver's one-second window: `rate` slots span `1 + SLOT_SLACK` seconds, so a request that reaches the receiver
/// up to 100 ms later than its slot (dispatch, signing, the connection, the network) still keeps every one-second
/// window within the limit. 2 % (20 ms) proved too little on a loaded machine, and 5 % (50 ms) once let the
/// receiver of a test see 21 in a second under a full CI run.
pub const SLOT_SLACK: f64 = 0.10;
/// A slot not used within this long after its instant is dropped (under-use, never over-use): the engine's own
/// lateness stays well within the slack.
pub const SLOT_LATE: Duration = Duration::from_millis(10);
/// An attempt admitted in a slot starts within this long after the slot's instant, or it does not start: it goes
/// back to its queue for a later slot. Between the loop handing it out and the attempt starting lie the runtime's
/// scheduling and the read of the webhook (which waits out a store outage); this keeps a task delayed there (a busy
/// or preempted process) from sending in a slot long gone. `rate + 1` sends then span at least
/// `1 + SLOT_SLACK` seconds less this, well over one second.
pub const SLOT_START_LATE: Duration = Duration::from_millis(40);
/// How many slots one reservation takes at most: this much time's worth of the rate.
pub const SLOT_BATCH: Duration = Duration::from_millis(100);

/// The spacing of a rate limit's send slots.
pub fn slot_interval(rate: u32) -> Duration {
    Duration::from_secs_f64((1.0 + SLOT_SLACK) / f64::from(rate.max(1)))
}

/// How many slots to reserve for a webhook with `queued` deliveries waiting: at most [`SLOT_BATCH`]'s worth.
pub fn slot_batch(rate: u32, queued: usize) -> u32 {
    let batch = (u64::from(rate) * SLOT_BATCH.as_millis() as u64 / 1000).max(1);
    batch.min(queued.max(1) as u64) as u32
}

/// What an attempt told about the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It answered (2xx, 4xx, 3xx, `429`): alive.
    Up,
    /// A 5xx, a timeout or a broken connection.
    Down,
    /// Nothing (not attempted, or the target was refused).
    Unknown,
}

/// Whether a webhook's next delivery may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Go,
    /// Go in the send slot at this instant (a rate-limited webhook): the attempt must start by
    /// [`SLOT_START_LATE`] after it.
    Slot(Instant),
    /// Not before this instant.
    Until(Instant),
    /// When send slots arrive (a reservation is needed).
    Slots,
    /// When the probe in flight finishes.
    Probing,
}

/// The gates of one webhook.
#[derive(Debug, Default)]
pub struct Flow {
    pub hold: Option<Instant>,
    pub rate: Option<u32>,
    slots: VecDeque<Instant>,
    /// A reservation of slots is in progress.
    pub reserving: bool,
    failures: u32,
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    next_probe: Instant,
    spacing: Duration,
    /// The delivery sent as the probe, while in flight.
    probe: Option<DeliveryId>,
}

impl Flow {
    /// Whether the next delivery may go at `now`; `Slot` takes a send slot (of a rate-limited webhook).
    pub fn admit(&mut self, now: Instant) -> Admit {
        if let Some(hold) = self.hold {
            if hold > now {
                return Admit::Until(hold);
            }
            self.hold = None;
        }
        if let Some(open) = &self.open {
            if open.probe.is_some() {
                return Admit::Probing;
            }
            if open.next_probe > now {
                return Admit::Until(open.next_probe);
            }
        }
        if self.rate.is_some() {
            while self.slots.front().is_some_and(|s| *s + SLOT_LATE < now) {
                self.slots.pop_front();
            }
            return match self.slots.front().copied() {
                None => Admit::Slots,
                Some(s) if s > now => Admit::Until(s),
                Some(s) => {
                    self.slots.pop_front();
                    Admit::Slot(s)
                }
            };
        }
        Admit::Go
    }

    /// The delivery admitted last went out: with the circuit open, it is the probe.
    pub fn dispatched(&mut self, delivery: DeliveryId) {
        if let Some(open) = &mut self.open {
            open.probe.get_or_insert(delivery);
        }
    }

    /// An attempt of `delivery` finished with this news of the endpoint.
    pub fn finished(&mut self, delivery: DeliveryId, health: Health, now: Instant) {
        match health {
            Health::Up => {
                self.failures = 0;
                self.open = None;
            }
            Health::Down => {
                self.failures = self.failures.saturating_add(1);
                match &mut self.open {
                    Some(open) if open.probe == Some(delivery) => {
                        open.spacing = (open.spacing * 2).min(PROBE_MAX);
                        open.next_probe = now + open.spacing;
                        open.probe = None;
                    }
                    Some(_) => {}
                    None if self.failures >= BREAKER_THRESHOLD => {
                        self.open = Some(Open { next_probe: now + PROBE_FIRST, spacing: PROBE_FIRST, probe: None });
                    }
                    None => {}
                }
            }
            Health::Unknown => {
                if let Some(open) = &mut self.open {
                    if open.probe == Some(delivery) {
                        open.probe = None;
                    }
                }
            }
        }
    }

    /// Slots reserved: `n` of them, `interval` apart from `first`.
    pub fn add_slots(&mut self, first: Instant, n: u32, interval: Duration) {
        self.reserving = false;
        self.slots.extend((0..n).map(|i| first + interval * i));
    }

    /// Whether claims should skip this webhook: held, or its circuit open.
    pub fn closed(&self, now: Instant) -> bool {
        self.open.is_some() || self.hold.is_some_and(|h| h > now)
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Whether the flow holds nothing back and remembers nothing: it may be forgotten.
    pub fn is_idle(&self) -> bool {
        self.hold.is_none() && self.rate.is_none() && self.failures == 0 && self.open.is_none() && !self.reserving
    }

    /// A rate limit set, changed or removed: slots of another rate are dropped.
    pub fn set_rate(&mut self, rate: Option<u32>) {
        if self.rate != rate {
            self.slots.clear();
            self.rate = rate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id(n: u128) -> DeliveryId {
        DeliveryId(Uuid::from_u128(n))
    }

    #[test]
    fn the_circuit_opens_after_consecutive_failures_and_probes_with_growing_spacing() {
        let t0 = Instant::now();
        let mut f = Flow::default();
        for n in 0..BREAKER_THRESHOLD - 1 {
            f.finished(id(u128::from(n)), Health::Down, t0);
        }
        f.finished(id(50), Health::Up, t0);
        for n in 0..BREAKER_THRESHOLD - 1 {
            f.finished(id(u128::from(n)), Health::Down, t0);
        }
        assert_eq!(f.admit(t0), Admit::Go, "a success in between: the count starts again");
        f.finished(id(9), Health::Down, t0);
        assert!(f.is_open() && f.closed(t0));
        assert_eq!(f.admit(t0), Admit::Until(t0 + PROBE_FIRST));
        let t1 = t0 + PROBE_FIRST;
        assert_eq!(f.admit(t1), Admit::Go);
        f.dispatched(id(10));
        assert_eq!(f.admit(t1), Admit::Probing, "one probe at a time");
        f.finished(id(3), Health::Down, t1); // an attempt sent before the circuit opened: not the probe
        assert_eq!(f.admit(t1), Admit::Probing);
        f.finished(id(10), Health::Down, t1);
        assert_eq!(f.admit(t1), Admit::Until(t1 + PROBE_FIRST * 2), "the spacing doubles");
        let mut t = t1;
        let mut spacing = PROBE_FIRST * 2;
        for n in 11..20 {
            t += spacing;
            assert_eq!(f.admit(t), Admit::Go);
            f.dispatched(id(n));
            f.finished(id(n), Health::Down, t);
            spacing = (spacing * 2).min(PROBE_MAX);
            assert_eq!(f.admit(t), Admit::Until(t + spacing));
        }
        assert_eq!(spacing, PROBE_MAX, "up to a minute");
        t += spacing;
        assert_eq!(f.admit(t), Admit::Go);
        f.dispatched(id(30));
        f.finished(id(30), Health::Up, t);
        assert!(!f.is_open(), "a probe answered: closed");
        assert_eq!(f.admit(t), Admit::Go);
        assert_eq!(f.admit(t), Admit::Go, "closed: no spacing");
    }

    #[test]
    fn a_4xx_or_a_refused_target_does_not_count() {
        let t0 = Instant::now();
        let mut f = Flow::default();
        for n in 0..20 {
            f.finished(id(n), if n % 2 == 0 { Health::Down } else { Health::Up }, t0);
            f.finished(id(n), Health::Unknown, t0);
        }
        assert!(!f.is_open());
        assert!(f.is_idle() || f.failures == 0);
    }

    #[test]
    fn a_hold_waits_until_its_instant() {
        let t0 = Instant::now();
        let mut f = Flow { hold: Some(t0 + Duration::from_secs(2)), ..Flow::default() };
        assert!(f.closed(t0));
        assert_eq!(f.admit(t0), Admit::Until(t0 + Duration::from_secs(2)));
        assert_eq!(f.admit(t0 + Duration::from_secs(2)), Admit::Go);
        assert!(f.is_idle());
    }

    #[test]
    fn a_rate_limit_sends_only_in_reserved_slots_and_drops_late_ones() {
        let t0 = Instant::now();
        let mut f = Flow::default();
        f.set_rate(Some(20));
        assert_eq!(f.admit(t0), Admit::Slots);
        let every = slot_interval(20);
        assert!(every > Duration::from_millis(50), "1/rate plus slack: {every:?}");
        f.reserving = true;
        f.add_slots(t0, slot_batch(20, 100), every);
        assert!(!f.reserving);
        assert_eq!(f.admit(t0), Admit::Slot(t0));
        assert_eq!(f.admit(t0), Admit::Until(t0 + every), "the second slot");
        // Far past the second slot: it is dropped rather than sent late.
        assert_eq!(f.admit(t0 + every * 3), Admit::Slots);
        assert_eq!(slot_batch(20, 100), 2);
        assert_eq!(slot_batch(10_000, 100), 100, "no more than what is queued");
        assert_eq!(slot_batch(1, 100), 1);
        f.set_rate(None);
        assert_eq!(f.admit(t0), Admit::Go);
    }
}
