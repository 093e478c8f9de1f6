-- 005-dose.sql: dose from the CT Radiation Dose SR (user_version 5).
--
-- hrauditd records the CT Radiation Dose SR (SOP class
-- 1.2.840.10008.5.1.4.1.1.88.67, PS3.16 TID 10011) of a study whose events
-- target the heart or chest, or whose study has a recorded cardiac series:
-- one row per SR instance in dose_report, one per irradiation event
-- (TID 10013) in dose_event.  View dose_link says which event produced each
-- series, and how sure that is; the exam view gains the exam's DLP from it.
-- Links are computed when read, never stored: images and SR may arrive in
-- any order, over any number of associations, and the link is the same.
-- No patient name, patient ID or birth date is stored.

-- (0008,3010) Irradiation Event UID: its first value, from the material of
-- the instance the row shows (so `hraudit reparse` derives it again).
ALTER TABLE series ADD COLUMN irradiation_event_uid TEXT;
-- The earliest and the latest acquisition time of the series' instances:
-- (0008,002A) Acquisition DateTime, else (0008,0022) Acquisition Date with
-- (0008,0032) Acquisition Time, as YYYY-MM-DDTHH:MM:SS[.ffffff], the
-- scanner's local time (an offset is dropped).  Kept over every instance
-- received, like last_received; not raw material, so reparse leaves them.
ALTER TABLE series ADD COLUMN acquisition_start TEXT;
ALTER TABLE series ADD COLUMN acquisition_end TEXT;

-- One row per dose report (SR instance).  Receiving the same SOP Instance
-- UID again changes nothing.
CREATE TABLE dose_report (
    sop_instance_uid TEXT PRIMARY KEY NOT NULL, -- (0008,0018) of the SR
    study_uid        TEXT NOT NULL,  -- (0020,000D): joins series.study_uid
    series_uid       TEXT,           -- (0020,000E) the SR's own series
    accession_number TEXT,           -- (0008,0050), text: leading zeros kept
    study_date       TEXT,           -- (0008,0020) as YYYY-MM-DD
    manufacturer     TEXT,           -- (0008,0070)
    model            TEXT,           -- (0008,1090)
    station_name     TEXT,           -- (0008,1010)
    start_datetime   TEXT,           -- (113809, DCM) Start of X-Ray Irradiation
    end_datetime     TEXT,           -- (113810, DCM) End of X-Ray Irradiation
    total_dlp_mgycm  NUMERIC,        -- (113813, DCM) CT Dose Length Product Total
    total_events     INTEGER,        -- (113812, DCM) as the report states it
    events           INTEGER NOT NULL, -- rows in dose_event
    received         TEXT NOT NULL,  -- ISO 8601 UTC
    calling_aet      TEXT,           -- AE title that sent it
    -- A later report of the same study that carries one of this report's
    -- Irradiation Event UIDs (a corrected or completed report) replaces
    -- it: the SOP Instance UID of that report, else NULL (current).
    replaced_by      TEXT
);

CREATE INDEX dose_report_study ON dose_report (study_uid);
CREATE INDEX dose_report_accession ON dose_report (accession_number);

