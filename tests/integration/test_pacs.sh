# test_pacs.sh - integration tests with Orthanc (Debian's package) as the
# hospital PACS: studies are sent to it with storescu, and its auto-forward
# rule, etc/orthanc-forward.lua exactly as shipped, sends every CT instance
# on to hrauditd (orthanc-forward); what is lost when hrauditd is down or
# answers 0xA700, and how the administrator sends it again
# (orthanc-forward-retry).
#
# Sourced by run.sh, whose helpers (err, start, sql, expect_sql,
# check_study_db, check_series, check_cli, storescu_send, study_files) and
# variables (T, TEST_DIR, root, UID_ROOT, SERIES_*, EXPECT_*) these
# functions use, lib.sh's (orthanc_start, orthanc_stop, build_study, echo_ok,
# DAEMON_*), and test_faults.sh's busy_lock; defines functions only.
#
# Orthanc 1.10's behaviour these tests pin down (README.md, "Forwarding from
# the PACS", and the comments of etc/orthanc-forward.lua rely on it):
# - OnStoredInstance runs for every instance Orthanc receives, including
#   one it already holds: a study the PACS receives again (not stored
#   again, with the default "OverwriteInstances": false) is forwarded
#   again.  hrauditd counts each SOP Instance UID once.
# - SendToModality queues the instance in a "SequenceOfOperations" job
#   (REST /jobs), which sends the instances queued together over one
#   association and ends some 5 s after the last.  A send that fails
#   (hrauditd down, or 0xA700) is logged by Orthanc ("Lua: Unable to send
#   instance ...") and dropped: the job still ends in Success, and nothing
#   retries it.  A store job of the REST API (POST /modalities/NAME/store)
#   does end in Failure, and POST /jobs/ID/resubmit sends it again.
# shellcheck shell=bash
# shellcheck disable=SC2154 # T, TEST_DIR, root, ... are set by run.sh
# shellcheck disable=SC2031 # ERRS: see test_orthanc_forward's subshells
# shellcheck disable=SC2034 # DAEMON_PID is read by lib.sh and run.sh

PACS_LUA=$root/etc/orthanc-forward.lua
# Seconds to wait for Orthanc's forwarding (its jobs end ~5 s after the last
# instance; slower under valgrind).
PACS_WAIT_S=${PACS_WAIT_S:-90}
# The second study: the test study with other UIDs (under STUDY2_ROOT, set
# by pacs_study2: run.sh sets UID_ROOT after sourcing this file) and
# accession number.
STUDY2_ACCESSION=0012345679

# ---- helpers -------------------------------------------------------------

# pacs_api METHOD PATH [BODY]: one request to Orthanc's REST API; prints the
# answer; non-zero, with a message on stderr, on an HTTP error.
pacs_api() {
	python3 - "$ORTHANC_HTTP" "$@" <<'EOF'
import sys, urllib.request
port, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=body,
                             method=method)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        sys.stdout.write(r.read().decode())
except Exception as e:
    sys.stderr.write("%s %s: %s\n" % (method, path, e))
    sys.exit(1)
EOF
}

# pacs_json EXPR: prints the Python expression EXPR of the JSON on stdin (j).
pacs_json() {
	python3 -c 'import json, sys
j = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}

# pacs_jobs: Orthanc's jobs, one a line: "TYPE STATE COUNT ERRORCODE ID",
# COUNT being the instances or operations the job holds.
pacs_jobs() {
	pacs_api GET '/jobs?expand' | pacs_json '"\n".join("%s %s %s %s %s" % (x["Type"],
		x["State"], x["Content"].get("CountOperations", x["Content"].get("InstancesCount")),
		x["ErrorCode"], x["ID"]) for x in j)'
}

# pacs_start DIR: Orthanc with the shipped forward rule and the running
# daemon as its modality "hraudit"; on failure records why.  Its pid goes to
# BG_PIDS too, so that an interrupted run does not leave it behind.
pacs_start() {
	orthanc_start "$1" "$PACS_LUA" \
		"{\"hraudit\": [\"HRAUDIT\", \"127.0.0.1\", $DAEMON_PORT]}" ||
		{ err "$ORTHANC_ERROR"; return 1; }
	BG_PIDS+=("$ORTHANC_PID")
	PACS_LOG=$1/orthanc.log
}

