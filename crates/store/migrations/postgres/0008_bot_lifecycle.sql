-- A bot's lifecycle (PostgreSQL; decision 0040): whether `serve` runs it, the supervisor's last known
-- status of it, and the bots removed (so a folder import does not bring an unchanged file's bot
-- back). Times are Unix seconds.

-- `bot stop` / `bot disable` clear it, `bot start` / `bot enable` set it; serve runs only
-- enabled bots. Existing bots stay enabled.
ALTER TABLE bots ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;

-- The supervisor's last status of each bot (one row per bot, replaced at each change), read at
-- the next start of serve. errors is a JSON array of {"at", "message"}, oldest first.
CREATE TABLE bot_statuses (
    bot_id     BIGINT PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
    status     TEXT    NOT NULL,
    since      BIGINT NOT NULL,
    version    BIGINT,
    attempts   BIGINT NOT NULL,
    errors     TEXT    NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The bots `bot remove` removed: the SHA-256 (hex) of their last version's source, so that the
-- same file in serve's folder is not imported again (a changed one, or `bot add`, is).
CREATE TABLE removed_bots (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    source_hash  TEXT    NOT NULL,
    removed_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
