# test_dose.sh - the "dose-sr" integration test (sourced by run.sh, bash
# only): DLP from the CT Radiation Dose SR (sql/005-dose.sql).
#
# The test study's images, with what links them to the fictional SR
# tests/data/study-dose.sr (its header says which event makes which series
# and how), are sent to hrauditd with storescu, and the SR over another
# association, first after the images, then (a second daemon) before
# them.  Checked with sqlite3 and the CLI: one dose_report and four
# dose_event rows, the links and their confidence, the same whatever the
# order, an SR sent twice recorded once, `hraudit summary` with the median
# DLP per scan type and the line saying where DLP came from, no patient
# data stored.  An SR whose tree cannot be read is refused with 0xC000 and
# one log line.  When ../shared/data/CT-RDSR-Siemens_Flash-QA-DS.dcm (a real
# SR, OpenREM's test file) is there it is sent too: 9 events, DLP total
# 1590 mGy.cm; otherwise that part says it skipped.
#
# Defines test_dose_sr; uses run.sh's err, start, sql, expect_sql,
# storescu_send, check_no_canaries and lib.sh's build_study, dose_dumps
# and dose_sr_build.
# shellcheck shell=bash
# shellcheck disable=SC2154 # root, T, TEST_DIR, HRAUDIT, DAEMON_* are set by run.sh

DOSE_UID=1.2.826.0.1.3680043.10.1234
DOSE_SR_UID=$DOSE_UID.8.1.1
DOSE_REAL_SR=$root/../shared/data/CT-RDSR-Siemens_Flash-QA-DS.dcm

# dose_build DIR: the test study in DIR/study, series A carrying the UID of
# event 2, series B the acquisition time of event 3; the SR as DIR/sr.dcm
# and, without its Study Instance UID, DIR/sr-bad.dcm.
dose_build() {
	local dir=$1
	dose_dumps "$dir/data" || return 1
	build_study "$dir/data" "$dir/study" 2>"$dir/build.err" || {
		err "cannot build the study: $(head -c 300 "$dir/build.err")"
		return 1
	}
	dose_sr_build "$dir/sr.dcm" 2>"$dir/build.err" &&
		grep -v '^(0020,000d)' "$dir/sr.dump" |
		sed 's/\.8\.1\.1\]/.8.1.9]/' >"$dir/sr-bad.dump" &&
		dump2dcm -q +te "$dir/sr-bad.dump" "$dir/sr-bad.dcm" || {
		err "cannot build the dose SR from tests/data/study-dose.sr"
		return 1
	}
}

# dose_links DB: "series|event_number|link" of every linked series.
dose_links() {
	sql "$1" "SELECT series_uid || '|' || event_number || '|' || link
		FROM dose_link ORDER BY series_uid"
}

