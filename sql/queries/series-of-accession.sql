-- series-of-accession.sql: every series recorded for one accession number,
-- with what was read from it: to look into one examination ("why is its HR
-- missing?", "which scan type was it given, and why?").
--
-- Run (the accession number is required; keep both kinds of quotes, or
-- leading zeros are lost):
--       sqlite3 -header -column -cmd ".parameter set :accession \"'0012345678'\"" \
--               /var/lib/hraudit/hraudit.db < series-of-accession.sql
--
-- These are series, not exams: the reconstructions of one scan are listed
-- one by one.  hr_source says where the HR came from, scan_type_source which
-- rule or inference gave the scan type; scan_options is the raw (0018,0022).

SELECT study_date,
       study_time,
       model,
       station_name,
       series_number AS no,
       series_description,
       scan_type,
       scan_type_source,
       hr_avg,
       hr_min,
       hr_max,
       hr_var,
       heart_rate,
       hr_source,
       phase_percent AS phase,
       ctdivol_mgy,
       pitch,
       instances,
       scan_options
FROM series
WHERE accession_number = :accession
ORDER BY study_date, study_time, series_number IS NULL, series_number, series_uid;
