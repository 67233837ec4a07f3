-- The Telegram users and chats each bot has seen, with what Telegram last said of them (names,
-- username, language; chat type and title): for the dashboard, exports and `notify` lists.
-- Times are Unix seconds.
CREATE TABLE bot_users (
    bot_id        BIGINT  NOT NULL,
    user_id       BIGINT  NOT NULL,
    first_name    TEXT    NOT NULL,
    last_name     TEXT,
    username      TEXT,
    language_code TEXT,
    first_seen    BIGINT  NOT NULL,
    last_seen     BIGINT  NOT NULL,
    PRIMARY KEY (bot_id, user_id)
);

CREATE TABLE bot_chats (
    bot_id     BIGINT  NOT NULL,
    chat_id    BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    title      TEXT,
    username   TEXT,
    first_seen BIGINT  NOT NULL,
    last_seen  BIGINT  NOT NULL,
    PRIMARY KEY (bot_id, chat_id)
);
