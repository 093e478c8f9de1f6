# test_retrieve.sh - integration tests of `hraudit retrieve`: Orthanc as
# the PACS, loaded over C-STORE (storescu) with studies on several dates,
# cardiac and not, built from the tests/data dumps with their dates and
# UIDs changed; one instance per series fetched by C-GET into the database,
# or by C-MOVE to a running hrauditd, and the CT Radiation Dose SR of a
# study with cardiac series (tests/data/study-dose.sr, its DLP then in
# `hraudit summary`); a second run fetches nothing; the
# errors (unreachable PACS, refused association, silent PACS, unknown move
# destination, bad arguments) end with one line and status 1 (2 for usage).
#
# Sourced by run.sh, whose helpers (err, start, sql, expect_sql,
# check_no_canaries) and variables (T, TEST_DIR, HRAUDIT, root) these
# functions use, with lib.sh's orthanc_start, free_port, daemon_start,
# dose_dumps and dose_sr_build;
# defines functions only.
# shellcheck shell=bash
# shellcheck disable=SC2154 # root, T, HRAUDIT, ... are set by run.sh

# The PACS's studies: NAME:DATE:SERIES[:dose].  The range asked for is
# RETRIEVE_FROM..RETRIEVE_TO: s1 and s2 are in it, s3 is not.  s4 (a "dose"
# study: the dumps of lib.sh's dose_dumps, and its dose SR) is alone on
# RETRIEVE_DOSE_DAY, out of every other range.
RETRIEVE_STUDIES=(s1:20240311:ad s2:20240313:bcd s3:20240320:a s4:20240402:abcd:dose)
RETRIEVE_FROM=20240310
RETRIEVE_TO=20240315
RETRIEVE_DOSE_DAY=20240402
# What a run over the range must give: the cardiac series of s1 and s2 (A,
# B, C; D is not cardiac), "series_uid|instances|instances_sampled|
# source_instance_number", and table retrieved, "series_uid|pacs_instances|
# recorded|fetched instance's last UID component".
RETRIEVE_UID=1.2.826.0.1.3680043.10.1234
RETRIEVE_EXPECT_SERIES="$RETRIEVE_UID.2.1.1|1|1|1
$RETRIEVE_UID.2.2.2|1|1|1
$RETRIEVE_UID.2.3.2|1|1|1"
RETRIEVE_EXPECT_RETRIEVED="$RETRIEVE_UID.2.1.1|3|1|1
$RETRIEVE_UID.2.2.2|2|1|1
$RETRIEVE_UID.2.3.2|2|1|1
$RETRIEVE_UID.2.4.1|2|0|1
$RETRIEVE_UID.2.4.2|2|0|1"

# retrieve_build_studies OUT: OUT/NAME/series-X/NNNN.dcm for every study,
# each with its own study, series and instance UIDs, date and accession
# number (build_study of lib.sh on rewritten dumps); a dose study's SR as
# OUT/NAME/sr/sr.dcm, its study, date and accession number rewritten alike.
retrieve_build_studies() {
	local out=$1 s name date series kind k=0 x src study
	for s in "${RETRIEVE_STUDIES[@]}"; do
		k=$((k + 1))
		IFS=: read -r name date series kind <<<"$s"
		src=$root/tests/data
		if [ "$kind" = dose ]; then
			src=$out/$name.src
			dose_dumps "$src" || return 1
		fi
		study=(-e "s/\(1234\.1\.\)1\]/\1$k]/"
			-e "s/^(0008,0020) DA \[[0-9]*\]/(0008,0020) DA [$date]/"
			-e "s/\[0012345678\]/[00123456${k}0]/")
		mkdir -p "$out/$name.dumps" || return 1
		sed "${study[@]}" "$src/study.dump" >"$out/$name.dumps/study.dump" || return 1
		for x in $(echo "$series" | grep -o .); do
			sed -e "s/\(1234\.[24]\.[0-9]*\)\]/\1.$k]/" \
				-e "s/1234\.3\./1234.3.$k./" \
				"$src/series-$x.dump" >"$out/$name.dumps/series-$x.dump" ||
				return 1
		done
		build_study "$out/$name.dumps" "$out/$name" || return 1
		if [ "$kind" = dose ]; then
			mkdir -p "$out/$name/sr" &&
				dose_sr_build "$out/$name/sr/sr.dcm" "${study[@]}" || return 1
		fi
	done
}

