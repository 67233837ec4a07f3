-- Broadcasts (decision 0048): a message a workspace sends to a bot's users, and each
-- recipient's progress. The audience is resolved when the broadcast starts: its recipients
-- are rows here, so progress has a known total and a restart resumes where it stopped.
-- `message` and `audience` are the API's JSON; times are Unix seconds.
CREATE TABLE broadcasts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT  NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    bot_id       BIGINT  NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    message      TEXT    NOT NULL,
    audience     TEXT    NOT NULL,
    -- scheduled, running, paused, cancelled, done
    state        TEXT    NOT NULL,
    scheduled_at BIGINT  NOT NULL,
    total        BIGINT,
    error        TEXT,
    created_by   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT
);
CREATE INDEX broadcasts_by_bot ON broadcasts (workspace_id, bot_id, id);
CREATE INDEX broadcasts_by_state ON broadcasts (state, scheduled_at);

-- One row per recipient: pending, sending (recorded before the call is made), sent, failed,
-- blocked (Telegram's 403: the user blocked the bot, or cannot be written to).
CREATE TABLE broadcast_recipients (
    broadcast_id BIGINT  NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    chat_id      BIGINT  NOT NULL,
    state        TEXT    NOT NULL,
    error        TEXT,
    PRIMARY KEY (broadcast_id, chat_id)
);
CREATE INDEX broadcast_recipients_by_state ON broadcast_recipients (broadcast_id, state, chat_id);
