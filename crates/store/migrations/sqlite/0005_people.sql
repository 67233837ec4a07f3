-- The Telegram users and chats each bot has seen, with what Telegram last said of them (names,
-- username, language; chat type and title): for the dashboard, exports and `notify` lists.
-- Times are Unix seconds.
CREATE TABLE bot_users (
    bot_id        INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    first_name    TEXT    NOT NULL,
    last_name     TEXT,
    username      TEXT,
    language_code TEXT,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    PRIMARY KEY (bot_id, user_id)
);

CREATE TABLE bot_chats (
    bot_id     INTEGER NOT NULL,
    chat_id    INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    title      TEXT,
    username   TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (bot_id, chat_id)
);