# retrieve_pacs_start [MODALITIES]: Orthanc with the studies (built once
# per run in $T/retrieve-studies), each series sent highest Instance Number
# first, so that the lowest is not simply the first.  Records why on failure.
retrieve_pacs_start() {
	local files=() out=$TEST_DIR/storescu.out
	if [ ! -d "$T/retrieve-studies" ]; then
		retrieve_build_studies "$T/retrieve-studies.tmp" 2>"$TEST_DIR/build.err" ||
			{ err "cannot build the studies: $(head -c 300 "$TEST_DIR/build.err")"; return 1; }
		mv "$T/retrieve-studies.tmp" "$T/retrieve-studies"
	fi
	orthanc_start "$TEST_DIR/orthanc" "" "${1:-}" || { err "$ORTHANC_ERROR"; return 1; }
	mapfile -t files < <(find "$T/retrieve-studies" -name '*.dcm' | sort -r)
	if ! timeout 60 storescu -to 5 -ta 5 -td 30 -aet LOADER -aec ORTHANC 127.0.0.1 \
		"$ORTHANC_PORT" "${files[@]}" >"$out" 2>&1; then
		err "storescu to Orthanc failed: $(head -c 300 "$out")"
		return 1
	fi
}

# retrieve_run NAME ARGS...: hraudit ARGS, output in TEST_DIR/NAME.out and
# .err; sets RC.
retrieve_run() {
	local name=$1
	shift
	timeout 60 "$HRAUDIT" "$@" >"$TEST_DIR/$name.out" 2>"$TEST_DIR/$name.err" </dev/null
	RC=$?
}

# retrieve_check_db DB METHOD CALLING_AET: exactly the expected rows.
retrieve_check_db() {
	local db=$1 method=$2 aet=$3
	expect_sql "$db" "SELECT series_uid || '|' || instances || '|' ||
		instances_sampled || '|' || source_instance_number FROM series
		ORDER BY series_uid" \
		"$RETRIEVE_EXPECT_SERIES" "series rows (uid|instances|sampled|instance number)"
	expect_sql "$db" "SELECT series_uid || '|' || pacs_instances || '|' ||
		recorded || '|' ||
		replace(sop_instance_uid, rtrim(sop_instance_uid, '0123456789'), '')
		FROM retrieved ORDER BY series_uid" "$RETRIEVE_EXPECT_RETRIEVED" \
		"retrieved rows (uid|pacs instances|recorded|instance)"
	expect_sql "$db" "SELECT count(*) FROM instance" 3 \
		"instance rows (one fetched per cardiac series)"
	expect_sql "$db" "SELECT DISTINCT method || ' ' || pacs_aet FROM retrieved" \
		"$method ORTHANC" "retrieved.method and pacs_aet"
	expect_sql "$db" "SELECT DISTINCT calling_aet FROM series" "$aet" \
		"series.calling_aet"
	expect_sql "$db" "SELECT series_description FROM series
		WHERE series_uid = '$RETRIEVE_UID.2.1.1'" \
		'DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %' "series A's description"
	expect_sql "$db" "SELECT hr_avg || ' ' || study_date FROM series
		WHERE series_uid = '$RETRIEVE_UID.2.1.1'" "61 2024-03-11" \
		"series A's heart rate and date"
	check_no_canaries "$db" "$db-wal"
}

# retrieve_summary_is NAME EXPECTED: the summary line on stdout.
retrieve_summary_is() {
	local got
	got=$(tail -n 1 "$TEST_DIR/$1.out")
	[ "$got" = "$2" ] || err "$1: summary '$got', expected '$2' (stderr: $(head -c 300 "$TEST_DIR/$1.err"))"
}