-- One row per irradiation event of a report, in the order of its tree.
-- Times are YYYY-MM-DDTHH:MM:SS[.ffffff], the scanner's local time.
CREATE TABLE dose_event (
    sop_instance_uid      TEXT NOT NULL REFERENCES dose_report (sop_instance_uid),
    event_number          INTEGER NOT NULL, -- 1, 2, ... in the report
    study_uid             TEXT NOT NULL,    -- the report's
    event_uid             TEXT,     -- (113769, DCM) Irradiation Event UID
    protocol              TEXT,     -- (125203, DCM) Acquisition Protocol
    target_region         TEXT,     -- (123014, DCM) Target Region: meaning
    target_region_code    TEXT,     -- its code value (T-32000, 80891009)
    acquisition_type      TEXT,     -- (113820, DCM) CT Acquisition Type
    acquisition_type_code TEXT,     -- its code value (P5-08001, 113804)
    start_datetime        TEXT,     -- (111526, DCM) DateTime Started
    exposure_time_s       NUMERIC,  -- (113824, DCM) Exposure Time
    scanning_length_mm    NUMERIC,  -- (113825, DCM) Scanning Length
    ctdivol_mgy           NUMERIC,  -- (113830, DCM) Mean CTDIvol
    dlp_mgycm             NUMERIC,  -- (113838, DCM) DLP
    pitch                 NUMERIC,  -- (113828, DCM) Pitch Factor
    single_collimation_mm NUMERIC,  -- (113826, DCM) Nominal Single Collimation Width
    total_collimation_mm  NUMERIC,  -- (113827, DCM) Nominal Total Collimation Width
    exposure_modulation   TEXT,     -- (113842, DCM) X-Ray Modulation Type
    -- The later report that carries the same event_uid, else NULL (current).
    replaced_by           TEXT,
    PRIMARY KEY (sop_instance_uid, event_number)
) WITHOUT ROWID;

CREATE INDEX dose_event_study ON dose_event (study_uid);
CREATE INDEX dose_event_uid ON dose_event (event_uid);

-- Which current event produced each series of its study, one row per
-- linked series.  The rule, best first (link):
--   event-uid      the series' irradiation_event_uid is the event's UID
--   time+protocol  the series' acquisition_start lies in the event (from
--                  its start to start + exposure time, 2 s either side)
--                  and the protocols match
--   time           the time alone
--   protocol       the protocols alone, and only this one event of the
--                  study matches so (ambiguous: no link)
-- Protocols match when the event's Acquisition Protocol equals the
-- series' protocol_name, or is the first words of its series_description
-- (Siemens names the scan so: "DS_CorAdSeq  0.6  Bv40 ..."), ignoring case
-- and spaces around.  Among events that match a series equally well, the
-- one that started last wins (then the lowest report UID, event number).
CREATE VIEW dose_link AS
WITH ev AS (
    SELECT sop_instance_uid, event_number, study_uid, event_uid,
           lower(trim(protocol)) AS p,
           julianday(start_datetime) AS t0,
           julianday(start_datetime)
               + max(coalesce(exposure_time_s, 0), 0) / 86400.0 AS t1
    FROM dose_event
    WHERE replaced_by IS NULL
),
pair AS (
    SELECT s.series_uid, ev.sop_instance_uid, ev.event_number, ev.t0,
           coalesce(s.irradiation_event_uid = ev.event_uid, 0) AS by_uid,
           coalesce(julianday(s.acquisition_start)
                    BETWEEN ev.t0 - 2 / 86400.0 AND ev.t1 + 2 / 86400.0, 0) AS by_time,
           coalesce(ev.p <> '' AND
                    (ev.p = lower(trim(s.protocol_name)) OR
                     (substr(lower(trim(s.series_description)), 1, length(ev.p)) = ev.p
                      AND substr(trim(s.series_description), length(ev.p) + 1, 1)
                          IN ('', ' '))), 0) AS by_protocol
    FROM series s
    JOIN ev ON ev.study_uid = s.study_uid
),
graded AS (
    SELECT *, CASE WHEN by_uid THEN 1
                   WHEN by_time AND by_protocol THEN 2
                   WHEN by_time THEN 3
                   WHEN by_protocol THEN 4 END AS grade
    FROM pair
),
best AS (
    SELECT *,
           row_number() OVER (PARTITION BY series_uid
                              ORDER BY grade, t0 DESC, sop_instance_uid,
                                       event_number) AS rn,
           count(*) OVER (PARTITION BY series_uid, grade) AS alike
    FROM graded
    WHERE grade IS NOT NULL
)
SELECT series_uid,
       sop_instance_uid,   -- dose_event's key: the report ...
       event_number,       -- ... and the event in it
       CASE grade WHEN 1 THEN 'event-uid' WHEN 2 THEN 'time+protocol'
                  WHEN 3 THEN 'time' ELSE 'protocol' END AS link
