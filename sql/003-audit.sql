-- 003-audit.sql: what the audit counts (user_version 3).
--
-- An exam is one cardiac scan: the series of one study that share a scan
-- type (reconstructions of one acquisition, such as "BestDiast 70 %" and
-- "BestSyst 40 %") count once.  Series whose scan type cannot be told join
-- their study's typed exam when there is one, and otherwise make one exam
-- of their own per study.  Its values are those of its first series (lowest
-- series number, then series UID).

-- Agatston calcium scores, imported by `hraudit import-calcium FILE.csv`.
CREATE TABLE calcium_score (
    accession_number TEXT PRIMARY KEY NOT NULL,  -- joins series.accession_number
    agatston         NUMERIC NOT NULL,           -- Agatston score
    imported         TEXT NOT NULL               -- ISO 8601 UTC
);

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
)
SELECT g.study_uid, g.accession_number, g.study_date, g.study_time,
       g.manufacturer, g.model, g.station_name, g.institution,
       g.study_description, g.series_description, g.scan_type,
       g.hr_avg, g.hr_min, g.hr_max, g.hr_var, g.heart_rate, g.hr_source,
       g.ctdivol_mgy, g.pitch, g.series_count,
       c.agatston AS calcium_score,
       CAST(strftime('%w', g.study_date) AS INTEGER) AS weekday -- 0 = Sunday
FROM grouped g
LEFT JOIN calcium_score c ON c.accession_number = g.accession_number
WHERE g.rn = 1;