# retrieve_dose_runs DB NAME ARGS...: `hraudit --db DB retrieve ARGS` over
# RETRIEVE_DOSE_DAY twice (outputs NAME-1, NAME-2): the first fetches s4's
# series and its dose SR, whose rows and DLP (`hraudit summary`, the
# numbers of test_dose.sh) must then be in DB; the second fetches nothing.
retrieve_dose_runs() {
	local db=$1 name=$2 uid=$RETRIEVE_UID.8.1.1 before out
	shift 2
	retrieve_run "$name-1" --db "$db" retrieve "$@" \
		--from "$RETRIEVE_DOSE_DAY" --to "$RETRIEVE_DOSE_DAY"
	[ "$RC" -eq 0 ] || err "$name-1 exited $RC: $(head -c 300 "$TEST_DIR/$name-1.err")"
	retrieve_summary_is "$name-1" "1 days: 1 studies found, 4 series matched, 4 retrieved (3 recorded, 1 not cardiac), 0 skipped, 0 failed; dose reports: 1 fetched, 0 skipped, 0 failed"
	expect_sql "$db" "SELECT sop_instance_uid || '|' || study_uid || '|' ||
		accession_number || '|' || total_dlp_mgycm || '|' || events FROM dose_report" \
		"$uid|$RETRIEVE_UID.1.4|0012345640|614.3|4" "$name: the dose_report row"
	expect_sql "$db" "SELECT group_concat(event_number || ' ' || dlp_mgycm, ';')
		FROM (SELECT * FROM dose_event WHERE sop_instance_uid = '$uid'
		ORDER BY event_number)" "1 6.1;2 215.3;3 38.2;4 354.7" "$name: the dose_event rows"
	expect_sql "$db" "SELECT group_concat(series_uid || '|' || event_number || '|' || link, ' ')
		FROM (SELECT * FROM dose_link ORDER BY series_uid)" \
		"$RETRIEVE_UID.2.1.4|2|event-uid $RETRIEVE_UID.2.2.4|3|time+protocol $RETRIEVE_UID.2.3.4|4|protocol" \
		"$name: dose_link"
	"$HRAUDIT" --db "$db" summary --from 2024-04-02 --to 2024-04-02 --format csv \
		>"$TEST_DIR/$name.csv" 2>"$TEST_DIR/$name-summary.err" ||
		err "$name: hraudit summary failed: $(head -c 300 "$TEST_DIR/$name-summary.err")"
	out=$(cut -d, -f1,2,3,8,9 "$TEST_DIR/$name.csv" | tr -d '\r' | tr '\n' ';')
	[ "$out" = "scanner,scan_type,exams,median_ctdivol_mgy,median_dlp_mgycm;NAEOTOM Alpha,flash,1,2.7,38.2;SOMATOM Force,seq_diastolic,1,18.6,215.3;" ] ||
		err "$name: summary: got '$out'"
	[ "$(cat "$TEST_DIR/$name-summary.err")" = "DLP from: dose SR (2 exams), none (0)" ] ||
		err "$name: summary's source line: '$(head -c 300 "$TEST_DIR/$name-summary.err")'"

	before=$(sql "$db" "SELECT * FROM dose_report ORDER BY 1; SELECT * FROM series ORDER BY 1")
	retrieve_run "$name-2" --db "$db" retrieve "$@" \
		--from "$RETRIEVE_DOSE_DAY" --to "$RETRIEVE_DOSE_DAY"
	[ "$RC" -eq 0 ] || err "$name-2 exited $RC: $(head -c 300 "$TEST_DIR/$name-2.err")"
	retrieve_summary_is "$name-2" "1 days: 1 studies found, 4 series matched, 0 retrieved (0 recorded, 0 not cardiac), 4 skipped, 0 failed; dose reports: 0 fetched, 1 skipped, 0 failed"
	[ "$before" = "$(sql "$db" "SELECT * FROM dose_report ORDER BY 1; SELECT * FROM series ORDER BY 1")" ] ||
		err "$name: the second run changed the database"
}

