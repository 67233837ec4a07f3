-- Ferrogram's first schema (PostgreSQL). Times are Unix seconds (BIGINT); JSON is TEXT.
-- Bots are named by their Telegram id in the engine's tables; no foreign key ties them to
-- `bots`, so a bot run from a file (not managed in the dashboard) keeps its state too.

-- Tenants, their bots and every saved version of a bot file (for the dashboard).
CREATE TABLE workspaces (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE bots (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    telegram_id  BIGINT UNIQUE,
    created_at   BIGINT NOT NULL
);
CREATE INDEX bots_by_workspace ON bots (workspace_id);

CREATE TABLE bot_versions (
    bot_id     BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    source     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (bot_id, version)
);

-- Where each chat is in the conversation: engine::ChatState as JSON.
CREATE TABLE chat_states (
    bot_id     BIGINT NOT NULL,
    chat_id    BIGINT NOT NULL,
    state      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (bot_id, chat_id)
);

-- One row per variable, so parallel chats never overwrite each other's bot-wide variables.
-- owner_id is the user or chat id; 0 for the bot scope.
CREATE TABLE variables (
    bot_id     BIGINT NOT NULL,
    scope      TEXT   NOT NULL CHECK (scope IN ('user', 'chat', 'bot')),
    owner_id   BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (bot_id, scope, owner_id, name)
);

-- When each scheduled job runs next; claimed with a compare-and-set so one process runs it.
CREATE TABLE job_runs (
    bot_id      BIGINT NOT NULL,
    job         TEXT   NOT NULL,
    next_run_at BIGINT NOT NULL,
    PRIMARY KEY (bot_id, job)
);

-- Updates stored before they are acknowledged; a redelivered update is stored once.
CREATE TABLE inbox (
    bot_id      BIGINT NOT NULL,
    update_id   BIGINT NOT NULL,
    raw         TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    handled_at  BIGINT,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX inbox_unhandled ON inbox (bot_id, update_id) WHERE handled_at IS NULL;

-- Bot API calls to make, in id order; sent_at is set once Telegram accepted the call.
CREATE TABLE outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id     BIGINT NOT NULL,
    chat_id    BIGINT NOT NULL,
    method     TEXT   NOT NULL,
    params     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT,
    attempts   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
