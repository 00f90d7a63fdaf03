-- Deliveries by creation time, no longer by webhook. An index led by the webhook takes an entry at each webhook's
-- end of it: a group commit of deliveries to a hundred webhooks wrote a hundred of its pages (on SQLite, a
-- third of its time per delivery at fan-out). Led by the creation time, every new entry lands on the index's last page.
-- Replay (by webhook, within a creation window) walks the window of this index; cancelling a deleted webhook's
-- deliveries reads the partial indexes of open deliveries (see docs/STORAGE.md).
DROP INDEX deliveries_by_webhook;
CREATE INDEX deliveries_by_created ON deliveries(created, webhook_id);
