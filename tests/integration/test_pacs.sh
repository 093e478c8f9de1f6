# test_pacs.sh - integration tests with Orthanc (Debian's package) as the
# hospital PACS: studies are sent to it with storescu, and its auto-forward
# rule, etc/orthanc-forward.lua exactly as shipped, sends every CT instance
# on to hrauditd (orthanc-forward), and sends again by itself what failed
# while hrauditd was down or answered 0xA700 (orthanc-forward-retry).
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
# - The rule forwards each instance as a store job of the REST API
#   (DicomModalityStore, one association each, REST /jobs).  Such a job
#   ends in Failure when hrauditd is down or answers 0xA700, and Lua's
#   OnJobFailure hears of it; the rule sends the failed instances again, in
#   one job, every RETRY_PERIOD seconds (a prelude script sets
#   HRAUDIT_RETRY_PERIOD = 2 here), by a clock made of Orthanc's "Lua"
#   jobs (SequenceOfOperations), until hrauditd takes them.
# (SendToModality, the rule's former way, drops an instance it cannot send,
# "Lua: Unable to send instance", and its job still ends in Success: with
# it, orthanc-forward-retry fails.)
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

# pacs_start DIR [PRELUDE]: Orthanc with the shipped forward rule and the
# running daemon as its modality "hraudit"; PRELUDE, if given, is Lua that
# Orthanc loads first (DIR/prelude.lua), to set the rule's settings.  On
# failure records why.  Its pid goes to BG_PIDS too, so that an interrupted
# run does not leave it behind.
pacs_start() {
	local lua=$PACS_LUA
	if [ -n "${2-}" ]; then
		mkdir -p "$1" && printf '%s\n' "$2" >"$1/prelude.lua" || return 1
		lua=$1/prelude.lua:$PACS_LUA
	fi
	orthanc_start "$1" "$lua" \
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
# ended jobs, none pending or running, and hrauditd has acknowledged at
# least ACKNOWLEDGED instances from it in all; records a failure after
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

# pacs_store_ops: the instances Orthanc's store jobs held (the rule's
# forwards and retries), over its jobs.
pacs_store_ops() {
	pacs_jobs | awk '$1 == "DicomModalityStore" { n += $3 } END { print n + 0 }'
}

# pacs_expect_jobs STATE WHAT: every job of Orthanc's ended in STATE.
pacs_expect_jobs() {
	local bad
	bad=$(pacs_jobs 2>&1 | grep -v "^[A-Za-z]* $1 ")
	[ -z "$bad" ] || err "$2: Orthanc jobs not in $1: $(tr '\n' ';' <<<"$bad")"
}

# pacs_count_jobs TYPE STATE: how many of Orthanc's jobs are of TYPE, in STATE.
pacs_count_jobs() {
	pacs_jobs | awk -v t="$1" -v s="$2" '$1 == t && $2 == s { n++ } END { print n + 0 }'
}

# pacs_log PATTERN: how many lines of Orthanc's log match PATTERN (grep).
pacs_log() {
	grep -c -- "$1" "$PACS_LOG"
}

# pacs_wait_log PATTERN N WHAT: waits until N lines of Orthanc's log match
# PATTERN; records a failure after PACS_WAIT_S.
pacs_wait_log() {
	local deadline=$((SECONDS + PACS_WAIT_S))
	until (($(pacs_log "$1") >= $2)); do
		if ((SECONDS >= deadline)); then
			err "$3: after ${PACS_WAIT_S} s, $(pacs_log "$1") lines of Orthanc's log match '$1', expected $2; last: $(grep -- 'hraudit' "$PACS_LOG" | tail -n 2 | tr '\n' ' ')"
			return 1
		fi
		sleep 0.2
	done
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
#    association: hrauditd acknowledges each exactly once, over one
#    association each (its log lines for Orthanc: 9 associations, 9
#    acknowledged, 7 recorded, 2 not cardiac), the study's rows and values
#    are right (check_study_db), the CLI shows them; the rule made 9 store
#    jobs of one instance, every job of Orthanc's succeeded, nothing failed;
# 2. the PACS receives study 1 again (a resend), then study 2 over two
#    associations at once: Orthanc keeps one copy (18 instances) but
#    forwards the resend again (27 sent and acknowledged, 21 recorded);
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
	pacs_wait 9 9 "study 1" || return
	pacs_expect_totals "9 9 7 2 0" "study 1"
	check_study_db "$db" ORTHANC
	check_cli "$db"
	[ "$(pacs_store_ops)" = 9 ] || err "study 1: the rule sent $(pacs_store_ops) instances, expected 9"
	[ "$(pacs_count_jobs DicomModalityStore Success)" = 9 ] ||
		err "study 1: $(pacs_count_jobs DicomModalityStore Success) store jobs succeeded, expected 9 (one per instance)"
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
	pacs_wait 27 27 "study 1 resent, then study 2" || return
	pacs_expect_totals "27 27 21 6 0" "study 1 resent, then study 2"
	[ "$(pacs_store_ops)" = 27 ] ||
		err "the rule sent $(pacs_store_ops) instances for 18 received twice: 27 expected (Orthanc 1.10 forwards a re-received instance again)"
	[ "$(sql "$db" "SELECT * FROM series WHERE study_uid = '$UID_ROOT.1.1' ORDER BY series_uid;
		SELECT * FROM instance WHERE series_uid IN (SELECT series_uid FROM series
			WHERE study_uid = '$UID_ROOT.1.1') ORDER BY 1")" = "$snap" ] ||
		err "study 1's rows changed when Orthanc forwarded it again"
	[ "$(pacs_api GET /statistics | pacs_json 'j["CountInstances"]')" = 18 ] ||
		err "Orthanc holds $(pacs_api GET /statistics | pacs_json 'j["CountInstances"]') instances, expected 18"
	pacs_expect_jobs Success "study 2"
	[ "$(pacs_log 'Unable to send\|hraudit: ')" = 0 ] ||
		err "failed forwards in Orthanc's log: $(grep -m 1 'Unable to send\|hraudit: ' "$PACS_LOG")"
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

# The rule's own retries, with HRAUDIT_RETRY_PERIOD = 2 (prelude.lua):
# (a) hrauditd down: the rule's 9 store jobs fail (Failure, 9 "forward job
#     ... failed" lines), and so does its first retry (attempt 2, the 9 in
#     one job); hrauditd comes back up; a later retry, the rule's own
#     (nothing is resubmitted by hand), sends the 9 over one association:
#     study 1's rows, each instance acknowledged once;
# (b) hrauditd answers 0xA700 (busy_timeout 1000 ms, the write lock held by
#     an sqlite3 shell): study 2's 9 forwards fail, a retry fails on the
#     first instance; the lock is released; a later retry completes the
#     study.  Orthanc logs no "Unable to send" (SendToModality's drop).
test_orthanc_forward_retry() {
	pacs_retry_run
	fault_sql_close
	pacs_stop
}

pacs_retry_run() {
	local files=() db n_acked episodes=0 passed=0 e0 failed0 n
	local failed='hraudit: forward job .* failed'
	local accepted='hraudit: the 9 instance(s) sent again were accepted'
	mapfile -t files < <(study_files)
	pacs_study2 || return
	DAEMON_EXTRA_INI=$'busy_timeout = 1000\n' start retry || return
	db=$DAEMON_DB
	daemon_stop
	pacs_start "$TEST_DIR/orthanc" 'HRAUDIT_RETRY_PERIOD = 2' || return

	# (a) hrauditd down
	e0=${#ERRS[@]}
	episodes=$((episodes + 1))
	pacs_send CT_FORCE1 "$TEST_DIR/down.out" "${files[@]}"
	# 9 forwards, then the first retry: 10 failed jobs.
	pacs_wait_log "$failed" 10 "forward while hrauditd is down" || return
	grep -q 'hraudit: sending 9 instance(s) again (attempt 2)' "$PACS_LOG" ||
		err "hrauditd down: no 'sending 9 instance(s) again (attempt 2)' in Orthanc's log"
	n=$(pacs_count_jobs DicomModalityStore Failure)
	((n >= 10)) || err "hrauditd down: $n store jobs in Failure, expected at least 10"
	pacs_daemon_up || return
	pacs_wait_log "$accepted" 1 "the rule's retry once hrauditd is up" || return
	pacs_wait 1 9 "the rule's retry once hrauditd is up" || return
	pacs_expect_totals "1 9 7 2 0" "after the rule's retry"
	check_study_db "$db" ORTHANC
	[ ${#ERRS[@]} -eq "$e0" ] && passed=$((passed + 1))

	# (b) hrauditd answers 0xA700
	e0=${#ERRS[@]}
	episodes=$((episodes + 1))
	failed0=$(pacs_log "$failed")
	busy_lock "$TEST_DIR/lock" "$db" || return
	pacs_send CT_ALPHA1 "$TEST_DIR/busy.out" "$T"/study2/series-*/*.dcm
	pacs_wait_log "$failed" $((failed0 + 10)) "forward while the database is locked" || return
	fault_sql 'ROLLBACK;'
	fault_sql_close
	pacs_wait_log "$accepted" 2 "the rule's retry after the lock" || return
	pacs_wait 1 18 "the rule's retry after the lock" || return
	n=$(grep -c 'DICOM_STATUS=0xA700' "$DAEMON_LOG")
	((n >= 10)) || err "hrauditd logged $n 0xA700 answers, expected 9 to the forwards and at least 1 to a retry"
	pacs_expect_totals "- 18 14 4 $n" "after the lock"
	expect_sql "$db" "SELECT count(*) FROM instance" 14 "rows in instance (two studies)"
	pacs_check_study2 "$db"
	[ "$(pacs_log 'Unable to send')" = 0 ] ||
		err "Orthanc dropped forwards: $(grep -m 1 'Unable to send' "$PACS_LOG")"
	[ ${#ERRS[@]} -eq "$e0" ] && passed=$((passed + 1))

	n_acked=$(pacs_totals | cut -d ' ' -f 2)
	figure faults_injected "$episodes"
	figure faults_survived "$passed"
	figure acknowledged "$n_acked"
	figure lost "$((14 - $(sql "$db" "SELECT count(*) FROM instance")))"
	echo "# orthanc-forward-retry: episodes $episodes (passed $passed), failed store jobs" \
		"$(pacs_log "$failed"), retries $(pacs_log 'hraudit: sending'), 0xA700 answers" \
		"$(grep -c 'DICOM_STATUS=0xA700' "$DAEMON_LOG"), acknowledged $n_acked"
}