# pacs_stop: orthanc_stop, and its pid out of BG_PIDS (test_faults.sh).
pacs_stop() {
	[ -n "${ORTHANC_PID-}" ] && fault_forget "$ORTHANC_PID"
	orthanc_stop
}

# pacs_send AET OUTFILE FILE...: storescu_send to Orthanc (which does not
# check the called AE title) instead of hrauditd.
pacs_send() {
	local DAEMON_PORT=$ORTHANC_PORT
	storescu_send "$@"
}

# pacs_totals: the sums over hrauditd's log lines of Orthanc's associations:
# "ASSOCIATIONS ACKNOWLEDGED RECORDED NOT_CARDIAC FAILED".
pacs_totals() {
	sed -n "s/.*association from 'ORTHANC' ([^)]*) [a-z]*: \([0-9]*\) acknowledged (\([0-9]*\) recorded, \([0-9]*\) not cardiac), \([0-9]*\) failed.*/\1 \2 \3 \4/p" \
		"$DAEMON_LOG" |
		awk '{ n++; a += $1; r += $2; i += $3; f += $4 }
			END { print n + 0, a + 0, r + 0, i + 0, f + 0 }'
}

# pacs_wait JOBS ACKNOWLEDGED WHAT: waits until Orthanc holds at least JOBS
# jobs, none pending or running, and hrauditd has acknowledged at least
# ACKNOWLEDGED instances from it in all; records a failure after
# PACS_WAIT_S.  Orthanc releases the association before its job ends, so
# hrauditd's line for it is logged by then.
pacs_wait() {
	local deadline=$((SECONDS + PACS_WAIT_S)) jobs acked
	while :; do
		acked=$(pacs_totals | cut -d ' ' -f 2)
		jobs=
		if [ "$acked" -ge "$2" ]; then
			jobs=$(pacs_jobs 2>&1)
			if [ "$(grep -c ' Success \| Failure ' <<<"$jobs")" -ge "$1" ] &&
				! grep -qv ' Success \| Failure ' <<<"$jobs"; then
				return 0
			fi
		fi
		if ((SECONDS >= deadline)); then
			[ -n "$jobs" ] || jobs=$(pacs_jobs 2>&1)
			err "$3: after ${PACS_WAIT_S} s, $acked of $2 instances acknowledged, Orthanc's jobs: $(tr '\n' ';' <<<"$jobs")"
			return 1
		fi
		sleep 0.2
	done
}

# pacs_expect_totals "ASSOCIATIONS|- ACKNOWLEDGED RECORDED NOT_CARDIAC FAILED" WHAT
pacs_expect_totals() {
	local got want=$1
	got=$(pacs_totals)
	[ "${want%% *}" != - ] || got="- ${got#* }"
	[ "$got" = "$want" ] ||
		err "$2: hrauditd's lines for Orthanc sum to '$got' (associations, acknowledged, recorded, not cardiac, failed), expected '$want'"
}

# pacs_lua_ops: the instances the forward rule queued, over Orthanc's jobs.
pacs_lua_ops() {
	pacs_jobs | awk '$1 == "SequenceOfOperations" { n += $3 } END { print n + 0 }'
}

# pacs_expect_jobs STATE WHAT: every job of Orthanc's ended in STATE.
pacs_expect_jobs() {
	local bad
	bad=$(pacs_jobs 2>&1 | grep -v "^[A-Za-z]* $1 ")
	[ -z "$bad" ] || err "$2: Orthanc jobs not in $1: $(tr '\n' ';' <<<"$bad")"
}

# pacs_unsent: Orthanc's log lines of instances its forward rule dropped.
pacs_unsent() {
	grep -c 'Lua: Unable to send instance' "$PACS_LOG"
}

# pacs_study2: builds the second study in $T/study2 (once per run).
pacs_study2() {
	local d=$T/study2-data f
	STUDY2_ROOT=$UID_ROOT.9
	[ -d "$T/study2" ] && return 0
	mkdir -p "$d" || return 1
	for f in "$root"/tests/data/*.dump; do
		sed -e "s/\[$UID_ROOT\./[$STUDY2_ROOT./" \
			-e "s/\[0012345678\]/[$STUDY2_ACCESSION]/" "$f" >"$d/${f##*/}" || return 1
	done
	build_study "$d" "$T/study2" 2>"$d/build.err" ||
		{ err "cannot build the second study: $(head -c 300 "$d/build.err")"; return 1; }
}