retrieve_get_body() {
	local db=$TEST_DIR/get.db pacs before after
	retrieve_pacs_start '{"retriever": ["RETRIEVER", "127.0.0.1", 104]}' || return
	pacs=ORTHANC@127.0.0.1:$ORTHANC_PORT

	# A dry run on a database that does not exist: the list, nothing created.
	retrieve_run dry --db "$db" retrieve --pacs "$pacs" --aet RETRIEVER \
		--from "$RETRIEVE_FROM" --to "$RETRIEVE_TO" --dry-run
	[ "$RC" -eq 0 ] || err "dry run exited $RC: $(head -c 300 "$TEST_DIR/dry.err")"
	retrieve_summary_is dry "6 days: 2 studies found, 5 series matched, 5 to retrieve (dry run), 0 skipped, 0 failed; dose reports: 0 to fetch, 0 skipped, 0 failed"
	[ ! -e "$db" ] || err "the dry run created the database"

	retrieve_run get1 --db "$db" retrieve --pacs "$pacs" --aet RETRIEVER \
		--from "$RETRIEVE_FROM" --to "$RETRIEVE_TO"
	[ "$RC" -eq 0 ] || err "retrieve exited $RC: $(head -c 300 "$TEST_DIR/get1.err")"
	retrieve_summary_is get1 "6 days: 2 studies found, 5 series matched, 5 retrieved (3 recorded, 2 not cardiac), 0 skipped, 0 failed; dose reports: 0 fetched, 0 skipped, 0 failed"
	retrieve_check_db "$db" c-get ORTHANC

	# Again: everything is known, nothing is fetched, nothing changes.
	before=$(sql "$db" "SELECT * FROM series ORDER BY 1; SELECT * FROM retrieved ORDER BY 1")
	retrieve_run get2 --db "$db" retrieve --pacs "$pacs" --aet RETRIEVER \
		--from "$RETRIEVE_FROM" --to "$RETRIEVE_TO"
	[ "$RC" -eq 0 ] || err "second retrieve exited $RC: $(head -c 300 "$TEST_DIR/get2.err")"
	retrieve_summary_is get2 "6 days: 2 studies found, 5 series matched, 0 retrieved (0 recorded, 0 not cardiac), 5 skipped, 0 failed; dose reports: 0 fetched, 0 skipped, 0 failed"
	after=$(sql "$db" "SELECT * FROM series ORDER BY 1; SELECT * FROM retrieved ORDER BY 1")
	[ "$before" = "$after" ] || err "the second run changed the database"

	# A dry run on the filled database: nothing to do, the file unchanged.
	before=$(sha256sum "$db")
	retrieve_run dry2 --db "$db" retrieve --pacs "$pacs" --aet RETRIEVER \
		--from "$RETRIEVE_FROM" --to "$RETRIEVE_TO" --dry-run
	retrieve_summary_is dry2 "6 days: 2 studies found, 5 series matched, 0 to retrieve (dry run), 5 skipped, 0 failed; dose reports: 0 to fetch, 0 skipped, 0 failed"
	[ "$(sha256sum "$db")" = "$before" ] || err "the second dry run changed the database file"

	# The dose SR of a cardiac study: listed by a dry run, then fetched once.
	retrieve_run dose-dry --db "$TEST_DIR/dose.db" retrieve --pacs "$pacs" \
		--aet RETRIEVER --from "$RETRIEVE_DOSE_DAY" --to "$RETRIEVE_DOSE_DAY" --dry-run
	[ "$RC" -eq 0 ] || err "dose dry run exited $RC: $(head -c 300 "$TEST_DIR/dose-dry.err")"
	retrieve_summary_is dose-dry "1 days: 1 studies found, 4 series matched, 4 to retrieve (dry run), 0 skipped, 0 failed; dose reports: 1 to fetch, 0 skipped, 0 failed"
	grep -qxF "$RETRIEVE_DOSE_DAY $RETRIEVE_UID.8.2.1 $RETRIEVE_UID.8.1.1 'dose report'" \
		"$TEST_DIR/dose-dry.out" || err "the dose dry run does not list the dose report"
	retrieve_dose_runs "$TEST_DIR/dose.db" dose --pacs "$pacs" --aet RETRIEVER

	# Filters: series descriptions (globs, any case), over s3's day too.
	retrieve_run filter --db "$TEST_DIR/filter.db" retrieve --pacs "$pacs" \
		--aet RETRIEVER --from 20240301 --to 20240331 \
		--series-description 'ds_coradseq*' --series-description 'NOTHING*'
	[ "$RC" -eq 0 ] || err "filtered retrieve exited $RC: $(head -c 300 "$TEST_DIR/filter.err")"
	retrieve_summary_is filter "31 days: 3 studies found, 2 series matched, 2 retrieved (2 recorded, 0 not cardiac), 0 skipped, 0 failed; dose reports: 0 fetched, 0 skipped, 0 failed"
	expect_sql "$TEST_DIR/filter.db" "SELECT group_concat(series_uid, ' ') FROM
		(SELECT series_uid FROM series ORDER BY 1)" \
		"$RETRIEVE_UID.2.1.1 $RETRIEVE_UID.2.1.3" "series of the filtered run"
	# The sample mark goes when the rest of the series arrives.
	"$HRAUDIT" --db "$TEST_DIR/filter.db" import "$T/retrieve-studies/s1/series-a" \
		>"$TEST_DIR/import.out" 2>&1 || err "import failed: $(head -c 300 "$TEST_DIR/import.out")"
	expect_sql "$TEST_DIR/filter.db" "SELECT instances || ' ' || instances_sampled
		FROM series WHERE series_uid = '$RETRIEVE_UID.2.1.1'" "3 0" \
		"series A after the rest of it was imported (instances, sampled)"
}

