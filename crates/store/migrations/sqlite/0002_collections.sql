-- Data collections (SQLite): records, their indexed values and their search terms.
-- Ids are numbered per (bot, collection) from `collection_ids`, so a bot's records keep their
-- ids through an export and import. No foreign keys: the store deletes a record's values and
-- terms in the same transaction, and imports may load the tables in any order.
-- scope/owner_id are as in `variables` (owner 0 for the bot scope).

CREATE TABLE collection_ids (
    bot_id     INTEGER NOT NULL,
    collection TEXT    NOT NULL,
    last_id    INTEGER NOT NULL,
    -- The searchable and indexed fields record_values and record_terms were built for (JSON);
    -- when the bot file changes them (or '' when unknown), the store rebuilds both tables.
    spec       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (bot_id, collection)
);

-- data is the record's fields as a JSON object.
CREATE TABLE records (
    bot_id     INTEGER NOT NULL,
    collection TEXT    NOT NULL,
    id         INTEGER NOT NULL,
    scope      TEXT    NOT NULL CHECK (scope IN ('user', 'chat', 'bot')),
    owner_id   INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (bot_id, collection, id)
);
CREATE INDEX records_by_scope ON records (bot_id, collection, scope, owner_id, id);

-- One row per indexed field a record has. kind: 0 null, 1 boolean, 2 number, 3 string,
-- 4 array, 5 object (engine::value_kind); num holds booleans (0/1) and numbers, text holds
-- strings and the compact JSON of arrays and objects. Compared as engine::compare_values does.
CREATE TABLE record_values (
    bot_id     INTEGER NOT NULL,
    collection TEXT    NOT NULL,
    record_id  INTEGER NOT NULL,
    field      TEXT    NOT NULL,
    kind       INTEGER NOT NULL,
    num        REAL,
    text       TEXT,
    PRIMARY KEY (bot_id, collection, record_id, field)
);
CREATE INDEX record_values_by_num ON record_values (bot_id, collection, field, kind, num);
CREATE INDEX record_values_by_text ON record_values (bot_id, collection, field, kind, text);

-- Search postings: each term of each searchable field of a record (search::analyze), how often
-- it occurs there and the field's length in terms. Ranking is done in Rust (decision 0008).
CREATE TABLE record_terms (
    bot_id     INTEGER NOT NULL,
    collection TEXT    NOT NULL,
    scope      TEXT    NOT NULL CHECK (scope IN ('user', 'chat', 'bot')),
    owner_id   INTEGER NOT NULL,
    term       TEXT    NOT NULL,
    record_id  INTEGER NOT NULL,
    field      TEXT    NOT NULL,
    frequency  INTEGER NOT NULL,
    field_len  INTEGER NOT NULL,
    PRIMARY KEY (bot_id, collection, record_id, field, term)
);
CREATE INDEX record_terms_by_term ON record_terms (bot_id, collection, scope, owner_id, term);