# pacs_check_study2 DB: the three cardiac rows of the second study.
pacs_check_study2() {
	local common=$EXPECT_COMMON
	local EXPECT_COMMON
	EXPECT_COMMON=$(sed -e "s/^study_uid|.*/study_uid|$STUDY2_ROOT.1.1/" \
		-e "s/^accession_number|.*/accession_number|$STUDY2_ACCESSION/" <<<"$common")
	check_series "$1" "$STUDY2_ROOT.2.1" "A of study 2" "$EXPECT_A" ORTHANC
	check_series "$1" "$STUDY2_ROOT.2.2" "B of study 2" "$EXPECT_B" ORTHANC
	check_series "$1" "$STUDY2_ROOT.2.3" "C of study 2" "$EXPECT_C" ORTHANC
}

# pacs_store_job UID: Orthanc stores the study UID to hraudit as a job of
# its REST API (what README.md tells the administrator to do); prints the
# job's ID.
pacs_store_job() {
	local id
	id=$(pacs_api POST /tools/lookup "$1" | pacs_json '[x["ID"] for x in j if x["Type"] == "Study"][0]') ||
		return 1
	pacs_api POST /modalities/hraudit/store \
		"{\"Resources\": [\"$id\"], \"Asynchronous\": true}" | pacs_json 'j["ID"]'
}

# pacs_job_state ID: "STATE ERRORCODE" of one job.
pacs_job_state() {
	pacs_api GET "/jobs/$1" | pacs_json '"%s %s" % (j["State"], j["ErrorCode"])'
}

# pacs_daemon_up: starts hrauditd again on its configuration (port and
# database), which Orthanc's modality names, and waits for its C-ECHO.
pacs_daemon_up() {
	local deadline=$((SECONDS + DAEMON_START_TIMEOUT_S))
	"$HRAUDITD" -d -f "$DAEMON_INI" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	until echo_ok "$DAEMON_PORT"; do
		if ((SECONDS >= deadline)) || ! daemon_alive; then
			err "hrauditd did not come back on port $DAEMON_PORT"
			return 1
		fi
		sleep 0.1
	done
}

# ---- orthanc-forward ---------------------------------------------------------

# Orthanc forwards with etc/orthanc-forward.lua as shipped:
# 1. study 1 (9 CT instances, 2 of them the abdomen) from one scanner
#    association: hrauditd acknowledges each exactly once (its log lines for
#    Orthanc sum to 9: 7 recorded, 2 not cardiac), the study's rows and
#    values are right (check_study_db), the CLI shows them; the rule queued
#    9 instances, every job of Orthanc's succeeded, none dropped;
# 2. the PACS receives study 1 again (a resend), then study 2 over two
#    associations at once: Orthanc keeps one copy (18 instances) but
#    forwards the resend again (27 queued and acknowledged, 21 recorded);
#    study 1's rows and instance rows are unchanged, received times
#    included (counted once); study 2's rows are right: six rows, 14
#    instances.
# (A rule that forwards some instance twice, or skips one, or the abdomen,
# fails 1.)
test_orthanc_forward() {
	pacs_forward_run
	pacs_stop
}