# dose_check_db DB WHAT: the SR's rows and links, as test_dose_sr expects.
dose_check_db() {
	local db=$1 what=$2
	expect_sql "$db" "SELECT count(*) FROM dose_report" 1 "$what: dose_report rows"
	expect_sql "$db" "SELECT count(*) FROM dose_event" 4 "$what: dose_event rows"
	expect_sql "$db" "SELECT sop_instance_uid, study_uid, accession_number,
		typeof(accession_number), study_date, model, total_dlp_mgycm,
		total_events, events, start_datetime, replaced_by FROM dose_report" \
		"$DOSE_SR_UID"$'\x1f'"$DOSE_UID.1.1"$'\x1f'0012345678$'\x1f'text$'\x1f'2024-03-12$'\x1f'"SOMATOM Force"$'\x1f'614.3$'\x1f'4$'\x1f'4$'\x1f'2024-03-12T09:33:00$'\x1f'NULL \
		"$what: the dose_report row"
	expect_sql "$db" "SELECT group_concat(event_number || ' ' || protocol || ' ' ||
		target_region_code || ' ' || acquisition_type_code || ' ' || ctdivol_mgy ||
		' ' || dlp_mgycm || ' ' || coalesce(pitch, '-') || ' ' || start_datetime, ';')
		FROM (SELECT * FROM dose_event ORDER BY event_number)" \
		"1 Topogram T-D3000 113805 0.17 6.1 - 2024-03-12T09:33:00;2 DS_CorAdSeq T-32000 113804 18.56 215.3 - 2024-03-12T09:34:05;3 Cor_Flash T-32000 P5-08001 2.71 38.2 3.2 2024-03-12T09:40:10.200;4 Cardiac CTA Prospective T-32000 113804 25.3 354.7 - 2024-03-12T09:55:00" \
		"$what: the dose_event rows"
	expect_sql "$db" "SELECT group_concat(series_uid || ' ' || irradiation_event_uid)
		FROM series WHERE irradiation_event_uid IS NOT NULL" \
		"$DOSE_UID.2.1 $DOSE_UID.8.3.2" "$what: irradiation_event_uid (series A only)"
	expect_sql "$db" "SELECT acquisition_start || ' ' || acquisition_end FROM series
		WHERE series_uid = '$DOSE_UID.2.2'" \
		"2024-03-12T09:40:11.000000 2024-03-12T09:40:11.000000" \
		"$what: series B's acquisition span"
	expect_sql "$db" "SELECT group_concat(series_uid || '|' || event_number || '|' || link, ' ')
		FROM (SELECT * FROM dose_link ORDER BY series_uid)" \
		"$DOSE_UID.2.1|2|event-uid $DOSE_UID.2.2|3|time+protocol $DOSE_UID.2.3|4|protocol" \
		"$what: dose_link"
	expect_sql "$db" "SELECT group_concat(model || ' ' || coalesce(scan_type, '-') || ' ' ||
		dlp_mgycm || ' ' || dlp_source || ' ' || ctdivol_source || ' ' ||
		study_dlp_mgycm || ' ' || dose_events, ';')
		FROM (SELECT * FROM exam ORDER BY model)" \
		"NAEOTOM Alpha flash 38.2 rdsr image 614.3 1;SOMATOM Force seq_diastolic 215.3 rdsr image 614.3 1" \
		"$what: the exams' dose"
	check_no_canaries "$db" "$db-wal"
}

