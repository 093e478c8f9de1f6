-- exams-per-month.sql: how many exams each scanner did of each scan type,
-- per month (the seed's "Results - main site, scan types").
-- Same numbers as `hraudit summary --by month,scanner,scan_type`.
--
-- Run:  sqlite3 -header -column /var/lib/hraudit/hraudit.db < exams-per-month.sql
-- A period (inclusive; the value is SQL, so keep the single quotes):
--       sqlite3 -header -column -cmd ".parameter set :from \"'2024-03-01'\"" \
--               -cmd ".parameter set :to \"'2025-10-31'\"" \
--               /var/lib/hraudit/hraudit.db < exams-per-month.sql
--
-- Counts are of exams (the `exam` view), not series: the reconstructions
-- of one scan count once.  Scanner is the model name; an empty scan_type
-- is a scan whose type could not be told.

SELECT substr(study_date, 1, 7) AS month,
       model                    AS scanner,
       scan_type,
       count(*)                 AS exams
FROM exam
WHERE (:from IS NULL OR study_date >= :from)
  AND (:to IS NULL OR study_date <= :to)
GROUP BY month, scanner, scan_type
ORDER BY month, scanner, scan_type;
