# test_year.sh - the "year" integration test (sourced by run.sh, bash only).
#
# A fictional year of cardiac CT (about 150 exams on three scanners, every
# scan type, reconstructions counted once, non-cardiac series to ignore) is
# made by gen_year.py, built with dump2dcm, loaded into a database (hraudit
# import when hraudit has it, else hrauditd over the network with storescu),
# and then every audit command's CSV is compared with what gen_year.py
# computes from its ground truth (truth.json), never from the database.
#
# Defines test_year, which follows run.sh's conventions: it runs in
# $TEST_DIR, reports through err, and uses $HRAUDIT, $HRAUDITD, run.sh's
# start/storescu_send and lib.sh's daemon helpers.  Sourcing has no side
# effects beyond defining the functions and the YEAR_* defaults below.
# To register it, in run.sh:  . "$here/test_year.sh"  and  TESTS+=(year).
# About 15 s on two processors (dump2dcm, a process per file, dominates).
#
# environment:
#   YEAR_SEED=N        the generator's seed (default 2025)
#   YEAR_LOAD=auto     auto: `hraudit import` when it exists, else network;
#                      import or network to force one
# shellcheck shell=bash
# shellcheck disable=SC2154 # HRAUDIT, TEST_DIR, DAEMON_* are set by run.sh

YEAR_GEN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gen_year.py
YEAR_SEED=${YEAR_SEED:-2025}
YEAR_LOAD=${YEAR_LOAD:-auto}
# Strings of the generated studies that must never be stored or logged.
YEAR_CANARIES=('YEARPATIENT' 'PIDY-' '19550505' '1955-05-05')

# The reports checked, one a line: KIND (gen_year.py's name for the layout)
# then the hraudit command and its options.  "--format csv" is added to each
# command but merge-openrem; "@OPENREM@" and "@OUT@" stand for the generated
# OpenREM export and an output file.
YEAR_REPORTS=$(
	cat <<'EOF'
summary summary --by scanner,scan_type
summary summary --by scan_type,month --from 2025-03-01 --to 2025-08-31 --scanner "SOMATOM Force"
summary summary --by year,scanner --scan-type seq_systolic
weekday weekday
weekday weekday --from 2025-07-01 --to 2025-12-31
histogram histogram --bin 5
histogram histogram --bin 10 --scanner "NAEOTOM Alpha" --from 2025-02-01
compliance compliance
compliance compliance --from 2025-01-01 --to 2025-06-30
merge merge-openrem @OPENREM@ -o @OUT@
EOF
)

# year_sql_csv DB QUERY: the result as CSV with a header.
year_sql_csv() {
	sqlite3 -batch -csv -header -cmd '.timeout 5000' "$1" "$2"
}

# year_head FILE: its first 300 bytes on one line, for a message.
year_head() {
	head -c 300 "$1" | tr '\n' ' '
}

# year_has COMMAND: false when hraudit says it has no such command.
year_has() {
	local out
	out=$(timeout 10 "$HRAUDIT" "$1" --help 2>&1 >/dev/null </dev/null) && return 0
	! grep -qi 'unknown command' <<<"$out"
}

# year_compare WHAT KIND GEN GOT [OPTIONS...]: gen_year.py --check; every
# difference becomes one err line prefixed by WHAT.
year_compare() {
	local what=$1 kind=$2 gen=$3 got=$4 line
	shift 4
	while IFS= read -r line; do
		err "$what: $line"
	done < <("$YEAR_PY" "$YEAR_GEN" --check "$gen" "$kind" "$got" "$@" 2>&1)
}

# year_build GEN OUT: every instance of GEN/studies as OUT/STUDY/series-X/NNNN.dcm.
# gen_year.py --expand makes the dumps build_study (lib.sh) would, without its
# processes per instance (half a minute here), and dump2dcm runs on every
# processor.
year_build() {
	local gen=$1 out=$2
	"$YEAR_PY" "$YEAR_GEN" --expand "$gen" "$out" >"$TEST_DIR/expand.out" 2>&1 || {
		err "gen_year.py --expand failed: $(year_head "$TEST_DIR/expand.out")"
		return 1
	}
	# shellcheck disable=SC2016 # $f belongs to the inner shell
	find "$out" -name '*.dump' -print0 |
		xargs -0 -n 16 -P "$(nproc 2>/dev/null || echo 2)" sh -c \
			'for f; do dump2dcm -q +te "$f" "${f%.dump}.dcm" || { echo "dump2dcm failed on $f"; exit 255; }; done' sh \
			>"$TEST_DIR/dump2dcm.out" 2>&1 || {
		err "building the DICOM files: $(year_head "$TEST_DIR/dump2dcm.out")"
		return 1
	}
}

# year_load FILE...: records the files in a new database, YEAR_DB.
year_load() {
	local how=$YEAR_LOAD rc
	if [ "$how" = auto ]; then
		how=network
		year_has import && how=import
	fi
	case $how in
	import)
		YEAR_DB=$TEST_DIR/year.db
		timeout 60 "$HRAUDIT" --db "$YEAR_DB" import "$@" >"$TEST_DIR/import.out" 2>&1
		rc=$?
		[ $rc -eq 0 ] || {
			err "hraudit import exited $rc: $(year_head "$TEST_DIR/import.out")"
			return 1
		}
		;;
	network)
		start year || return 1
		YEAR_DB=$DAEMON_DB
		storescu_send TESTSCU "$TEST_DIR/storescu.out" "$@"
		daemon_stop
		[ "${DAEMON_STATUS:-}" = 0 ] || err "hrauditd exited ${DAEMON_STATUS:-?} after SIGTERM"
		;;
	*)
		err "YEAR_LOAD is '$how' (auto, import or network)"
		return 1
		;;
	esac
}

