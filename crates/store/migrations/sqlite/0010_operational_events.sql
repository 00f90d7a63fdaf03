-- Operational events (contract §9.4, docs/TOPICS.md). `failing_announced`: when Herald last announced this webhook's
-- failing streak (`webhooks.failing`, or `webhooks.disabled` when it disabled the webhook), in microseconds; NULL
-- while no streak is announced. Set and cleared by conditional updates in the transaction that records the attempt
-- causing the transition, so that each transition is announced once. The web UI shows the webhook in its banner
-- while it is set and the webhook was not modified since.
ALTER TABLE webhooks ADD COLUMN failing_announced INTEGER;