test_dose_sr() {
	local dir=$TEST_DIR files=() links_after rc out line
	[ -x "$HRAUDIT" ] || { err "no executable '$HRAUDIT' (build it, or set HRAUDIT)"; return; }
	dose_build "$dir" || return
	files=("$dir"/study/series-d/*.dcm "$dir"/study/series-a/*.dcm
		"$dir"/study/series-b/*.dcm "$dir"/study/series-c/*.dcm)

	# 1. Images, then the SR on an association of its own, then again.
	start after || return
	storescu_send TESTSCU "$dir/images-1.out" "${files[@]}"
	storescu_send TESTSCU "$dir/sr-1.out" "$dir/sr.dcm"
	storescu_send TESTSCU "$dir/sr-2.out" "$dir/sr.dcm"
	dose_check_db "$DAEMON_DB" "images first"
	grep -qF "dose report '$DOSE_SR_UID' of study '$DOSE_UID.1.1' from 'TESTSCU'" "$DAEMON_LOG" ||
		err "no log line for the dose report"
	links_after=$(dose_links "$DAEMON_DB")

	# hraudit summary: median DLP per scan type, and where it came from.
	"$HRAUDIT" --db "$DAEMON_DB" summary --format csv >"$dir/summary.csv" 2>"$dir/summary.err"
	rc=$?
	[ $rc -eq 0 ] || err "hraudit summary exited $rc: $(head -c 300 "$dir/summary.err")"
	out=$(cut -d, -f1,2,3,8,9 "$dir/summary.csv" | tr '\r' ' ' | tr '\n' ';')
	[ "$out" = "scanner,scan_type,exams,median_ctdivol_mgy,median_dlp_mgycm ;NAEOTOM Alpha,flash,1,2.7,38.2 ;SOMATOM Force,seq_diastolic,1,18.6,215.3 ;" ] ||
		err "summary: got '$out'"
	[ "$(cat "$dir/summary.err")" = "DLP from: dose SR (2 exams), none (0)" ] ||
		err "summary's source line: '$(head -c 300 "$dir/summary.err")'"
	"$HRAUDIT" --db "$DAEMON_DB" summary --by year --format csv >"$dir/year.csv" 2>/dev/null
	out=$(cut -d, -f1,2,7,8 "$dir/year.csv" | tr -d '\r' | tr '\n' ';')
	[ "$out" = "year,exams,median_ctdivol_mgy,median_dlp_mgycm;2024,2,10.6,126.8;" ] ||
		err "summary --by year: got '$out'"
	"$HRAUDIT" --db "$DAEMON_DB" summary >"$dir/summary.txt" 2>&1 ||
		err "hraudit summary (table) failed: $(head -c 300 "$dir/summary.txt")"
	grep -q '^DLP from: dose SR (2 exams), none (0)$' "$dir/summary.txt" ||
		err "the table summary does not say where DLP came from"

	# merge-openrem: our DLP (dose SR) beside OpenREM's, each named.
	printf '%s\r\n' 'Accession number,Study date,No. events,DLP total (mGy.cm),E1 Protocol,E1 Type,E1 CTDIvol (mGy),E1 DLP (mGy.cm)' \
		'0012345678,2024-03-12,1,620.0,DS_CorAdSeq,Sequenced,18.56,216.0' >"$dir/openrem.csv"
	"$HRAUDIT" --db "$DAEMON_DB" merge-openrem "$dir/openrem.csv" -o "$dir/merged.csv" \
		>"$dir/merge.out" 2>&1 || err "merge-openrem failed: $(head -c 300 "$dir/merge.out")"
	out=$(python3 - "$dir/merged.csv" <<'EOF_PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print(";".join("%s %s %s %s %s" % (r["scan_type"], r["dlp_mgycm"], r["dlp_source"],
      r["openrem_dlp_total_mgycm"], r["event_dlp_mgycm"]) for r in rows))
EOF_PY
	)
	[ "$out" = "flash 38.2 rdsr 620.0 ;seq_diastolic 215.3 rdsr 620.0 216.0" ] ||
		err "merge-openrem: got '$out'"

	# An SR whose tree cannot be read: 0xC000, one log line.
	TCP_NODELAY=1 timeout 30 storescu -v -to 5 -ta 5 -td 10 -aec HRAUDIT -aet TESTSCU \
		127.0.0.1 "$DAEMON_PORT" "$dir/sr-bad.dcm" >"$dir/sr-bad.out" 2>&1
	grep -q 'Received Store Response (Error: CannotUnderstand)' "$dir/sr-bad.out" ||
		err "the unreadable SR was not refused with 0xC000: $(grep 'Store Response' "$dir/sr-bad.out" | head -n 2)"
	[ "$(grep -c "$DOSE_UID.8.1.9" "$DAEMON_LOG")" -eq 1 ] ||
		err "not one log line for the unreadable SR: $(grep -c "$DOSE_UID.8.1.9" "$DAEMON_LOG")"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM dose_report" 1 "dose reports after the unreadable SR"
	check_no_canaries "$DAEMON_LOG"
	daemon_stop

	# 2. The SR first, then the images: the same links.
	start before || return
	storescu_send TESTSCU "$dir/sr-3.out" "$dir/sr.dcm"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM dose_link" 0 "links before the images"
	storescu_send TESTSCU "$dir/images-2.out" "${files[@]}"
	dose_check_db "$DAEMON_DB" "SR first"
	[ "$(dose_links "$DAEMON_DB")" = "$links_after" ] ||
		err "the links depend on the order of arrival"

	# 3. The real SR, when it is there.
	if [ -r "$DOSE_REAL_SR" ]; then
		storescu_send TESTSCU "$dir/real.out" "$DOSE_REAL_SR"
		expect_sql "$DAEMON_DB" "SELECT events || ' ' || total_events || ' ' ||
			total_dlp_mgycm || ' ' || model FROM dose_report WHERE study_uid =
			'1.3.6.1.4.1.5962.99.1.3532166422.478333303.1485295916310.3.0'" \
			"9 9 1590 SOMATOM Definition Flash" "the real SR's report"
		expect_sql "$DAEMON_DB" "SELECT count(*), round(sum(dlp_mgycm), 2),
			sum(target_region_code = 'T-32000') FROM dose_event WHERE study_uid =
			'1.3.6.1.4.1.5962.99.1.3532166422.478333303.1485295916310.3.0'" \
			"9"$'\x1f'"1590.0"$'\x1f'"8" "the real SR's events"
		line=$(sql "$DAEMON_DB" "SELECT accession_number FROM dose_report WHERE model =
			'SOMATOM Definition Flash'")
		[ "$line" = 74624646290 ] || err "the real SR's accession number: '$line'"
	else
		echo "# dose-sr: skipped the real SR (no $DOSE_REAL_SR)"
	fi
}
