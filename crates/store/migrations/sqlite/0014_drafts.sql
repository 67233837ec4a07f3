-- A bot's draft (issue 15, decision 0056): at most one per bot, the file the dashboard's editor
-- saved, which may be invalid; separate from the published versions (bot_versions). revision
-- counts its saves (1, 2, …), the ETag "dN" of If-Match; updated_at is Unix seconds, updated_by
-- the actor that saved it (account:ID, token:ID).
CREATE TABLE bot_drafts (
    bot_id     INTEGER NOT NULL PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
    source     TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
);
