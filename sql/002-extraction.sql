-- 002-extraction.sql: every heart-rate source, the scan type's reason, and
-- the raw material that `hraudit reparse` re-derives them from (user_version 2).

-- Where hr_min/hr_max/hr_avg/hr_var came from: scan_options, heart_rate,
-- cardiac_sync_seq, ge_private or canon_private (hraudit(1), COLUMNS).
ALTER TABLE series ADD COLUMN hr_source TEXT;
-- Which site rule or inference decided scan_type.
ALTER TABLE series ADD COLUMN scan_type_source TEXT;
ALTER TABLE series ADD COLUMN trigger_time_ms NUMERIC;       -- (0018,1060) / (0020,9153)
ALTER TABLE series ADD COLUMN rr_low_ms NUMERIC;             -- (0018,1081)
ALTER TABLE series ADD COLUMN rr_high_ms NUMERIC;            -- (0018,1082)
ALTER TABLE series ADD COLUMN intervals_acquired NUMERIC;    -- (0018,1083)
ALTER TABLE series ADD COLUMN intervals_rejected NUMERIC;    -- (0018,1084)
ALTER TABLE series ADD COLUMN single_collimation_mm NUMERIC; -- (0018,9306)
ALTER TABLE series ADD COLUMN total_collimation_mm NUMERIC;  -- (0018,9307)
ALTER TABLE series ADD COLUMN acquisition_type TEXT;         -- (0018,9302)
ALTER TABLE series ADD COLUMN exposure_modulation TEXT;      -- (0018,9323)
ALTER TABLE series ADD COLUMN frames NUMERIC;                -- (0028,0008)
-- Instance Number of the instance whose material the row shows (the rule:
-- the lowest Instance Number of the series wins; see hraudit(1)).
ALTER TABLE series ADD COLUMN source_instance_number INTEGER;

-- The raw material of a series: every element the extraction read, verbatim,
-- as a JSON object (keys as in raw.h).  Instances whose material is the same
-- share one row; first_instance_number is the lowest Instance Number seen.
CREATE TABLE series_raw (
    series_uid            TEXT NOT NULL REFERENCES series (series_uid),
    raw_hash              INTEGER NOT NULL,  -- 64-bit FNV-1a of raw_json
    raw_json              TEXT NOT NULL,
    instances             INTEGER NOT NULL,  -- distinct instances with it
    first_instance_number INTEGER,           -- lowest (0020,0013) seen
    PRIMARY KEY (series_uid, raw_hash)
) WITHOUT ROWID;
