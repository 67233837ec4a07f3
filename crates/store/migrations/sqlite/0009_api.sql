-- The REST API (decision 0041): a token's visible prefix (shown in listings; older tokens have
-- none), the responses kept for `Idempotency-Key` (24 hours), and the audit log's filters.

ALTER TABLE api_tokens ADD COLUMN prefix TEXT;

-- One row per (token, key): `status` and `response` are NULL while the first request with the
-- key is being answered; `request_hash` is the SHA-256 of its method, path and body.
CREATE TABLE idempotency_keys (
    token_id     INTEGER NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER,
    response     TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (token_id, key)
);

CREATE INDEX audit_log_by_action ON audit_log (workspace_id, action, id);
