-- Secrets at rest (decision 0034): a bot's token (and later a workspace's integration keys),
-- each sealed with XChaCha20-Poly1305 under the server's secret key, which is never in the
-- database. `key_id` names the key (16 hex digits of a hash of it), `nonce` is random per value,
-- `ciphertext` holds the tag; the workspace, bot and name are the associated data, so a
-- ciphertext copied to another row does not decrypt there. Times are Unix seconds.
CREATE TABLE secrets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- The dashboard's bot id (as in bot_versions) for a bot's own secret; NULL for the workspace's.
    bot_id       INTEGER REFERENCES bots (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    key_id       TEXT    NOT NULL,
    nonce        BLOB    NOT NULL,
    ciphertext   BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX secrets_by_owner ON secrets (workspace_id, COALESCE(bot_id, 0), name);
CREATE INDEX secrets_by_bot ON secrets (bot_id);
