-- mean-hr-per-scan-type.sql: per scan type and scanner, the number of exams,
-- mean heart rate and HRV, and median CTDIvol (the seed's "Results - main
-- site, heart rate" and the "Mar 24-Oct 25" table: exams, median CTDIvol and
-- mean HR per scan type and scanner).
-- Same numbers as `hraudit summary --by scan_type,scanner` (which also
-- gives the median HR).
--
-- Run:  sqlite3 -header -column /var/lib/hraudit/hraudit.db < mean-hr-per-scan-type.sql
-- A period (inclusive; the value is SQL, so keep the single quotes):
--       sqlite3 -header -column -cmd ".parameter set :from \"'2024-03-01'\"" \
--               -cmd ".parameter set :to \"'2025-10-31'\"" \
--               /var/lib/hraudit/hraudit.db < mean-hr-per-scan-type.sql
--
-- HR is the exam's hr_avg, bpm; HRV its hr_var, bpm (only some models
-- write it).  Means and the median leave out exams where the value is
-- missing: exams_with_hr says how many had an HR.  SQLite has no median()
-- so it is taken from the middle row(s) of each group, numbered in order.

WITH e AS (
    SELECT model AS scanner, scan_type, hr_avg, hr_var, ctdivol_mgy
    FROM exam
    WHERE (:from IS NULL OR study_date >= :from)
      AND (:to IS NULL OR study_date <= :to)
),
ranked AS (
    SELECT scanner, scan_type, ctdivol_mgy,
           row_number() OVER (PARTITION BY scanner, scan_type
                              ORDER BY ctdivol_mgy) AS i,
           count(*) OVER (PARTITION BY scanner, scan_type) AS n
    FROM e
    WHERE ctdivol_mgy IS NOT NULL
),
median AS (  -- the middle value, or the mean of the two middle values
    SELECT scanner, scan_type, avg(ctdivol_mgy) AS ctdivol_mgy
    FROM ranked
    WHERE i IN ((n + 1) / 2, (n + 2) / 2)
    GROUP BY scanner, scan_type
)
SELECT e.scan_type,
       e.scanner,
       count(*)                    AS exams,
       count(e.hr_avg)             AS exams_with_hr,
       round(avg(e.hr_avg), 1)     AS mean_hr_bpm,
       round(avg(e.hr_var), 1)     AS mean_hrv_bpm,
       round(max(m.ctdivol_mgy), 1) AS median_ctdivol_mgy
FROM e
LEFT JOIN median m ON m.scanner IS e.scanner AND m.scan_type IS e.scan_type
GROUP BY e.scan_type, e.scanner
ORDER BY e.scan_type, e.scanner;
