#!/usr/bin/env bash
# run.sh - hraudit integration tests.
#
# Starts the real hrauditd on 127.0.0.1 in a temporary directory, sends it the
# fictional test study (tests/data, built with dump2dcm) with DCMTK storescu
# and GDCM gdcmscu, and checks the database with sqlite3 and the hraudit CLI.
# Also: configuration errors, CLI exit codes, garbage on the wire, shutdown.
#
# usage: tests/integration/run.sh [TEST...]      (default: every test)
#        tests/integration/run.sh -l             (list the tests)
# environment:
#   HRAUDITD, HRAUDIT  the binaries (default build/hrauditd and build/hraudit
#                      in the repository; relative paths are taken from the
#                      current directory)
#   KEEP=1             keep the temporary directory (its path is printed)
#   FIGURES=FILE       append the reliability figures (lib.sh's figure) there
# Output: "ok NAME" or "FAIL NAME: reason" (details and the daemon's log on
# lines starting with '#'), then "N passed, N failed".  Exit status 1 if any
# test failed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/test_import.sh
. "$here/test_import.sh"
# shellcheck source=tests/integration/test_year.sh
. "$here/test_year.sh"
# shellcheck source=tests/integration/test_report.sh
. "$here/test_report.sh"
# shellcheck source=tests/integration/test_install.sh
. "$here/test_install.sh"
# shellcheck source=tests/integration/test_service.sh
. "$here/test_service.sh"
# shellcheck source=tests/integration/test_faults.sh
. "$here/test_faults.sh"
# shellcheck source=tests/integration/test_badinput.sh
. "$here/test_badinput.sh"
# shellcheck source=tests/integration/test_pacs.sh
. "$here/test_pacs.sh"
# shellcheck source=tests/integration/test_retrieve.sh
. "$here/test_retrieve.sh"
# shellcheck source=tests/integration/test_dose.sh
. "$here/test_dose.sh"

abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}
HRAUDITD=$(abspath "${HRAUDITD:-$root/build/hrauditd}")
HRAUDIT=$(abspath "${HRAUDIT:-$root/build/hraudit}")

TESTS=(storescu storescu-parallel gdcmscu reparse config-misspelt-key cli-bad-args
	non-dicom-garbage shutdown)
TESTS+=(import export-dates-atomic export-units year report)
TESTS+=(install-layout unit-security man-lint)
TESTS+=(notify reload access-refused tls stalled-client db-permissions)
TESTS+=(crash-kill9 disk-full busy-database)
TESTS+=(bad-network idle-connections bad-dicom)
TESTS+=(orthanc-forward orthanc-forward-retry)
TESTS+=(retrieve-get retrieve-move retrieve-errors)
TESTS+=(dose-sr)

# ---- the study, as the database should record it ---------------------------

UID_ROOT=1.2.826.0.1.3680043.10.1234
SERIES_A=$UID_ROOT.2.1
SERIES_B=$UID_ROOT.2.2
SERIES_C=$UID_ROOT.2.3
SERIES_D=$UID_ROOT.2.4
DESC_A='DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %'
DESC_B='Cor_Flash  0.4  Qr40  Q2  60 %'
DESC_C='Cardiac CTA 0.625mm STND'
DESC_D='Abdomen 5.0 B30f'
# The schema a new database gets: the number of the last sql/NNN-*.sql file.
SCHEMA_VERSION=$(find "$root/sql" -name '[0-9][0-9][0-9]-*.sql' -printf '%f\n' |
	sort | tail -n 1 | sed 's/^0*\([0-9][0-9]*\)-.*/\1/')
# Strings of study.dump that must never be stored or logged.
CANARIES=('AUDIT^TESTPATIENT' 'TESTPATIENT' 'PID-7734521' '7734521'
	'19600101' '1960-01-01')

