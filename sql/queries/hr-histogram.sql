-- hr-histogram.sql: heart-rate histogram per scanner in 5-bpm bins (the
-- seed's "Results - main site, HR histogram"), with a bar of '#' scaled so
-- that each scanner's fullest bin has 50, and a "no HR" line for the exams
-- without a heart rate.
-- Same counts as `hraudit histogram --bin 5` (which also lists empty bins).
--
-- Run:  sqlite3 -header -column /var/lib/hraudit/hraudit.db < hr-histogram.sql
-- A period (inclusive; the value is SQL, so keep the single quotes):
--       sqlite3 -header -column -cmd ".parameter set :from \"'2024-03-01'\"" \
--               -cmd ".parameter set :to \"'2025-10-31'\"" \
--               /var/lib/hraudit/hraudit.db < hr-histogram.sql
--
-- Bin "55-59" holds 55 <= HR < 60 (HR is the exam's hr_avg, bpm; it may
-- have decimals).  Only bins with exams are listed.  Another width: change
-- the three 5s below.

WITH e AS (
    SELECT model AS scanner, hr_avg,
           CAST(hr_avg / 5 AS INTEGER) * 5 AS bin_from  -- floor: HR >= 0
    FROM exam
    WHERE (:from IS NULL OR study_date >= :from)
      AND (:to IS NULL OR study_date <= :to)
),
bins AS (
    SELECT scanner, bin_from, count(*) AS exams
    FROM e
    GROUP BY scanner, bin_from
)
SELECT scanner,
       CASE WHEN bin_from IS NULL THEN 'no HR'
            ELSE printf('%d-%d', bin_from, bin_from + 5 - 1) END AS hr_bpm,
       exams,
       printf('%.*c', (exams * 50 + max(exams) OVER (PARTITION BY scanner) - 1)
                      / max(exams) OVER (PARTITION BY scanner), '#') AS bar
FROM bins
ORDER BY scanner, bin_from IS NULL, bin_from;
