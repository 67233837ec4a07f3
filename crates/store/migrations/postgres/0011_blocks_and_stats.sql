-- Blocked users and daily statistics (decision 0047). Keyed by the engine's bot id, as the
-- other data tables.

-- A bot's users blocked through the API: their updates are stored but no handler runs.
-- `blocked_by` is the audit log's actor (`token:ID`, `account:ID`).
CREATE TABLE blocked_users (
    bot_id     BIGINT  NOT NULL,
    user_id    BIGINT  NOT NULL,
    blocked_at BIGINT  NOT NULL,
    blocked_by TEXT    NOT NULL,
    PRIMARY KEY (bot_id, user_id)
);

-- Per bot and UTC day (days since 1970-01-01), added to at each group commit: updates handled
-- (blocked ones included), blocked, errors, and the reply latency's histogram: `lat_N` counts
-- latencies up to N ms (above the previous bound), `lat_over` those above 30 s.
CREATE TABLE bot_daily_stats (
    bot_id    BIGINT  NOT NULL,
    day       BIGINT  NOT NULL,
    updates   BIGINT  NOT NULL,
    blocked   BIGINT  NOT NULL,
    errors    BIGINT  NOT NULL,
    lat_10    BIGINT  NOT NULL,
    lat_25    BIGINT  NOT NULL,
    lat_50    BIGINT  NOT NULL,
    lat_100   BIGINT  NOT NULL,
    lat_250   BIGINT  NOT NULL,
    lat_500   BIGINT  NOT NULL,
    lat_1000  BIGINT  NOT NULL,
    lat_2500  BIGINT  NOT NULL,
    lat_5000  BIGINT  NOT NULL,
    lat_10000 BIGINT  NOT NULL,
    lat_30000 BIGINT  NOT NULL,
    lat_over  BIGINT  NOT NULL,
    PRIMARY KEY (bot_id, day)
);

-- Who was active (had an update handled) on which UTC day: daily, weekly and monthly active
-- users are distinct counts over these rows.
CREATE TABLE bot_active_users (
    bot_id  BIGINT  NOT NULL,
    day     BIGINT  NOT NULL,
    user_id BIGINT  NOT NULL,
    PRIMARY KEY (bot_id, day, user_id)
);
