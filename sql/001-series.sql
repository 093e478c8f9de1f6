-- 001-series.sql: the first hraudit schema (user_version 1).
--
-- Applied by hrauditd in one transaction when it opens a database whose
-- user_version is 0.  A public interface: physicists query these tables with
-- sqlite3, so columns are renamed only in a new numbered file.
-- Units are in the names (_bpm is implied for hr_*, heart_rate).
-- No patient name, patient ID or birth date is ever stored.

-- One row per Series Instance UID of a cardiac series.
CREATE TABLE series (
    series_uid            TEXT PRIMARY KEY NOT NULL, -- (0020,000E)
    study_uid             TEXT NOT NULL,             -- (0020,000D)
    accession_number      TEXT,     -- (0008,0050), text: leading zeros kept
    study_date            TEXT,     -- (0008,0020) as YYYY-MM-DD
    study_time            TEXT,     -- (0008,0030) as HH:MM:SS
    modality              TEXT,     -- (0008,0060)
    manufacturer          TEXT,     -- (0008,0070)
    model                 TEXT,     -- (0008,1090) Manufacturer's Model Name
    station_name          TEXT,     -- (0008,1010)
    institution           TEXT,     -- (0008,0080)
    study_description     TEXT,     -- (0008,1030)
    series_description    TEXT,     -- (0008,103E)
    protocol_name         TEXT,     -- (0018,1030)
    series_number         INTEGER,  -- (0020,0011)
    patient_weight_kg     NUMERIC,    -- (0010,1030)
    kvp                   NUMERIC,    -- (0018,0060)
    ctdivol_mgy           NUMERIC,    -- (0018,9345)
    pitch                 NUMERIC,    -- (0018,9311) Spiral Pitch Factor
    scan_options          TEXT,     -- (0018,0022) verbatim
    hr_min                NUMERIC,  -- bpm, Scan Options OSCRATEMIN
    hr_max                NUMERIC,  -- bpm, Scan Options OSCRATEMAX
    hr_avg                NUMERIC,  -- bpm, Scan Options OSCRATEAVG
    hr_var                NUMERIC,  -- bpm, Scan Options OSCRATEVAR
    heart_rate            NUMERIC,  -- bpm, (0018,1088) Heart Rate
    phase_percent         NUMERIC,  -- % R-R, Scan Options TP<p>PC / PHSP<p>PC
    rr_interval_ms        NUMERIC,  -- ms, Scan Options TP..PC<rrrr>
    pulsing_start_percent NUMERIC,  -- % R-R, Scan Options PULSTART_P
    pulsing_end_percent   NUMERIC,  -- % R-R, Scan Options PULSEND_P
    scan_type             TEXT,     -- flash, seq_diastolic, ... or NULL
    instances             INTEGER NOT NULL DEFAULT 0, -- distinct SOP instances
    first_received        TEXT NOT NULL, -- ISO 8601 UTC
    last_received         TEXT NOT NULL, -- ISO 8601 UTC
    calling_aet           TEXT           -- AE title that sent the first one
);

CREATE INDEX series_study_date ON series (study_date);
CREATE INDEX series_accession ON series (accession_number);

-- Every SOP instance counted in a series, so a retry counts once.
CREATE TABLE instance (
    sop_instance_uid TEXT PRIMARY KEY NOT NULL,  -- (0008,0018)
    series_uid       TEXT NOT NULL REFERENCES series (series_uid),
    received         TEXT NOT NULL               -- ISO 8601 UTC
) WITHOUT ROWID;

CREATE INDEX instance_series ON instance (series_uid);
