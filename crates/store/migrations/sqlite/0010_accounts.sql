-- Accounts (SQLite): the people who sign in to the dashboard, their workspace memberships,
-- their sessions and the one-time setup and invite links (decision 0042).

-- `email_key` is the address lower-cased (by the store, Unicode-aware): unique without regard
-- to case. `password_hash` is an argon2id PHC string. `disabled_at` set: cannot sign in.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

CREATE TABLE memberships (
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, workspace_id)
);
CREATE INDEX memberships_by_workspace ON memberships (workspace_id);

-- Only the SHA-256 (hex) of a session's secret (the cookie) is stored.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT    NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    user_agent   TEXT    NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id);

-- One-time links: `setup` creates the first owner; `invite` an account with a role in a
-- workspace. Only the SHA-256 of the link's secret is stored; `used_at` set: spent.
CREATE TABLE account_links (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('setup', 'invite')),
    workspace_id INTEGER REFERENCES workspaces (id) ON DELETE CASCADE,
    role         TEXT    CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