# C-GET into the database: exactly the cardiac series of the range, one
# instance each, marked as samples; a second run fetches nothing; dry runs
# change nothing.
test_retrieve_get() {
	retrieve_get_body
	orthanc_stop
}

retrieve_move_body() {
	local pacs before
	start move || return
	retrieve_pacs_start "{\"hraudit\": [\"HRAUDIT\", \"127.0.0.1\", $DAEMON_PORT]}" || return
	pacs=ORTHANC@127.0.0.1:$ORTHANC_PORT

	# A destination the PACS does not know: one clear line, status 1.
	retrieve_run unknown --db "$DAEMON_DB" retrieve --pacs "$pacs" \
		--from "$RETRIEVE_FROM" --to "$RETRIEVE_TO" --move-to NOBODY
	[ "$RC" -eq 1 ] || err "move to an unknown destination exited $RC, expected 1"
	grep -qE "^hraudit: pacs '$pacs' (moved nothing to|does not know the move destination) 'NOBODY'" \
		"$TEST_DIR/unknown.err" ||
		err "move to an unknown destination said: $(head -c 300 "$TEST_DIR/unknown.err")"

	retrieve_run move1 --db "$DAEMON_DB" retrieve --pacs "$pacs" \
		--from "$RETRIEVE_FROM" --to "$RETRIEVE_TO" --move-to HRAUDIT
	[ "$RC" -eq 0 ] || err "retrieve --move-to exited $RC: $(head -c 300 "$TEST_DIR/move1.err")"
	retrieve_summary_is move1 "6 days: 2 studies found, 5 series matched, 5 retrieved (3 recorded, 2 not cardiac), 0 skipped, 0 failed; dose reports: 0 fetched, 0 skipped, 0 failed"
	retrieve_check_db "$DAEMON_DB" c-move ORTHANC
	check_no_canaries "$DAEMON_LOG"

	before=$(sql "$DAEMON_DB" "SELECT * FROM series ORDER BY 1; SELECT * FROM retrieved ORDER BY 1")
	retrieve_run move2 --db "$DAEMON_DB" retrieve --pacs "$pacs" \
		--from "$RETRIEVE_FROM" --to "$RETRIEVE_TO" --move-to HRAUDIT
	[ "$RC" -eq 0 ] || err "second retrieve --move-to exited $RC: $(head -c 300 "$TEST_DIR/move2.err")"
	retrieve_summary_is move2 "6 days: 2 studies found, 5 series matched, 0 retrieved (0 recorded, 0 not cardiac), 5 skipped, 0 failed; dose reports: 0 fetched, 0 skipped, 0 failed"
	[ "$before" = "$(sql "$DAEMON_DB" "SELECT * FROM series ORDER BY 1; SELECT * FROM retrieved ORDER BY 1")" ] ||
		err "the second run changed the database"

	# The dose SR of a cardiac study, moved to the daemon too.
	retrieve_dose_runs "$DAEMON_DB" dose --pacs "$pacs" --move-to HRAUDIT
	check_no_canaries "$DAEMON_LOG"
}

# C-MOVE to a running hrauditd, which records into its database; hraudit,
# on the same database, marks the rows once each move has completed.
test_retrieve_move() {
	retrieve_move_body
	orthanc_stop
}

