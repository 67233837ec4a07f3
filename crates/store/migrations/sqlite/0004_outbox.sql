-- The outbox holds only calls not yet delivered: a delivered call is deleted, so the table
-- stays small and needs no sent flag. Calls are read per bot, oldest first; bulk ones
-- (notifications) go to the flood scheduler's paced lane.
DROP INDEX outbox_unsent;
ALTER TABLE outbox DROP COLUMN sent_at;
ALTER TABLE outbox DROP COLUMN attempts;
ALTER TABLE outbox ADD COLUMN bulk BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX outbox_by_bot ON outbox (bot_id, id);
