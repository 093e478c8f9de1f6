# test_faults.sh - crash-safety integration tests of hrauditd: what it has
# acknowledged survives SIGKILL at any moment.
#
# Sourced by run.sh, whose helpers (err, start, sql, expect_sql) and
# variables (T, TEST_DIR, HRAUDITD, BG_PIDS) these functions use, and
# lib.sh's daemon helpers (daemon_start, daemon_alive, daemon_stop, echo_ok,
# DAEMON_*); defines functions only.
# shellcheck shell=bash
# shellcheck disable=SC2154 # T, TEST_DIR, HRAUDITD, ... are set by run.sh

# ---- helpers -----------------------------------------------------------------

# fault_sleep MIN_MS MAX_MS: sleeps a random time between the two.
fault_sleep() {
	local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

# fault_workload DIR COPIES SENDERS: COPIES copies of the cardiac series
# (A, B, C) of the test study, each instance with a SOP Instance UID of its
# own (the original with ".COPY" appended), dealt round-robin over SENDERS
# lists DIR/list-N ("FILE UID" a line).  Returns non-zero if dcmodify fails.
fault_workload() {
	local dir=$1 copies=$2 senders=$3 c f uid new n=0 out
	for ((c = 1; c <= senders; c++)); do
		: >"$dir/list-$c"
	done
	for ((c = 1; c <= copies; c++)); do
		mkdir -p "$dir/copy-$c" || return 1
		for f in "$T"/study/series-a/*.dcm "$T"/study/series-b/*.dcm \
			"$T"/study/series-c/*.dcm; do
			uid=$(dcmdump -q +P 0008,0018 "$f" | sed -n 's/.*\[\([0-9.]*\)\].*/\1/p')
			[ -n "$uid" ] || return 1
			new=$uid.$c
			out=$dir/copy-$c/$(basename "$(dirname "$f")")-$(basename "$f")
			cp "$f" "$out" || return 1
			dcmodify -q -nb -m "(0008,0018)=$new" "$out" || return 1
			printf '%s %s\n' "$out" "$new" >>"$dir/list-$((n % senders + 1))"
			n=$((n + 1))
		done
	done
}

# fault_sender LIST ACKED DEADLINE: sends every file of LIST, one storescu
# association each, retrying after a short pause until the daemon answers
# Success (it may be dead or restarting), and appends the UID of each
# instance acknowledged with Success to ACKED.  Each instance is sent until
# its first Success and never again, so a later retry cannot mend a loss.
# Gives up at DEADLINE (epoch seconds), the unsent instances in
# ACKED.unsent.  Each failed attempt adds a line to ACKED.retries.
fault_sender() {
	local list=$1 acked=$2 deadline=$3 f uid out=$2.out
	while read -r f uid; do
		# The exit status alone is not enough: only a Success response is
		# an acknowledgement (and one is, whatever happens after it).
		until TCP_NODELAY=1 timeout 10 storescu -v -to 2 -ta 2 -td 5 \
			-aec HRAUDIT -aet FAULTSCU 127.0.0.1 "$DAEMON_PORT" "$f" \
			</dev/null >"$out" 2>&1
			grep -q 'Received Store Response (Success)' "$out"; do
			if (($(date +%s) >= deadline)); then
				echo "$uid" >>"$acked.unsent"
				continue 2
			fi
			echo "$uid" >>"$acked.retries"
			sleep 0.05
		done
		echo "$uid" >>"$acked"
		fault_sleep 100 400
	done <"$list"
}

# fault_relaunch: starts hrauditd again on the same configuration (port,
# database, log) and waits until it answers a C-ECHO.
fault_relaunch() {
	local t0=$SECONDS
	"$HRAUDITD" -d -f "$DAEMON_INI" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	until echo_ok "$DAEMON_PORT"; do
		if ! daemon_alive || ((SECONDS - t0 > 10)); then
			return 1
		fi
		sleep 0.02
	done
}

# ---- crash-kill9 ---------------------------------------------------------------

# Three senders store 63 distinct instances, one association each, while
# hrauditd is killed with SIGKILL at 20 or more random moments (0.05-0.4 s
# apart) and restarted on the same port and database.  Every instance
# acknowledged with Success must be in the instance table after a last
# SIGKILL, the database must pass integrity_check, and hrauditd must start
# again on it and stop cleanly.  (A daemon that answered before its commit
# fails: one that committed every fourth batch only lost 22-39 of 63.)
test_crash_kill9() {
	local dir=$TEST_DIR/work senders=3 copies=9 min_kills=20 kills=0 i p
	local pids=() deadline t0 n_acked lost db retries busy kills_busy=0 survived=0
	t0=$(date +%s%N)
	mkdir -p "$dir"
	fault_workload "$dir" "$copies" "$senders" 2>"$dir/workload.err" ||
		{ err "cannot build the workload: $(head -c 300 "$dir/workload.err")"; return; }
	start crash || return
	db=$DAEMON_DB
	deadline=$(($(date +%s) + 45))
	for ((i = 1; i <= senders; i++)); do
		: >"$dir/acked-$i"
		fault_sender "$dir/list-$i" "$dir/acked-$i" "$deadline" &
		pids+=($!)
		BG_PIDS+=($!)
	done

	# Kill until min_kills kills and until every sender is done; count the
	# kills while some sender was still at work.
	while (($(date +%s) < deadline)); do
		busy=0
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null && busy=1
		done
		((kills >= min_kills && !busy)) && break
		fault_sleep 50 400
		{
			kill -KILL "$DAEMON_PID"
			wait "$DAEMON_PID"
		} 2>/dev/null
		kills=$((kills + 1))
		kills_busy=$((kills_busy + busy))
		if ! fault_relaunch; then
			err "hrauditd did not come back after kill $kills: $(tail -n 3 "$DAEMON_LOG" | tr '\n' ' ')"
			break
		fi
		survived=$((survived + 1))
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	BG_PIDS=()

	# The last crash: nothing acknowledged may depend on a clean exit.
	if daemon_alive; then
		{
			kill -KILL "$DAEMON_PID"
			wait "$DAEMON_PID"
		} 2>/dev/null
		kills=$((kills + 1))
	fi
	DAEMON_PID=

	cat "$dir"/acked-? | sort -u >"$dir/acked"
	retries=$(cat "$dir"/acked-?.retries 2>/dev/null | wc -l)
	n_acked=$(wc -l <"$dir/acked")
	expect_sql "$db" "PRAGMA integrity_check" ok "integrity_check after $kills kills"
	sql "$db" "SELECT sop_instance_uid FROM instance" | sort -u >"$dir/stored" ||
		err "cannot read the instance table"
	lost=$(comm -23 "$dir/acked" "$dir/stored" | wc -l)
	[ "$lost" -eq 0 ] ||
		err "$lost acknowledged instances are not in the database: $(comm -23 \
			"$dir/acked" "$dir/stored" | head -n 3 | tr '\n' ' ')"
	if cat "$dir"/acked-?.unsent >/dev/null 2>&1; then
		err "not every instance was acknowledged before the deadline: $(cat \
			"$dir"/acked-?.unsent 2>/dev/null | wc -l) never were"
	fi
	[ "$n_acked" -eq $((copies * 7)) ] ||
		err "$n_acked distinct instances acknowledged, expected $((copies * 7))"
	((kills >= min_kills)) || err "only $kills kills"

	# And it starts again on what the crashes left, and stops cleanly.
	if fault_relaunch; then
		survived=$((survived + 1))
		daemon_stop
		[ "$DAEMON_STATUS" = 0 ] || err "hrauditd exited $DAEMON_STATUS after SIGTERM"
		expect_sql "$db" "PRAGMA integrity_check" ok "integrity_check after the restart"
	else
		err "hrauditd did not start after the last kill"
	fi
	figure faults_injected "$kills"
	figure faults_survived "$survived"
	figure acknowledged "$n_acked"
	figure lost "$lost"
	echo "# crash-kill9: kills $kills ($kills_busy while sending), acknowledged $n_acked," \
		"lost $lost, failed attempts retried $retries," \
		"runtime $((($(date +%s%N) - t0) / 1000000)) ms"
}
