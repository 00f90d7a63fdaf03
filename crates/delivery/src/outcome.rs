//! What one attempt came to.

use std::fmt;

/// The outcome of one attempt (contract §7.2). Success is a 2xx within the timeout; a 4xx is final; a target refused
/// by the guard is final; everything else is retried while the schedule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// A 4xx answer but `429`: the receiver refused the request; never retried.
    Rejected { status: u16 },
    /// Any other answer (3xx, 5xx, 1xx, and `429`, which means "later"): retried.
    Failed { status: u16 },
    /// No complete answer within the delivery timeout: retried.
    Timeout,
    /// The connection could not be made or broke: retried.
    Connect { reason: String },
    /// The target resolves to an address Herald refuses to call (or the URL is not allowed): never retried.
    Blocked { reason: String },
}

impl AttemptOutcome {
    /// The outcome of an answer with this status (contract §7.2, and §9.3 for `429`).
    pub fn of_status(status: u16) -> AttemptOutcome {
        match status {
            200..=299 => AttemptOutcome::Delivered { status },
            429 => AttemptOutcome::Failed { status },
            400..=499 => AttemptOutcome::Rejected { status },
            _ => AttemptOutcome::Failed { status },
        }
    }

    /// Whether the endpoint looks down (an answer of 5xx, a timeout, a broken connection): what opens a webhook's
    /// circuit. A 4xx (`429` included) is an answer from a live endpoint.
    pub fn is_endpoint_failure(&self) -> bool {
        match self {
            AttemptOutcome::Failed { status } => *status >= 500,
            AttemptOutcome::Timeout | AttemptOutcome::Connect { .. } => true,
            _ => false,
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, AttemptOutcome::Delivered { .. })
    }

    /// Whether a later attempt could succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, AttemptOutcome::Failed { .. } | AttemptOutcome::Timeout | AttemptOutcome::Connect { .. })
    }

    pub fn status_code(&self) -> Option<u16> {
        match self {
            AttemptOutcome::Delivered { status }
            | AttemptOutcome::Rejected { status }
            | AttemptOutcome::Failed { status } => Some(*status),
            _ => None,
        }
    }

    /// The machine word stored with the attempt.
    pub fn kind(&self) -> &'static str {
        match self {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Rejected { .. } => "rejected",
            AttemptOutcome::Failed { .. } => "failed",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::Connect { .. } => "connect",
            AttemptOutcome::Blocked { .. } => "blocked",
        }
    }

    /// A human sentence for the logs' `error` field; `None` on success.
    pub fn error(&self) -> Option<String> {
        match self {
            AttemptOutcome::Delivered { .. } => None,
            AttemptOutcome::Rejected { status } => Some(format!("the endpoint answered {status}; not retried")),
            AttemptOutcome::Failed { status } => Some(format!("the endpoint answered {status}")),
            AttemptOutcome::Timeout => Some("no answer within the delivery timeout".into()),
            AttemptOutcome::Connect { reason } => Some(format!("connection failed: {reason}")),
            AttemptOutcome::Blocked { reason } => Some(format!("target refused: {reason}")),
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status_code(), self.error()) {
            (Some(s), None) => write!(f, "{} {s}", self.kind()),
            (_, Some(e)) => f.write_str(&e),
            (None, None) => f.write_str(self.kind()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(!AttemptOutcome::Delivered { status: 204 }.is_retryable());
        assert!(!AttemptOutcome::Rejected { status: 404 }.is_retryable());
        assert!(!AttemptOutcome::Blocked { reason: "loopback".into() }.is_retryable());
        assert!(AttemptOutcome::Failed { status: 500 }.is_retryable());
        assert!(AttemptOutcome::Failed { status: 302 }.is_retryable());
        assert!(AttemptOutcome::Timeout.is_retryable());
        assert!(AttemptOutcome::Connect { reason: "refused".into() }.is_retryable());
        // 429 and 503 mean "later" (contract §9.3): retried like a 5xx.
        assert!(AttemptOutcome::of_status(429).is_retryable());
        assert!(AttemptOutcome::of_status(503).is_retryable());
        assert!(!AttemptOutcome::of_status(400).is_retryable());
        assert!(!AttemptOutcome::of_status(410).is_retryable());
        assert!(AttemptOutcome::of_status(204).is_success());
    }
}
