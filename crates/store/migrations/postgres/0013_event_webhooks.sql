-- Outgoing event webhooks (decision 0050): a workspace's subscriptions, the events recorded for
-- them, and the durable delivery queue with its log of attempts. Times are Unix seconds. A
-- subscription's signing secret is not here: it is sealed in `secrets` (name `webhook.ID`).

-- events and bots are JSON arrays of text: the event types received (`bot.publish`, `bot.*`;
-- [] for all) and the bots' names (an event of another bot, or of none, is not sent; [] for all).
CREATE TABLE webhooks (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url          TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    events       TEXT    NOT NULL,
    bots         TEXT    NOT NULL,
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX webhooks_by_workspace ON webhooks (workspace_id, id);

-- One row per event some subscription received: payload is the JSON body sent, as sent.
CREATE TABLE webhook_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    type         TEXT    NOT NULL,
    bot          TEXT,
    payload      TEXT    NOT NULL,
    at           BIGINT NOT NULL
);

-- The queue: state is pending (next_attempt_at due time), delivered or failed (final).
-- lease_until is set while one worker is attempting it, so two never send it at once.
CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        BIGINT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    state           TEXT    NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT,
    lease_until     BIGINT,
    redelivery_of   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

-- Each attempt: the HTTP status answered (NULL when none: a timeout, a refused connection),
-- how long it took, and the error in words.
CREATE TABLE webhook_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    status_code BIGINT,
    duration_ms BIGINT NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
