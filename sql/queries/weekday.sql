-- weekday.sql: count and mean heart rate by day of the week, per scan type
-- and scanner, all seven days even when empty (the seed's "Results - HR by
-- weekday" tables: are heart rates controlled the same way every day?).
-- Same rows as `hraudit weekday`.
--
-- Run:  sqlite3 -header -column /var/lib/hraudit/hraudit.db < weekday.sql
-- A period (inclusive; the value is SQL, so keep the single quotes):
--       sqlite3 -header -column -cmd ".parameter set :from \"'2024-03-01'\"" \
--               -cmd ".parameter set :to \"'2025-10-31'\"" \
--               /var/lib/hraudit/hraudit.db < weekday.sql
--
-- Every scan type seen is listed with every scanner seen (zeros included),
-- as the seed's tables have a column per scanner for each scan type.  The
-- exam view's weekday is strftime('%w', study_date): 0 is Sunday.  Mean HR
-- is over the exams with an HR; empty when there is none.

WITH e AS (
    SELECT model AS scanner, scan_type, weekday, hr_avg
    FROM exam
    WHERE (:from IS NULL OR study_date >= :from)
      AND (:to IS NULL OR study_date <= :to)
),
days (weekday, name) AS (
    VALUES (0, 'Sunday'), (1, 'Monday'), (2, 'Tuesday'), (3, 'Wednesday'),
           (4, 'Thursday'), (5, 'Friday'), (6, 'Saturday')
),
combos AS (
    SELECT t.scan_type, s.scanner
    FROM (SELECT DISTINCT scan_type FROM e) t,
         (SELECT DISTINCT scanner FROM e) s
)
SELECT c.scan_type,
       c.scanner,
       d.name                  AS weekday,
       count(e.weekday)        AS exams,
       round(avg(e.hr_avg), 1) AS mean_hr_bpm
FROM combos c
CROSS JOIN days d
LEFT JOIN e ON e.scan_type IS c.scan_type AND e.scanner IS c.scanner
           AND e.weekday = d.weekday
GROUP BY c.scan_type, c.scanner, d.weekday
ORDER BY c.scan_type, c.scanner, d.weekday;