# retrieve_expect_fail NAME STATUS PATTERN ARGS...: hraudit ARGS exits
# STATUS, its stderr's first line matches PATTERN (grep -E); with status 1,
# stderr is that one line.
retrieve_expect_fail() {
	local name=$1 want=$2 pattern=$3
	shift 3
	retrieve_run "$name" "$@"
	[ "$RC" -eq "$want" ] || err "$name: exit status $RC, expected $want"
	head -n 1 "$TEST_DIR/$name.err" | grep -qE -- "$pattern" ||
		err "$name: stderr '$(head -c 300 "$TEST_DIR/$name.err")' does not match '$pattern'"
	if [ "$want" -eq 1 ] && [ "$(wc -l <"$TEST_DIR/$name.err")" -ne 1 ]; then
		err "$name: $(wc -l <"$TEST_DIR/$name.err") lines on stderr, expected one"
	fi
}

retrieve_errors_body() {
	local db=$TEST_DIR/e.db port silent start_s i
	local range=(--from "$RETRIEVE_FROM" --to "$RETRIEVE_TO")

	# Nobody listens there.
	port=$(free_port)
	retrieve_expect_fail unreachable 1 "^hraudit: cannot reach pacs 'PACS@127.0.0.1:$port': .*refused" \
		--db "$db" retrieve --pacs "PACS@127.0.0.1:$port" "${range[@]}"

	# A node that rejects us: hrauditd, whose allow list lacks our AE title.
	DAEMON_ECHO_AET=SOMEONE DAEMON_EXTRA_INI=$'[access]\nallow = SOMEONE 127.0.0.1\n' \
		start refuse || return
	retrieve_expect_fail refused 1 "^hraudit: pacs 'HRAUDIT@127.0.0.1:$DAEMON_PORT' refused the association: calling ae title not recognized$" \
		--db "$db" retrieve --pacs "HRAUDIT@127.0.0.1:$DAEMON_PORT" "${range[@]}"

	# A node that accepts the connection and never answers.
	port=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
open(sys.argv[2], "w").close()
time.sleep(20)' "$port" "$TEST_DIR/silent.ready" &
	silent=$!
	BG_PIDS+=("$silent")
	for ((i = 0; i < 50; i++)); do
		[ -e "$TEST_DIR/silent.ready" ] && break
		sleep 0.1
	done
	start_s=$SECONDS
	retrieve_expect_fail silent 1 "^hraudit: cannot reach pacs 'PACS@127.0.0.1:$port': .*time" \
		--db "$db" retrieve --pacs "PACS@127.0.0.1:$port" "${range[@]}" --connect-timeout 1
	((SECONDS - start_s <= 5)) || err "a silent pacs took $((SECONDS - start_s)) s to give up (--connect-timeout 1)"
	kill "$silent" 2>/dev/null
	wait "$silent" 2>/dev/null

	# None of these runs reached a PACS: the database it named does not
	# exist, and must not have been created.
	[ ! -e "$db" ] && [ ! -e "$db-wal" ] && [ ! -e "$db-journal" ] ||
		err "a retrieve that reached no pacs created its database: $(ls "$db"* 2>&1 | tr '\n' ' ')"

	# Usage errors: status 2.
	retrieve_expect_fail no-at 2 "--pacs 'PACS127.0.0.1:104': expected AET@HOST:PORT" \
		--db "$db" retrieve --pacs PACS127.0.0.1:104 "${range[@]}"
	retrieve_expect_fail bad-port 2 "port must be a number" \
		--db "$db" retrieve --pacs PACS@127.0.0.1:70000 "${range[@]}"
	retrieve_expect_fail long-aet 2 "ae title" \
		--db "$db" retrieve --pacs ABCDEFGHIJKLMNOPQ@127.0.0.1:104 "${range[@]}"
	retrieve_expect_fail bad-date 2 "--from '20240230'" \
		--db "$db" retrieve --pacs PACS@127.0.0.1:104 --from 20240230 --to 20240301
	retrieve_expect_fail reversed 2 "--to '20240101' is before --from" \
		--db "$db" retrieve --pacs PACS@127.0.0.1:104 --from 20240301 --to 20240101
	retrieve_expect_fail no-pacs 2 "required" --db "$db" retrieve "${range[@]}"
	retrieve_expect_fail extra 2 "unexpected argument" \
		--db "$db" retrieve --pacs PACS@127.0.0.1:104 "${range[@]}" extra
	[ ! -e "$db" ] || err "a retrieve with bad arguments created its database"
}

# Unreachable, refusing and silent PACS: one line, status 1; bad arguments:
# status 2; none of them creates the database named by --db.
test_retrieve_errors() {
	retrieve_errors_body
}
