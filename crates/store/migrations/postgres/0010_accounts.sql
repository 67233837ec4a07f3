-- Accounts (PostgreSQL): the people who sign in to the dashboard, their workspace memberships,
-- their sessions and the one-time setup and invite links (decision 0042).

-- `email_key` is the address lower-cased (by the store, Unicode-aware): unique without regard
-- to case. `password_hash` is an argon2id PHC string. `disabled_at` set: cannot sign in.
CREATE TABLE accounts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE memberships (
    account_id   BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    workspace_id BIGINT  NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (account_id, workspace_id)
);
CREATE INDEX memberships_by_workspace ON memberships (workspace_id);

-- Only the SHA-256 (hex) of a session's secret (the cookie) is stored.
CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    account_id   BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    user_agent   TEXT    NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id);

-- One-time links: `setup` creates the first owner; `invite` an account with a role in a
-- workspace. Only the SHA-256 of the link's secret is stored; `used_at` set: spent.
CREATE TABLE account_links (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('setup', 'invite')),
    workspace_id BIGINT  REFERENCES workspaces (id) ON DELETE CASCADE,
    role         TEXT    CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    used_at      BIGINT
);