FROM best
WHERE rn = 1 AND NOT (grade = 4 AND alike > 1);

-- The exam view of 003-audit.sql, with dose:
--   dlp_mgycm        the sum of the DLP of the distinct events linked to
--                    the exam's series (dose_link), NULL when none is
--   dlp_source       'rdsr' when dlp_mgycm is from linked events, else NULL
--   ctdivol_mgy      the first series' CTDIvol (0018,9345), else the
--                    highest Mean CTDIvol of the exam's linked events
--   ctdivol_source   'image', 'rdsr' or NULL: where ctdivol_mgy is from
--   study_dlp_mgycm  the study's CT Dose Length Product Total: the sum over
--                    its current dose reports (the whole study, topograms
--                    and other scans included: what OpenREM calls DLP total)
--   dose_events      the number of distinct events linked to the exam
DROP VIEW exam;
CREATE VIEW exam AS
WITH typed AS (
    SELECT study_uid, count(DISTINCT scan_type) AS types
    FROM series WHERE scan_type IS NOT NULL GROUP BY study_uid
),
grouped AS (
    SELECT s.*,
           row_number() OVER (PARTITION BY s.study_uid, s.scan_type
                              ORDER BY s.series_number IS NULL, s.series_number,
                                       s.series_uid) AS rn,
           count(*) OVER (PARTITION BY s.study_uid, s.scan_type) AS series_count
    FROM series s
    LEFT JOIN typed t ON t.study_uid = s.study_uid
    WHERE s.scan_type IS NOT NULL OR t.types IS NULL
),
exam_event AS (
    SELECT DISTINCT s.study_uid, s.scan_type, l.sop_instance_uid, l.event_number
    FROM dose_link l
    JOIN series s ON s.series_uid = l.series_uid
),
exam_dose AS (
    SELECT x.study_uid, x.scan_type, count(*) AS events,
           sum(e.dlp_mgycm) AS dlp_mgycm, max(e.ctdivol_mgy) AS ctdivol_mgy
    FROM exam_event x
    JOIN dose_event e ON e.sop_instance_uid = x.sop_instance_uid
                     AND e.event_number = x.event_number
    GROUP BY x.study_uid, x.scan_type
),
study_dose AS (
    SELECT study_uid, sum(total_dlp_mgycm) AS dlp_mgycm
    FROM dose_report WHERE replaced_by IS NULL
    GROUP BY study_uid
)
SELECT g.study_uid, g.accession_number, g.study_date, g.study_time,
       g.manufacturer, g.model, g.station_name, g.institution,
       g.study_description, g.series_description, g.scan_type,
       g.hr_avg, g.hr_min, g.hr_max, g.hr_var, g.heart_rate, g.hr_source,
       coalesce(g.ctdivol_mgy, d.ctdivol_mgy) AS ctdivol_mgy,
       g.pitch, g.series_count,
       c.agatston AS calcium_score,
       CAST(strftime('%w', g.study_date) AS INTEGER) AS weekday, -- 0 = Sunday
       d.dlp_mgycm,
       CASE WHEN d.dlp_mgycm IS NOT NULL THEN 'rdsr' END AS dlp_source,
       CASE WHEN g.ctdivol_mgy IS NOT NULL THEN 'image'
            WHEN d.ctdivol_mgy IS NOT NULL THEN 'rdsr' END AS ctdivol_source,
       sd.dlp_mgycm AS study_dlp_mgycm,
       coalesce(d.events, 0) AS dose_events
FROM grouped g
LEFT JOIN calcium_score c ON c.accession_number = g.accession_number
LEFT JOIN exam_dose d ON d.study_uid = g.study_uid AND d.scan_type IS g.scan_type
LEFT JOIN study_dose sd ON sd.study_uid = g.study_uid
WHERE g.rn = 1;
