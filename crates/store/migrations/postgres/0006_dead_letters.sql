-- How many times each stored update was dispatched (counted before each dispatch, a replay
-- after a restart included): an update whose handler never finished in its attempts is set
-- aside instead of being replayed once more.
ALTER TABLE inbox ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;

-- Updates set aside instead of handled (a handler that panicked, overran its budget, or never
-- finished in its attempts), for the operator to retry or discard (`ferrogram dead-letters`).
-- Times are Unix seconds.
CREATE TABLE dead_letters (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id    BIGINT NOT NULL,
    update_id BIGINT NOT NULL,
    chat_id   BIGINT,
    raw       TEXT   NOT NULL,
    reason    TEXT   NOT NULL,
    attempts  BIGINT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX dead_letters_by_bot ON dead_letters (bot_id, id);