# Expected values, one "SQL expression|value" a line; NULL stands for SQL
# NULL.  A value written as a plain number (no leading zero) is compared as a
# number, so 82 matches 82 and 82.0 whatever the column's affinity; anything
# else, 0012345678 included, is compared as text.  scan_type is not checked:
# its values belong to the configured rules.
EXPECT_COMMON=$(
	cat <<'EOF'
study_uid|1.2.826.0.1.3680043.10.1234.1.1
accession_number|0012345678
typeof(accession_number)|text
study_date|2024-03-12
study_time|09:30:15
modality|CT
institution|Fictional Heart Centre
study_description|Cardiac^CTA Coronary, ECG gated
patient_weight_kg|82
first_received GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'|1
last_received GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'|1
first_received <= last_received|1
EOF
)
EXPECT_A=$(
	cat <<'EOF'
series_description|DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %
manufacturer|SIEMENS
model|SOMATOM Force
station_name|CTFORCE01
protocol_name|CorCTA_Seq "Adult"
series_number|4
kvp|100
ctdivol_mgy|18.56
pitch|NULL
scan_options|XOP\DSEQCARD\0001\TRGD\RSER000001\RIMA000016\TP70PC1000\OSCRATEMIN060BPM\OSCRATEMAX062BPM\OSCRATEAVG061BPM\OSCRATEVAR002BPM\SYNCUSREDIT_NO\PITADP_AUTO\PITADPKIND_MONO\BESTPHASE_OFF\FRECONTYPE_TIME\A4TP000076MS00
hr_min|60
hr_max|62
hr_avg|61
hr_var|2
hr_source|scan_options
heart_rate|NULL
phase_percent|70
rr_interval_ms|1000
pulsing_start_percent|NULL
pulsing_end_percent|NULL
instances|3
EOF
)
EXPECT_B=$(
	cat <<'EOF'
series_description|Cor_Flash  0.4  Qr40  Q2  60 %
manufacturer|SIEMENS
model|NAEOTOM Alpha
station_name|CTALPHA01
protocol_name|CorCTA_Flash
series_number|5
kvp|90
ctdivol_mgy|2.71
pitch|3.2
scan_options|OSCRATEAVG065BPM\TP60PC0923\PULSTART_P0060PC\PULSEND_P0080PC\OSCRATEVAR004BPM\OSCRATEMAX068BPM\OSCRATEMIN063BPM\TRGD\SYNCUSREDIT_NO\FRECONTYPE_TIME\RSER000002\RIMA000001\XOP
hr_min|63
hr_max|68
hr_avg|65
hr_var|4
heart_rate|NULL
phase_percent|60
rr_interval_ms|923
pulsing_start_percent|60
pulsing_end_percent|80
instances|2
EOF
)
EXPECT_C=$(
	cat <<'EOF'
series_description|Cardiac CTA 0.625mm STND
manufacturer|GE MEDICAL SYSTEMS
model|Revolution CT
station_name|CTREV01
protocol_name|Cardiac CTA Prospective
series_number|6
kvp|120
ctdivol_mgy|25.3
pitch|NULL
scan_options|NULL
hr_min|NULL
hr_max|NULL
hr_avg|58
hr_var|NULL
hr_source|heart_rate
heart_rate|58
phase_percent|NULL
rr_interval_ms|NULL
pulsing_start_percent|NULL
pulsing_end_percent|NULL
instances|2
EOF
)

# ---- harness ---------------------------------------------------------------

PASSED=0
FAILED=0
ERRS=()
TEST_DIR=
BG_PIDS=()

# err MESSAGE: records one failed check of the running test.
err() { ERRS+=("$*"); }

cleanup() {
	local p
	daemon_stop
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		if [ "${KEEP:-0}" = 1 ]; then
			echo "# kept $T"
		else
			rm -rf "$T"
		fi
	fi
}

