-- Outgoing event webhooks (decision 0050): a workspace's subscriptions, the events recorded for
-- them, and the durable delivery queue with its log of attempts. Times are Unix seconds. A
-- subscription's signing secret is not here: it is sealed in `secrets` (name `webhook.ID`).

-- events and bots are JSON arrays of text: the event types received (`bot.publish`, `bot.*`;
-- [] for all) and the bots' names (an event of another bot, or of none, is not sent; [] for all).
CREATE TABLE webhooks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url          TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    events       TEXT    NOT NULL,
    bots         TEXT    NOT NULL,
    enabled      BOOLEAN NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX webhooks_by_workspace ON webhooks (workspace_id, id);

-- One row per event some subscription received: payload is the JSON body sent, as sent.
CREATE TABLE webhook_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    type         TEXT    NOT NULL,
    bot          TEXT,
    payload      TEXT    NOT NULL,
    at           INTEGER NOT NULL
);

-- The queue: state is pending (next_attempt_at due time), delivered or failed (final).
-- lease_until is set while one worker is attempting it, so two never send it at once.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    lease_until     INTEGER,
    redelivery_of   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

-- Each attempt: the HTTP status answered (NULL when none: a timeout, a refused connection),
-- how long it took, and the error in words.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
