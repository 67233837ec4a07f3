-- Ferrogram's first schema (SQLite). Times are Unix seconds (INTEGER); JSON is TEXT.
-- Bots are named by their Telegram id in the engine's tables; no foreign key ties them to
-- `bots`, so a bot run from a file (not managed in the dashboard) keeps its state too.

-- Tenants, their bots and every saved version of a bot file (for the dashboard).
CREATE TABLE workspaces (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE bots (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    telegram_id  INTEGER UNIQUE,
    created_at   INTEGER NOT NULL
);
CREATE INDEX bots_by_workspace ON bots (workspace_id);

CREATE TABLE bot_versions (
    bot_id     INTEGER NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (bot_id, version)
);

-- Where each chat is in the conversation: engine::ChatState as JSON.
CREATE TABLE chat_states (
    bot_id     INTEGER NOT NULL,
    chat_id    INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (bot_id, chat_id)
);

-- One row per variable, so parallel chats never overwrite each other's bot-wide variables.
-- owner_id is the user or chat id; 0 for the bot scope.
CREATE TABLE variables (
    bot_id     INTEGER NOT NULL,
    scope      TEXT    NOT NULL CHECK (scope IN ('user', 'chat', 'bot')),
    owner_id   INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (bot_id, scope, owner_id, name)
);

-- When each scheduled job runs next; claimed with a compare-and-set so one process runs it.
CREATE TABLE job_runs (
    bot_id      INTEGER NOT NULL,
    job         TEXT    NOT NULL,
    next_run_at INTEGER NOT NULL,
    PRIMARY KEY (bot_id, job)
);

-- Updates stored before they are acknowledged; a redelivered update is stored once.
CREATE TABLE inbox (
    bot_id      INTEGER NOT NULL,
    update_id   INTEGER NOT NULL,
    raw         TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    handled_at  INTEGER,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX inbox_unhandled ON inbox (bot_id, update_id) WHERE handled_at IS NULL;

-- Bot API calls to make, in id order; sent_at is set once Telegram accepted the call.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id     INTEGER NOT NULL,
    chat_id    INTEGER NOT NULL,
    method     TEXT    NOT NULL,
    params     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