selected() {
	local t
	[ ${#ONLY[@]} -eq 0 ] && return 0
	for t in "${ONLY[@]}"; do
		[ "$t" = "$1" ] && return 0
	done
	return 1
}

# run_test NAME: runs test_NAME (dashes become underscores) in TEST_DIR=$T/NAME.
run_test() {
	local name=$1 fn=test_${1//-/_} i f log=
	selected "$name" || return 0
	ERRS=()
	DAEMON_LOG=
	FIGURE_TEST=$name
	TEST_DIR=$T/$name
	mkdir -p "$TEST_DIR"
	if declare -F "$fn" >/dev/null; then
		"$fn"
	else
		err "no function $fn defines the test"
	fi
	if [ -n "$DAEMON_PID" ] && ! daemon_alive; then
		err "hrauditd died during the test"
	fi
	log=$DAEMON_LOG
	daemon_stop
	# Sanitizer builds (make CFLAGS=-fsanitize=...) report in the logs and
	# in the captured output of the CLI; leaks only once the daemon exits.
	while IFS= read -r f; do
		err "sanitizer report in ${f#"$T"/}"
	done < <(grep -rlE 'Sanitizer|runtime error:' "$TEST_DIR" 2>/dev/null)
	if [ ${#ERRS[@]} -eq 0 ]; then
		echo "ok $name"
		PASSED=$((PASSED + 1))
	else
		echo "FAIL $name: ${ERRS[0]}"
		for ((i = 1; i < ${#ERRS[@]}; i++)); do
			echo "#   also: ${ERRS[i]}"
		done
		[ -n "$log" ] && log_tail "$log" 20
		FAILED=$((FAILED + 1))
	fi
}

# start NAME: starts a daemon for this test; on failure records why.
start() {
	daemon_start "$TEST_DIR" "$1" && return 0
	err "$DAEMON_ERROR"
	return 1
}

# sql DB QUERY: one query, fields separated by US (0x1f), NULL as "NULL".
sql() {
	sqlite3 -batch -noheader -separator $'\x1f' -nullvalue NULL \
		-cmd '.timeout 5000' "$1" "$2"
}

# expect_sql DB QUERY EXPECTED WHAT
expect_sql() {
	local got
	got=$(sql "$1" "$2" 2>&1)
	[ "$got" = "$3" ] || err "$4: got '$got', expected '$3'"
}

# same_value GOT WANT: equal as text, or as numbers when WANT is a plain
# number without leading zeros (see the expected values above).
same_value() {
	[ "$1" = "$2" ] && return 0
	[[ $2 =~ ^-?(0|[1-9][0-9]*)(\.[0-9]+)?$ ]] || return 1
	[[ $1 =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || return 1
	awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(d < 1e-9 && d > -1e-9) }'
}

# check_series DB SERIES_UID LABEL EXPECTED CALLING_AET
check_series() {
	local db=$1 uid=$2 label=$3 line out q i
	local exprs=() vals=() got=()
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		exprs+=("${line%%|*}")
		vals+=("${line#*|}")
	done <<<"$EXPECT_COMMON
$4
calling_aet|$5"
	q="SELECT $(printf '%s, ' "${exprs[@]}") 0 FROM series WHERE series_uid = '$uid'"
	if ! out=$(sql "$db" "$q" 2>&1); then
		err "series $label: query failed: $out"
		return
	fi
	if [ -z "$out" ]; then
		err "series $label ($uid): no row"
		return
	fi
	IFS=$'\x1f' read -r -a got <<<"$out"
	for ((i = 0; i < ${#exprs[@]}; i++)); do
		same_value "${got[i]-}" "${vals[i]}" ||
			err "series $label: ${exprs[i]} is '${got[i]-}', expected '${vals[i]}'"
	done
}

# check_no_canaries FILE...: no patient identifier in any of the files.
check_no_canaries() {
	local f c
	for f in "$@"; do
		[ -e "$f" ] || continue
		for c in "${CANARIES[@]}"; do
			if grep -aqF -- "$c" "$f"; then
				err "'$c' (patient data) found in ${f##*/}"
			fi
		done
	done
}

# check_study_db DB CALLING_AET: the three cardiac rows, nothing else.
check_study_db() {
	local db=$1 aet=$2
	if [ ! -f "$db" ]; then
		err "no database file ${db##*/}"
		return
	fi
	expect_sql "$db" "PRAGMA application_id" 1213350212 "application_id"
	expect_sql "$db" "PRAGMA user_version" "$SCHEMA_VERSION" \
		"user_version (highest sql/NNN-*.sql)"
	expect_sql "$db" "SELECT count(*) FROM series" 3 "rows in series"
	expect_sql "$db" "SELECT count(*) FROM series WHERE series_uid = '$SERIES_D'" 0 \
		"non-cardiac series D recorded"
	expect_sql "$db" "SELECT count(*) FROM instance" 7 "rows in instance"
	expect_sql "$db" "SELECT count(*) FROM instance WHERE series_uid = '$SERIES_D'" 0 \
		"instances of series D recorded"
	expect_sql "$db" "SELECT group_concat(n, ',') FROM (SELECT count(*) AS n FROM instance GROUP BY series_uid ORDER BY series_uid)" \
		"3,2,2" "instance rows per series (A,B,C)"
	check_series "$db" "$SERIES_A" A "$EXPECT_A" "$aet"
	check_series "$db" "$SERIES_B" B "$EXPECT_B" "$aet"
	check_series "$db" "$SERIES_C" C "$EXPECT_C" "$aet"
	check_no_canaries "$db" "$db-wal" "$db-shm" "$DAEMON_LOG"
}

# check_csv FILE: RFC 4180 and the study's values (python3's csv module).
check_csv() {
	python3 - "$1" <<'EOF'
import csv, io, sys

path = sys.argv[1]
raw = open(path, "rb").read()
problems = []
if not raw:
    print("empty output"); sys.exit(1)
if not raw.endswith(b"\r\n"):
    problems.append("last record does not end with CRLF")
if b"\n" in raw.replace(b"\r\n", b""):
    problems.append("records end with LF, not CRLF (RFC 4180 2.1)")
try:
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""),
                           strict=True))
except (UnicodeDecodeError, csv.Error) as e:
    print("does not parse as CSV: %s" % e); sys.exit(1)
if len(rows) != 4:
    problems.append("%d records, expected a header and 3 rows" % len(rows))
header = rows[0] if rows else []
for i, r in enumerate(rows[1:], 2):
    if len(r) != len(header):
        problems.append("record %d has %d fields, header %d" % (i, len(r), len(header)))
need = ["series_uid", "accession_number", "study_description",
        "series_description", "protocol_name", "pitch", "hr_avg", "heart_rate",
        "instances"]
missing = [n for n in need if n not in header]
if missing:
    problems.append("header lacks " + ", ".join(missing))
    print("\n".join(problems)); sys.exit(1)
col = {n: header.index(n) for n in need}
by_uid = {r[col["series_uid"]]: r for r in rows[1:] if len(r) == len(header)}
root = "1.2.826.0.1.3680043.10.1234.2."
expect = {
    "A": (root + "1", {"series_description": "DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %",
                       "protocol_name": 'CorCTA_Seq "Adult"', "hr_avg": 61,
                       "instances": 3}),
    "B": (root + "2", {"pitch": 3.2, "instances": 2}),
    "C": (root + "3", {"heart_rate": 58, "instances": 2}),
}
for label, (uid, want) in expect.items():
    r = by_uid.get(uid)
    if r is None:
        problems.append("no record for series %s" % label); continue
    want = dict(want, accession_number="0012345678",
                study_description="Cardiac^CTA Coronary, ECG gated")
    for name, v in want.items():
        got = r[col[name]]
        if isinstance(v, (int, float)):
            try:
                ok = abs(float(got) - v) < 1e-9
            except ValueError:
                ok = False
        else:
            ok = got == v
        if not ok:
            problems.append("series %s: %s is %r, expected %r" % (label, name, got, v))
if root + "4" in by_uid:
    problems.append("non-cardiac series D exported")
if b'"CorCTA_Seq ""Adult"""' not in raw:
    problems.append("a field with quotes is not quoted with doubled quotes (RFC 4180 2.7)")
if b'"Cardiac^CTA Coronary, ECG gated"' not in raw:
    problems.append("a field with a comma is not quoted (RFC 4180 2.6)")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
}

# check_cli DB: hraudit's export (stdout and -o) and series table.
check_cli() {
	local db=$1 out=$TEST_DIR/export.csv rc line
	if [ ! -x "$HRAUDIT" ]; then
		err "no executable '$HRAUDIT' (build it, or set HRAUDIT)"
		return
	fi
	"$HRAUDIT" --db "$db" export --format csv >"$out" 2>"$TEST_DIR/export.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		err "hraudit export exited $rc: $(head -c 300 "$TEST_DIR/export.err")"
	else
		while IFS= read -r line; do
			err "export csv: $line"
		done < <(check_csv "$out" 2>&1)
		"$HRAUDIT" --db "$db" export --format csv -o "$TEST_DIR/export-o.csv" \
			>"$TEST_DIR/export-o.out" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			err "hraudit export -o exited $rc: $(head -c 300 "$TEST_DIR/export-o.out")"
		elif ! cmp -s "$out" "$TEST_DIR/export-o.csv"; then
			err "export -o FILE differs from export to stdout"
		fi
	fi
	"$HRAUDIT" --db "$db" series >"$TEST_DIR/series.txt" 2>"$TEST_DIR/series.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		err "hraudit series exited $rc: $(head -c 300 "$TEST_DIR/series.err")"
	else
		for line in "$DESC_A" "$DESC_B" "$DESC_C"; do
			grep -qF -- "$line" "$TEST_DIR/series.txt" ||
				err "hraudit series does not show '$line'"
		done
		! grep -qF -- "$DESC_D" "$TEST_DIR/series.txt" ||
			err "hraudit series shows the non-cardiac series '$DESC_D'"
	fi
	check_no_canaries "$out" "$TEST_DIR/series.txt"
}

# storescu_send AET OUTFILE FILE...: one association; every response Success.
storescu_send() {
	local aet=$1 out=$2 rc n ok
	shift 2
	TCP_NODELAY=1 timeout 60 storescu -v -to 5 -ta 5 -td 30 -aec HRAUDIT -aet "$aet" \
		127.0.0.1 "$DAEMON_PORT" "$@" >"$out" 2>&1
	rc=$?
	n=$(grep -c 'Received Store Response' "$out")
	ok=$(grep -c 'Received Store Response (Success)' "$out")
	if [ $rc -ne 0 ]; then
		err "storescu exited $rc ($ok of $# stored): $(grep -E '^[EF]:' "$out" | head -n 3 | tr '\n' ' ')"
	elif [ "$n" -ne $# ] || [ "$ok" -ne $# ]; then
		err "storescu: $ok of $# responses Success ($n responses): $(grep 'Received Store Response' "$out" | grep -v Success | head -n 3 | tr '\n' ' ')"
	fi
}

# The study in sending order: the non-cardiac series first, then A, B, C.
study_files() {
	printf '%s\n' "$T"/study/series-d/*.dcm "$T"/study/series-a/*.dcm \
		"$T"/study/series-b/*.dcm "$T"/study/series-c/*.dcm
}

# ---- tests -------------------------------------------------------------------

# The whole study in one association, then series A again (retries).
test_storescu() {
	local files=()
	mapfile -t files < <(study_files)
	start storescu || return
	storescu_send TESTSCU "$TEST_DIR/storescu-1.out" "${files[@]}"
	storescu_send TESTSCU "$TEST_DIR/storescu-2.out" "$T"/study/series-a/*.dcm
	check_study_db "$DAEMON_DB" TESTSCU
	check_cli "$DAEMON_DB"
}

# Five associations at once: one per series, and series A twice, so that two
# threads race on the same instances.  Some propose implicit VR little endian
# only (-xi, which every SCP must accept) or big endian first (-xb).
test_storescu_parallel() {
	local s x pids=() p rc i=0
	start parallel || return
	for s in d:-xe a:-xi a:-xb b:-xi c:-xe; do
		i=$((i + 1))
		x=${s#*:}
		s=${s%%:*}
		TCP_NODELAY=1 timeout 60 storescu "$x" -to 5 -ta 5 -td 30 -aec HRAUDIT -aet TESTSCU \
			127.0.0.1 "$DAEMON_PORT" "$T"/study/series-"$s"/*.dcm \
			>"$TEST_DIR/storescu-$i-$s.out" 2>&1 &
		pids+=($!)
	done
	i=0
	for p in "${pids[@]}"; do
		i=$((i + 1))
		wait "$p"
		rc=$?
		[ $rc -eq 0 ] ||
			err "storescu #$i exited $rc: $(head -n 3 "$TEST_DIR"/storescu-$i-*.out | tr '\n' ' ')"
	done
	check_study_db "$DAEMON_DB" TESTSCU
}

# gdcmscu 3.0.21 (Debian) aborts with "ProtocolStream as nullptr is invalid"
# after the association is released, even against DCMTK's storescp: that exit
# (134, SIGABRT) is tolerated; the database says whether the transfer worked.
gdcmscu_send() {
	local out=$1 rc
	shift
	# The braces keep bash's "Aborted" job notice off the terminal.
	{
		timeout 60 gdcmscu --store --call HRAUDIT --aetitle GDCMSCU \
			127.0.0.1 "$DAEMON_PORT" "$@" >"$out" 2>&1
		rc=$?
	} 2>/dev/null
	if [ $rc -eq 134 ] && grep -q 'ProtocolStream as nullptr' "$out"; then
		rc=0
	fi
	[ $rc -eq 0 ] || err "gdcmscu exited $rc: $(head -c 300 "$out" | tr '\n' ' ')"
}

test_gdcmscu() {
	local files=()
	if ! command -v gdcmscu >/dev/null 2>&1; then
		err "gdcmscu not found (install libgdcm-tools)"
		return
	fi
	mapfile -t files < <(study_files)
	start gdcmscu || return
	gdcmscu_send "$TEST_DIR/gdcmscu-1.out" "${files[@]}"
	gdcmscu_send "$TEST_DIR/gdcmscu-2.out" "$T"/study/series-a/*.dcm
	check_study_db "$DAEMON_DB" GDCMSCU
}

# hrauditd -n: a misspelt key and a bad value are errors naming file:line; a
# good file says "configuration OK".
test_config_misspelt_key() {
	local dir=$TEST_DIR rc
	if [ ! -x "$HRAUDITD" ]; then
		err "no executable '$HRAUDITD' (build it, or set HRAUDITD)"
		return
	fi
	printf '[server]\nbind = 127.0.0.1\naetitel = X\n[database]\npath = %s\n' \
		"$dir/bad.db" >"$dir/misspelt.ini"
	timeout 10 "$HRAUDITD" -n -f "$dir/misspelt.ini" >"$dir/misspelt.out" 2>"$dir/misspelt.err"
	rc=$?
	[ $rc -ne 0 ] || err "-n on a misspelt key exited 0"
	grep -qF 'misspelt.ini:3' "$dir/misspelt.err" ||
		err "stderr does not name misspelt.ini:3: '$(head -c 300 "$dir/misspelt.err")'"

	printf '[server]\nbind = 127.0.0.1\naetitle = HRAUDIT\nport = 70000\n' >"$dir/badport.ini"
	timeout 10 "$HRAUDITD" -n -f "$dir/badport.ini" >"$dir/badport.out" 2>"$dir/badport.err"
	rc=$?
	[ $rc -ne 0 ] || err "-n on port = 70000 exited 0"
	grep -qF 'badport.ini:4' "$dir/badport.err" ||
		err "stderr does not name badport.ini:4 for port 70000: '$(head -c 300 "$dir/badport.err")'"

	write_config "$dir/good.ini" 11112 "$dir/good.db"
	timeout 10 "$HRAUDITD" -n -f "$dir/good.ini" >"$dir/good.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || err "-n on a good file exited $rc: '$(head -c 300 "$dir/good.out")'"
	grep -qF 'configuration OK' "$dir/good.out" ||
		err "-n on a good file does not print 'configuration OK': '$(head -c 300 "$dir/good.out")'"
}

# hraudit: usage errors exit 2, run-time errors 1, with a message.
test_cli_bad_args() {
	local dir=$TEST_DIR rc
	if [ ! -x "$HRAUDIT" ]; then
		err "no executable '$HRAUDIT' (build it, or set HRAUDIT)"
		return
	fi
	# cli_expect STATUS WHAT ARGS...
	cli_expect() {
		local want=$1 what=$2
		shift 2
		timeout 10 "$HRAUDIT" "$@" >"$dir/out" 2>"$dir/err" </dev/null
		rc=$?
		[ $rc -eq "$want" ] || err "$what: exit status $rc, expected $want"
		[ -s "$dir/err" ] || err "$what: no message on stderr"
	}
	cli_expect 2 "hraudit --no-such-option" --no-such-option
	cli_expect 2 "hraudit export --format xml" export --format xml
	cli_expect 2 "hraudit --db X frobnicate" --db "$dir/x.db" frobnicate
	cli_expect 1 "hraudit --db /nonexistent/x.db series" --db /nonexistent/x.db series
	cli_expect 1 "hraudit --db MISSING series" --db "$dir/missing.db" series
	[ ! -e "$dir/missing.db" ] || err "hraudit series created the missing database"
	unset -f cli_expect
}

# Bytes that are not DICOM, a PDU announcing 4 GiB, a silent connection and a
# half-sent A-ASSOCIATE-RQ: the daemon keeps serving.
test_non_dicom_garbage() {
	local port hold1 hold2
	start garbage || return
	port=$DAEMON_PORT
	# send PORT: stdin to a new connection; the daemon may close early.
	# shellcheck disable=SC2016 # $1 belongs to the inner shell
	send() {
		timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && cat >&3' _ "$1" 2>/dev/null
	}
	head -c 65536 /dev/urandom | send "$port"
	printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' | send "$port"
	{ printf '\001\000\377\377\377\360'; head -c 1024 /dev/zero; } | send "$port"
	{ printf '\004\000\000\000\000\006'; head -c 6 /dev/urandom; } | send "$port"
	echo_ok "$port" || err "no C-ECHO answer after garbage"

	# Hold two connections open: one silent, one stopped inside an
	# A-ASSOCIATE-RQ (type 1, length 200, protocol version 1, 4 bytes only).
	# shellcheck disable=SC2016
	timeout 20 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && sleep 15' _ "$port" 2>/dev/null &
	hold1=$!
	# shellcheck disable=SC2016
	timeout 20 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "\001\000\000\000\000\310\000\001" >&3 && sleep 15' _ "$port" 2>/dev/null &
	hold2=$!
	BG_PIDS+=("$hold1" "$hold2")
	sleep 0.3
	echo_ok "$port" || err "no C-ECHO answer while a silent and a half-open connection wait"
	storescu_send TESTSCU "$TEST_DIR/storescu.out" "$T"/study/series-c/*.dcm
	expect_sql "$DAEMON_DB" "SELECT instances FROM series WHERE series_uid = '$SERIES_C'" 2 \
		"series C stored while connections wait"
	kill "$hold1" "$hold2" 2>/dev/null
	wait "$hold1" "$hold2" 2>/dev/null
	BG_PIDS=()
	daemon_alive || err "hrauditd died"
	echo_ok "$port" || err "no C-ECHO answer at the end"
	unset -f send
}

# SIGTERM: exit 0 within the grace time, database whole, WAL checkpointed.
# A database written by a deliberately wrong parser (hrauditd built with
# HRAUDIT_TEST_WRONG_PARSER: hr_min and hr_max swapped, hr_var lost, phase
# off by 5, hr_source "wrong") is corrected by `hraudit reparse` from its
# series_raw alone: afterwards its rows equal those the right parser wrote.
test_reparse() {
	local right wrong out cols q
	if [ ! -x "${HRAUDITD_WRONG:-}" ]; then
		err "no wrong-parser daemon (make build/wrong/hrauditd, set HRAUDITD_WRONG)"
		return
	fi
	start reparse-right || return
	right=$DAEMON_DB
	storescu_send TESTSCU "$TEST_DIR/right.out" "$T"/study/series-*/*.dcm
	daemon_stop
	HRAUDITD=$HRAUDITD_WRONG start reparse-wrong || return
	wrong=$DAEMON_DB
	storescu_send TESTSCU "$TEST_DIR/wrong.out" "$T"/study/series-*/*.dcm
	daemon_stop

	# every column but the times of arrival
	cols=$(sql "$right" "SELECT group_concat(name, ', ') FROM pragma_table_info('series')
		WHERE name NOT IN ('first_received', 'last_received')")
	q="SELECT $cols FROM series ORDER BY series_uid"
	[ "$(sql "$wrong" "$q")" != "$(sql "$right" "$q")" ] ||
		{ err "the wrong parser wrote the same rows as the right one"; return; }
	expect_sql "$wrong" "SELECT count(*) FROM series WHERE hr_source = 'wrong'" 3 \
		"rows from the wrong parser"

	out=$("$HRAUDIT" --db "$wrong" reparse 2>&1) || err "reparse failed: $out"
	[ "$out" = "3 series re-derived from their stored material, 3 changed" ] ||
		err "reparse said: $out"
	[ "$(sql "$wrong" "$q")" = "$(sql "$right" "$q")" ] ||
		err "rows after reparse differ from the right parser's: $(diff \
			<(sql "$right" "$q") <(sql "$wrong" "$q") | head -4)"
	out=$("$HRAUDIT" --db "$wrong" reparse 2>&1)
	[ "$out" = "3 series re-derived from their stored material, 0 changed" ] ||
		err "second reparse said: $out"
	expect_sql "$wrong" "SELECT count(*) FROM series_raw" 3 \
		"series_raw rows (one per series: its instances agree)"
}

test_shutdown() {
	local db
	start shutdown || return
	db=$DAEMON_DB
	storescu_send TESTSCU "$TEST_DIR/storescu.out" "$T"/study/series-a/*.dcm
	daemon_stop
	if [ "$DAEMON_STOP_S" = timeout ]; then
		err "hrauditd did not exit within ${DAEMON_STOP_TIMEOUT_S}s of SIGTERM"
	elif [ "$DAEMON_STATUS" -ne 0 ]; then
		err "hrauditd exited $DAEMON_STATUS after SIGTERM"
	fi
	if [ -s "$db-wal" ]; then
		err "WAL not checkpointed at exit ($(wc -c <"$db-wal") bytes in ${db##*/}-wal)"
	fi
	expect_sql "$db" "PRAGMA integrity_check" ok "integrity_check"
	expect_sql "$db" "SELECT instances FROM series WHERE series_uid = '$SERIES_A'" 3 \
		"series A after shutdown"
}

# ---- main --------------------------------------------------------------------

ONLY=()
for a in "$@"; do
	case $a in
	-l)
		printf '%s\n' "${TESTS[@]}"
		exit 0
		;;
	-h | --help)
		sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*)
		echo "usage: $0 [-l] [TEST...]" >&2
		exit 2
		;;
	*)
		case " ${TESTS[*]} " in
		*" $a "*) ONLY+=("$a") ;;
		*)
			echo "$0: no test '$a' (-l lists them)" >&2
			exit 2
			;;
		esac
		;;
	esac
done

T=$(mktemp -d "${TMPDIR:-/tmp}/hraudit-test.XXXXXX") || exit 1
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

missing=
for tool in dump2dcm storescu echoscu sqlite3 python3 timeout; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "FAIL setup: missing tools:$missing (dcmtk, sqlite3, python3, coreutils)"
	echo "0 passed, 1 failed"
	exit 1
fi
if ! build_study "$root/tests/data" "$T/study" 2>"$T/build.err"; then
	echo "FAIL setup: cannot build the test study: $(head -c 300 "$T/build.err")"
	echo "0 passed, 1 failed"
	exit 1
fi

for t in "${TESTS[@]}"; do
	run_test "$t"
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
