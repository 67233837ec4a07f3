-- Broadcasts (decision 0048): a message a workspace sends to a bot's users, and each
-- recipient's progress. The audience is resolved when the broadcast starts: its recipients
-- are rows here, so progress has a known total and a restart resumes where it stopped.
-- `message` and `audience` are the API's JSON; times are Unix seconds.
CREATE TABLE broadcasts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    bot_id       INTEGER NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    message      TEXT    NOT NULL,
    audience     TEXT    NOT NULL,
    -- scheduled, running, paused, cancelled, done
    state        TEXT    NOT NULL,
    scheduled_at INTEGER NOT NULL,
    total        INTEGER,
    error        TEXT,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER
);
CREATE INDEX broadcasts_by_bot ON broadcasts (workspace_id, bot_id, id);
CREATE INDEX broadcasts_by_state ON broadcasts (state, scheduled_at);

-- One row per recipient: pending, sending (recorded before the call is made), sent, failed,
-- blocked (Telegram's 403: the user blocked the bot, or cannot be written to).
CREATE TABLE broadcast_recipients (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    chat_id      INTEGER NOT NULL,
    state        TEXT    NOT NULL,
    error        TEXT,
    PRIMARY KEY (broadcast_id, chat_id)
);
CREATE INDEX broadcast_recipients_by_state ON broadcast_recipients (broadcast_id, state, chat_id);
