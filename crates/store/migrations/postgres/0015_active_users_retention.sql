-- bot_active_users keeps only the days the monthly window needs (decision 0053): before a
-- day's rows are deleted, its distinct active users are kept here, so the day still says how
-- many were active. NULL while the day's rows are still in bot_active_users.
ALTER TABLE bot_daily_stats ADD COLUMN active_users BIGINT;
