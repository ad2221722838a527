-- The steps of a run (issue: multi-step actions): each step's latest attempt, and a step
-- column on the transitions so one history holds the run's and every step's. Portable as
-- 0001: the same text runs on SQLite and PostgreSQL.

CREATE TABLE run_steps (
    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    phase TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    reason TEXT,
    message TEXT,
    exit_code INTEGER,
    started_at BIGINT,
    finished_at BIGINT,
    outputs TEXT,
    output TEXT,
    PRIMARY KEY (run_id, name)
);

ALTER TABLE run_transitions ADD COLUMN step TEXT;
ALTER TABLE run_transitions ADD COLUMN attempt INTEGER;
ALTER TABLE run_transitions ADD COLUMN from_phase TEXT;
