-- The notification outbox (issue: notifications): what each Notifier is to send, kept until
-- it is sent or given up, so a restart drops nothing. Portable as 0001.
--
-- A row stands for `occurrences` identical notifications (same notifier and `fold_key`): the
-- first of a fold window is sent at once (`summary` 0), the rest of that window are counted
-- in one `summary` 1 row sent when the window ends (`window_end`, microseconds). A notifier
-- that does not fold puts the event's id in the fold key and 0 in `window_end`. `notice` is
-- the notice as JSON; never a secret (the address and token are read when sending).
--
-- `notification_cursor` holds the id of the last event looked at: moved in the same
-- transaction as the rows that event made, so each event is looked at once. It starts at the
-- newest event when the store gets this schema: what happened before is never announced, and
-- everything after is, however late the first notifier (a new leader, say) looks.

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notifier TEXT NOT NULL,
    fold_key TEXT NOT NULL,
    window_end BIGINT NOT NULL,
    summary INTEGER NOT NULL,
    occurrences INTEGER NOT NULL,
    event_id BIGINT NOT NULL,
    notice TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    due BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    last_error TEXT,
    UNIQUE (notifier, fold_key, window_end, summary)
);

CREATE INDEX notifications_due ON notifications (state, due);

CREATE TABLE notification_cursor (
    name TEXT PRIMARY KEY,
    event_id BIGINT NOT NULL
);

INSERT INTO notification_cursor (name, event_id) SELECT 'notifier', COALESCE(MAX(id), 0) FROM events;
