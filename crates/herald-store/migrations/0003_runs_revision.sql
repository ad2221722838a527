-- Looking a revision up (`Store::revision_summary`): the events table is indexed by revision
-- since 0002; runs were not. Portable as 0001.

CREATE INDEX runs_revision ON runs (revision, id);
