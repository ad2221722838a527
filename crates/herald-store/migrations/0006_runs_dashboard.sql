-- The dashboard's lists (`Store::list_runs` by trigger, source or phase, newest first, and
-- `Store::latest_runs_of`) read these indexes instead of scanning every run.
-- Portable as 0001.

CREATE INDEX runs_trigger_latest ON runs (namespace, trigger_kind, trigger_name, id);
CREATE INDEX runs_trigger ON runs (trigger_name, id);
CREATE INDEX runs_source ON runs (source_name, id);
CREATE INDEX runs_phase_id ON runs (phase, id);
DROP INDEX runs_phase;