# year_calcium DB CSV: the calcium scores by hraudit import-calcium, else
# (failing the test) straight into calcium_score so the reports still run.
year_calcium() {
	local db=$1 csv=$2 rc
	if year_has import-calcium; then
		timeout 30 "$HRAUDIT" --db "$db" import-calcium "$csv" >"$TEST_DIR/calcium.out" 2>&1
		rc=$?
		[ $rc -eq 0 ] ||
			err "hraudit import-calcium exited $rc: $(year_head "$TEST_DIR/calcium.out")"
		return
	fi
	err "hraudit import-calcium not implemented"
	"$YEAR_PY" - "$db" "$csv" <<'EOF' || err "cannot load the calcium scores with python3's sqlite3"
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=5)
with open(sys.argv[2], newline="") as f:
    rows = [(r["accession_number"], float(r["agatston"])) for r in csv.DictReader(f)]
db.executemany("INSERT OR REPLACE INTO calcium_score (accession_number, agatston, "
               "imported) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", rows)
db.commit()
EOF
}

# year_report N KIND COMMAND [OPTIONS...]: runs one report, compares it.
year_report() {
	local n=$1 kind=$2 cmd=$3 out=$TEST_DIR/report-$1.csv a rc
	local args=() shown="hraudit $cmd"
	shift 3
	for a in "$@"; do
		case $a in
		@OPENREM@) args+=("$YEAR_GEN_DIR/openrem.csv") ;;
		@OUT@) args+=("$out") ;;
		*) args+=("$a") ;;
		esac
		case $a in
		@OPENREM@) shown+=" openrem.csv" ;;
		@OUT@) shown+=" ${out##*/}" ;;
		*' '*) shown+=" '$a'" ;;
		*) shown+=" $a" ;;
		esac
	done
	case " ${YEAR_MISSING[*]} " in
	*" $cmd "*) return ;;   # said once already
	esac
	if ! year_has "$cmd"; then
		YEAR_MISSING+=("$cmd")
		err "hraudit $cmd not implemented"
		return
	fi
	case " ${args[*]} " in
	*" -o "*)
		rm -f "$out"
		timeout 30 "$HRAUDIT" --db "$YEAR_DB" "$cmd" "${args[@]}" \
			>"$out.stdout" 2>"$out.err" </dev/null
		;;
	*)
		[ "$cmd" = merge-openrem ] || args+=(--format csv)
		timeout 30 "$HRAUDIT" --db "$YEAR_DB" "$cmd" "${args[@]}" \
			>"$out" 2>"$out.err" </dev/null
		;;
	esac
	rc=$?
	if [ $rc -ne 0 ]; then
		err "$shown exited $rc: $(year_head "$out.err")"
		return
	fi
	[ -s "$out" ] || { err "$shown: no output"; return; }
	year_compare "$shown" "$kind" "$YEAR_GEN_DIR" "$out" "${args[@]}"
}

test_year() {
	local gen=$TEST_DIR/gen files=() line n=0 f c
	local -a words
	YEAR_MISSING=()
	YEAR_DB=
	YEAR_GEN_DIR=$gen
	# The interpreter itself: a version manager's wrapper script can cost a
	# second a call, and gen_year.py runs a dozen times.
	YEAR_PY=$(python3 -c 'import sys; print(sys.executable or "python3")' 2>/dev/null) ||
		YEAR_PY=python3
	if [ ! -x "$HRAUDIT" ]; then
		err "no executable '$HRAUDIT' (build it, or set HRAUDIT)"
		return
	fi
	"$YEAR_PY" "$YEAR_GEN" --out "$gen" --seed "$YEAR_SEED" >"$TEST_DIR/gen.out" 2>&1 || {
		err "gen_year.py failed: $(year_head "$TEST_DIR/gen.out")"
		return
	}
	year_build "$gen" "$TEST_DIR/dcm" || return
	mapfile -t files < <(find "$TEST_DIR/dcm" -name '*.dcm' | sort)
	year_load "${files[@]}" || return

	# The database as the truth says: every cardiac series and no other,
	# then each exam (scan type, heart rate, CTDIvol, calcium score).
	year_sql_csv "$YEAR_DB" "SELECT series_uid, accession_number, scan_type,
		instances FROM series" >"$TEST_DIR/series.csv" 2>&1
	year_compare "series table" series "$gen" "$TEST_DIR/series.csv"
	year_sql_csv "$YEAR_DB" "SELECT (SELECT count(*) FROM exam) AS exams,
		(SELECT count(*) FROM series) AS series,
		(SELECT count(*) FROM instance) AS instances" >"$TEST_DIR/counts.csv" 2>&1
	year_compare "counts" counts "$gen" "$TEST_DIR/counts.csv"
	year_calcium "$YEAR_DB" "$gen/calcium.csv"
	year_sql_csv "$YEAR_DB" "SELECT accession_number, study_date, model, scan_type,
		hr_avg, hr_min, hr_max, hr_var, ctdivol_mgy, calcium_score, series_count,
		weekday FROM exam" >"$TEST_DIR/exams.csv" 2>&1
	year_compare "exam view" exams "$gen" "$TEST_DIR/exams.csv"

	# The reports.
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		n=$((n + 1))
		eval "words=($line)"
		year_report "$n" "${words[@]}"
	done <<<"$YEAR_REPORTS"

	for f in "$YEAR_DB" "$YEAR_DB-wal" "$TEST_DIR"/report-*.csv ${DAEMON_LOG:+"$DAEMON_LOG"}; do
		[ -e "$f" ] || continue
		for c in "${YEAR_CANARIES[@]}"; do
			grep -aqF -- "$c" "$f" && err "'$c' (patient data) found in ${f##*/}"
		done
	done
}
