-- uhr-spiral-vs-sequential.sql: ultra-high-resolution (NAEOTOM Alpha) exams,
-- retrospective spiral against diastolic gated sequential: number of exams,
-- mean heart rate, median CTDIvol and median DLP (the seed's "Results - UHR
-- spiral v sequential").
-- Same numbers as `hraudit summary --by scan_type --scan-type uhr_spiral_retro`
-- and `--scan-type uhr_seq_diastolic`.
--
-- Run:  sqlite3 -header -column /var/lib/hraudit/hraudit.db < uhr-spiral-vs-sequential.sql
-- A year, as in the seed (inclusive; the value is SQL, keep the quotes):
--       sqlite3 -header -column -cmd ".parameter set :from \"'2024-11-01'\"" \
--               -cmd ".parameter set :to \"'2025-10-31'\"" \
--               /var/lib/hraudit/hraudit.db < uhr-spiral-vs-sequential.sql
--
-- Median DLP, the seed's last column, is the exam's dlp_mgycm: from the CT
-- Radiation Dose SR (sql/005-dose.sql), NULL for exams whose dose events
-- did not arrive; exams_with_dlp says how many had one.

WITH e AS (
    SELECT scan_type, hr_avg, ctdivol_mgy, dlp_mgycm
    FROM exam
    WHERE scan_type IN ('uhr_spiral_retro', 'uhr_seq_diastolic')
      AND (:from IS NULL OR study_date >= :from)
      AND (:to IS NULL OR study_date <= :to)
),
ranked AS (  -- each value numbered within its scan type, once per measure
    SELECT scan_type, 'ctdivol' AS measure, ctdivol_mgy AS v,
           row_number() OVER (PARTITION BY scan_type ORDER BY ctdivol_mgy) AS i,
           count(*) OVER (PARTITION BY scan_type) AS n
    FROM e WHERE ctdivol_mgy IS NOT NULL
    UNION ALL
    SELECT scan_type, 'dlp', dlp_mgycm,
           row_number() OVER (PARTITION BY scan_type ORDER BY dlp_mgycm),
           count(*) OVER (PARTITION BY scan_type)
    FROM e WHERE dlp_mgycm IS NOT NULL
),
median AS (  -- the middle value, or the mean of the two middle values
    SELECT scan_type, measure, avg(v) AS v
    FROM ranked
    WHERE i IN ((n + 1) / 2, (n + 2) / 2)
    GROUP BY scan_type, measure
)
SELECT e.scan_type,
       count(*)                     AS exams,
       count(e.hr_avg)              AS exams_with_hr,
       round(avg(e.hr_avg), 1)      AS mean_hr_bpm,
       (SELECT round(v, 1) FROM median m
        WHERE m.scan_type = e.scan_type AND m.measure = 'ctdivol') AS median_ctdivol_mgy,
       count(e.dlp_mgycm)           AS exams_with_dlp,
       (SELECT round(v, 1) FROM median m
        WHERE m.scan_type = e.scan_type AND m.measure = 'dlp') AS median_dlp_mgycm
FROM e
GROUP BY e.scan_type
ORDER BY e.scan_type;
