-- 004-retrieve.sql: series recorded by `hraudit retrieve` from a PACS
-- (user_version 4).
--
-- `hraudit retrieve` fetches one instance per series (the lowest Instance
-- Number), by C-GET into the database, or by C-MOVE to hrauditd.  Such a
-- row's `instances` counts the instance fetched, not the series' size: it
-- says so in instances_sampled, and table `retrieved` keeps what the PACS
-- said the size is.

-- 1: the row was made by `hraudit retrieve` from the one instance it
-- fetched, so `instances` is a sample (1), not the series' size (that is
-- retrieved.pacs_instances).  Back to 0 as soon as another instance of the
-- series arrives (sent to hrauditd or imported): `instances` then counts
-- what arrived, as for every other row.  0 for every other row.
ALTER TABLE series ADD COLUMN instances_sampled INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER series_sample_grows AFTER UPDATE OF instances ON series
WHEN NEW.instances_sampled = 1 AND NEW.instances > OLD.instances
BEGIN
    UPDATE series SET instances_sampled = 0 WHERE series_uid = NEW.series_uid;
END;

-- Every series `hraudit retrieve` fetched an instance of, cardiac or not:
-- a later run skips these (and every series already in table series).
CREATE TABLE retrieved (
    series_uid       TEXT PRIMARY KEY NOT NULL, -- (0020,000E)
    study_uid        TEXT NOT NULL,             -- (0020,000D)
    sop_instance_uid TEXT NOT NULL,             -- (0008,0018) the one fetched
    pacs_aet         TEXT NOT NULL,             -- AE title it came from
    method           TEXT NOT NULL,             -- 'c-get' or 'c-move'
    retrieved        TEXT NOT NULL,             -- ISO 8601 UTC
    pacs_instances   INTEGER,  -- (0020,1209) Number of Series Related
                               -- Instances, as the PACS answered; NULL if not
    recorded         INTEGER NOT NULL -- 1: cardiac, a row in series; 0: not
) WITHOUT ROWID;
