-- uhr-spiral-vs-sequential.sql: ultra-high-resolution (NAEOTOM Alpha) exams,
-- retrospective spiral against diastolic gated sequential: number of exams,
-- mean heart rate, median CTDIvol (the seed's "Results - UHR spiral v
-- sequential").
-- Same numbers as `hraudit summary --by scan_type --scan-type uhr_spiral_retro`
-- and `--scan-type uhr_seq_diastolic`.
--
-- Run:  sqlite3 -header -column /var/lib/hraudit/hraudit.db < uhr-spiral-vs-sequential.sql
-- A year, as in the seed (inclusive; the value is SQL, keep the quotes):
--       sqlite3 -header -column -cmd ".parameter set :from \"'2024-11-01'\"" \
--               -cmd ".parameter set :to \"'2025-10-31'\"" \
--               /var/lib/hraudit/hraudit.db < uhr-spiral-vs-sequential.sql
--
-- Median DLP, the seed's last column, is not in the database yet: DLP comes
-- from the CT Radiation Dose SR objects, which hraudit does not record so
-- far.  When the exam view gains a dlp_mgycm column, repeat the `ranked`
-- and `median` steps for it (as `hraudit summary` does by itself).

WITH e AS (
    SELECT scan_type, hr_avg, ctdivol_mgy
    FROM exam
    WHERE scan_type IN ('uhr_spiral_retro', 'uhr_seq_diastolic')
      AND (:from IS NULL OR study_date >= :from)
      AND (:to IS NULL OR study_date <= :to)
),
ranked AS (
    SELECT scan_type, ctdivol_mgy,
           row_number() OVER (PARTITION BY scan_type ORDER BY ctdivol_mgy) AS i,
           count(*) OVER (PARTITION BY scan_type) AS n
    FROM e
    WHERE ctdivol_mgy IS NOT NULL
),
median AS (  -- the middle value, or the mean of the two middle values
    SELECT scan_type, avg(ctdivol_mgy) AS ctdivol_mgy
    FROM ranked
    WHERE i IN ((n + 1) / 2, (n + 2) / 2)
    GROUP BY scan_type
)
SELECT e.scan_type,
       count(*)                     AS exams,
       count(e.hr_avg)              AS exams_with_hr,
       round(avg(e.hr_avg), 1)      AS mean_hr_bpm,
       round(max(m.ctdivol_mgy), 1) AS median_ctdivol_mgy
FROM e
LEFT JOIN median m ON m.scan_type = e.scan_type
GROUP BY e.scan_type
ORDER BY e.scan_type;
