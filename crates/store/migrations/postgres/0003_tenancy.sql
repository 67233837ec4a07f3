-- Tenancy (PostgreSQL): API tokens, the audit log and notification subscriptions.

-- Only the token's SHA-256 (hex) is stored, never the token itself.
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    role         TEXT   NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    token_hash   TEXT   NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_by_workspace ON api_tokens (workspace_id);

-- Who did what to which object of a workspace; detail is JSON.
CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    actor        TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    target       TEXT   NOT NULL,
    detail       TEXT   NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, id);

-- Who gets a bot's notifications on a topic (bot_id is the Telegram id, like the state tables).
CREATE TABLE subscriptions (
    bot_id     BIGINT NOT NULL,
    chat_id    BIGINT NOT NULL,
    topic      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (bot_id, topic, chat_id)
);

CREATE INDEX bots_by_name ON bots (name);