pacs_forward_run() {
	local files=() pids=() p i tot db snap
	mapfile -t files < <(study_files)
	pacs_study2 || return
	DAEMON_EXTRA_INI=$'[access]\nallow = ORTHANC 127.0.0.1\nallow = TESTSCU 127.0.0.1\n' \
		start forward || return
	db=$DAEMON_DB
	pacs_start "$TEST_DIR/orthanc" || return

	# 1. study 1, one association from the scanner to the PACS
	pacs_send CT_FORCE1 "$TEST_DIR/study1.out" "${files[@]}"
	pacs_wait 1 9 "study 1" || return
	pacs_expect_totals "- 9 7 2 0" "study 1"
	check_study_db "$db" ORTHANC
	check_cli "$db"
	[ "$(pacs_lua_ops)" = 9 ] || err "study 1: the rule queued $(pacs_lua_ops) instances, expected 9"
	pacs_expect_jobs Success "study 1"
	snap=$(sql "$db" "SELECT * FROM series ORDER BY series_uid; SELECT * FROM instance ORDER BY 1")

	# 2. study 1 again, then study 2 from two associations at once
	pacs_send CT_FORCE1 "$TEST_DIR/resend.out" "${files[@]}"
	# Each association in a subshell of its own, which hands its failures
	# (err) back in a file.
	i=0
	for p in d:a b:c; do
		i=$((i + 1))
		# shellcheck disable=SC2030,SC2031 # ERRS of the subshell, on purpose
		(
			ERRS=()
			pacs_send CT_ALPHA1 "$TEST_DIR/study2-$i.out" "$T/study2/series-${p%:*}"/*.dcm \
				"$T/study2/series-${p#*:}"/*.dcm
			printf '%s\n' "${ERRS[@]}" >"$TEST_DIR/study2-$i.err"
		) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	for ((i = 1; i <= 2; i++)); do
		while IFS= read -r p; do
			[ -z "$p" ] || err "study 2, association $i: $p"
		done <"$TEST_DIR/study2-$i.err"
	done
	pacs_wait 1 27 "study 1 resent, then study 2" || return
	pacs_expect_totals "- 27 21 6 0" "study 1 resent, then study 2"
	[ "$(pacs_lua_ops)" = 27 ] ||
		err "the rule queued $(pacs_lua_ops) instances for 18 received twice: 27 expected (Orthanc 1.10 forwards a re-received instance again)"
	[ "$(sql "$db" "SELECT * FROM series WHERE study_uid = '$UID_ROOT.1.1' ORDER BY series_uid;
		SELECT * FROM instance WHERE series_uid IN (SELECT series_uid FROM series
			WHERE study_uid = '$UID_ROOT.1.1') ORDER BY 1")" = "$snap" ] ||
		err "study 1's rows changed when Orthanc forwarded it again"
	[ "$(pacs_api GET /statistics | pacs_json 'j["CountInstances"]')" = 18 ] ||
		err "Orthanc holds $(pacs_api GET /statistics | pacs_json 'j["CountInstances"]') instances, expected 18"
	pacs_expect_jobs Success "study 2"
	[ "$(pacs_unsent)" = 0 ] || err "Orthanc dropped $(pacs_unsent) forwards: $(grep -m 1 'Unable to send' "$PACS_LOG")"
	expect_sql "$db" "SELECT count(*) FROM series" 6 "rows in series (two studies)"
	expect_sql "$db" "SELECT count(*) FROM instance" 14 "rows in instance (two studies)"
	expect_sql "$db" "SELECT group_concat(instances, ',') FROM (SELECT instances FROM series ORDER BY series_uid)" \
		"3,2,2,3,2,2" "instances per series (A, B, C of study 1, then of study 2)"
	expect_sql "$db" "SELECT count(*) FROM series WHERE series_uid IN ('$SERIES_D', '$STUDY2_ROOT.2.4')" 0 \
		"abdomen series recorded"
	check_series "$db" "$SERIES_A" A "$EXPECT_A" ORTHANC
	check_series "$db" "$SERIES_B" B "$EXPECT_B" ORTHANC
	check_series "$db" "$SERIES_C" C "$EXPECT_C" ORTHANC
	pacs_check_study2 "$db"
	check_no_canaries "$db" "$db-wal" "$DAEMON_LOG"

	tot=$(pacs_totals)
	figure acknowledged "$(cut -d ' ' -f 2 <<<"$tot")"
	figure lost "$((14 - $(sql "$db" "SELECT count(*) FROM instance")))"
	echo "# orthanc-forward: $(cut -d ' ' -f 1 <<<"$tot") associations from Orthanc," \
		"acknowledged/recorded/not cardiac/failed $(cut -d ' ' -f 2- <<<"$tot" | tr ' ' /)"
}

# ---- orthanc-forward-retry ---------------------------------------------------

# What an administrator must know, tested:
# (a) hrauditd down: Orthanc's rule drops every instance (9 "Unable to send"
#     lines in its log; its job still ends in Success; nothing retries);
#     sending the study again as a REST store job fails visibly (Failure)
#     while hrauditd is down; once it is up, POST /jobs/ID/resubmit
#     completes it: study 1's rows, each instance acknowledged once;
# (b) hrauditd answers 0xA700 (busy_timeout 1000 ms, the write lock held by
#     an sqlite3 shell): the rule drops study 2 the same way; the store job
#     fails on the first 0xA700, and its resubmission after the lock is
#     released completes the study.
test_orthanc_forward_retry() {
	pacs_retry_run
	fault_sql_close
	pacs_stop
}

pacs_retry_run() {
	local files=() job st db n_acked episodes=0 passed=0 e0
	mapfile -t files < <(study_files)
	pacs_study2 || return
	DAEMON_EXTRA_INI=$'busy_timeout = 1000\n' start retry || return
	db=$DAEMON_DB
	daemon_stop
	pacs_start "$TEST_DIR/orthanc" || return

	# (a) hrauditd down
	e0=${#ERRS[@]}
	episodes=$((episodes + 1))
	pacs_send CT_FORCE1 "$TEST_DIR/down.out" "${files[@]}"
	pacs_wait 1 0 "forward while hrauditd is down" || return
	[ "$(pacs_unsent)" = 9 ] ||
		err "hrauditd down: Orthanc logged $(pacs_unsent) instances unsent, expected 9"
	pacs_expect_jobs Success "the forward rule's job while hrauditd is down (Orthanc reports its failures only in its log)"
	job=$(pacs_store_job "$UID_ROOT.1.1") || { err "cannot start Orthanc's store job"; return; }
	pacs_wait 2 0 "store job while hrauditd is down" || return
	st=$(pacs_job_state "$job")
	[ "${st%% *}" = Failure ] || err "store job while hrauditd is down: '$st', expected Failure"
	pacs_daemon_up || return
	pacs_api POST "/jobs/$job/resubmit" '' >/dev/null || err "cannot resubmit job $job"
	pacs_wait 2 9 "resubmitted store job" || return
	st=$(pacs_job_state "$job")
	[ "$st" = "Success 0" ] || err "resubmitted store job: '$st', expected 'Success 0'"
	pacs_expect_totals "1 9 7 2 0" "after the resubmission"
	check_study_db "$db" ORTHANC
	[ ${#ERRS[@]} -eq "$e0" ] && passed=$((passed + 1))

	# (b) hrauditd answers 0xA700
	e0=${#ERRS[@]}
	episodes=$((episodes + 1))
	busy_lock "$TEST_DIR/lock" "$db" || return
	pacs_send CT_ALPHA1 "$TEST_DIR/busy.out" "$T"/study2/series-*/*.dcm
	pacs_wait 3 9 "forward while the database is locked" || return
	[ "$(pacs_unsent)" = 18 ] ||
		err "0xA700: Orthanc logged $(($(pacs_unsent) - 9)) instances unsent, expected 9"
	pacs_expect_jobs Success "the forward rule's job while hrauditd answers 0xA700"
	job=$(pacs_store_job "$STUDY2_ROOT.1.1") || { err "cannot start Orthanc's store job"; return; }
	pacs_wait 4 9 "store job while the database is locked" || return
	st=$(pacs_job_state "$job")
	[ "${st%% *}" = Failure ] || err "store job answered 0xA700: '$st', expected Failure"
	fault_sql 'ROLLBACK;'
	fault_sql_close
	pacs_api POST "/jobs/$job/resubmit" '' >/dev/null || err "cannot resubmit job $job"
	pacs_wait 4 18 "resubmitted store job after the lock" || return
	st=$(pacs_job_state "$job")
	[ "$st" = "Success 0" ] || err "store job resubmitted after the lock: '$st', expected 'Success 0'"
	[ "$(grep -c 'DICOM_STATUS=0xA700' "$DAEMON_LOG")" -ge 10 ] ||
		err "hrauditd logged $(grep -c 'DICOM_STATUS=0xA700' "$DAEMON_LOG") 0xA700 answers, expected 9 to the rule and 1 to the store job"
	pacs_expect_totals "- 18 14 4 $(grep -c 'DICOM_STATUS=0xA700' "$DAEMON_LOG")" "after the lock"
	expect_sql "$db" "SELECT count(*) FROM instance" 14 "rows in instance (two studies)"
	pacs_check_study2 "$db"
	[ ${#ERRS[@]} -eq "$e0" ] && passed=$((passed + 1))

	n_acked=$(pacs_totals | cut -d ' ' -f 2)
	figure faults_injected "$episodes"
	figure faults_survived "$passed"
	figure acknowledged "$n_acked"
	figure lost "$((14 - $(sql "$db" "SELECT count(*) FROM instance")))"
	echo "# orthanc-forward-retry: episodes $episodes (passed $passed), dropped by the" \
		"rule $(pacs_unsent), 0xA700 answers $(grep -c 'DICOM_STATUS=0xA700' "$DAEMON_LOG")," \
		"acknowledged $n_acked"
}
