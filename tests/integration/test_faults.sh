# test_faults.sh - fault integration tests of hrauditd: what it has
# acknowledged survives SIGKILL at any moment (crash-kill9), a full disk
# (disk-full) and a database locked by others (busy-database); stores that
# cannot be recorded are answered 0xA700 so that the sender retries.
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

# fault_copy_name FILE: series-X/NNNN.dcm becomes series-X-NNNN.dcm.
fault_copy_name() {
	local d=${1%/*}
	printf '%s-%s\n' "${d##*/}" "${1##*/}"
}

# fault_workload DIR COPIES SENDERS [FIRST]: COPIES copies of the cardiac
# series (A, B, C) of the test study, numbered from FIRST (default 1), each
# instance with a SOP Instance UID of its own (the original with ".COPY"
# appended), dealt round-robin over SENDERS lists DIR/list-N ("FILE UID" a
# line).  The copies are made once per run, in $T/fault-copies, for every
# test that uses them.  Returns non-zero if dcmdump or dcmodify fails.
fault_workload() {
	local dir=$1 copies=$2 senders=$3 first=${4:-1} c f uid n=0 out
	local cache=$T/fault-copies
	mkdir -p "$dir" "$cache" || return 1
	if [ ! -s "$cache/uids" ]; then
		for f in "$T"/study/series-[abc]/*.dcm; do
			uid=$(dcmdump -q +P 0008,0018 "$f" | sed -n 's/.*\[\([0-9.]*\)\].*/\1/p')
			[ -n "$uid" ] || return 1
			printf '%s %s\n' "$f" "$uid"
		done >"$cache/uids.tmp" && mv "$cache/uids.tmp" "$cache/uids" || return 1
	fi
	for ((c = 1; c <= senders; c++)); do
		: >"$dir/list-$c"
	done
	for ((c = first; c < first + copies; c++)); do
		if [ ! -d "$cache/copy-$c" ]; then
			rm -rf "$cache/copy-$c.tmp"
			mkdir "$cache/copy-$c.tmp" || return 1
			while read -r f uid; do
				out=$cache/copy-$c.tmp/$(fault_copy_name "$f")
				cp "$f" "$out" || return 1
				dcmodify -q -nb -m "(0008,0018)=$uid.$c" "$out" || return 1
			done <"$cache/uids"
			mv "$cache/copy-$c.tmp" "$cache/copy-$c" || return 1
		fi
		while read -r f uid; do
			out=$cache/copy-$c/$(fault_copy_name "$f")
			printf '%s %s\n' "$out" "$uid.$c" >>"$dir/list-$((n % senders + 1))"
			n=$((n + 1))
		done <"$cache/uids"
	done
}

# fault_attempt FILE UID ACKED: one storescu association sending FILE;
# appends "UID STATUS" to ACKED.responses (STATUS as storescu -v names it,
# "none" when no C-STORE response came).  True on a Success response only:
# the exit status alone is not enough, only a Success response is an
# acknowledgement (and one is, whatever happens after it).
fault_attempt() {
	local f=$1 uid=$2 acked=$3 out=$3.out status
	TCP_NODELAY=1 timeout 10 storescu -v -to 2 -ta 2 -td 5 \
		-aec HRAUDIT -aet FAULTSCU 127.0.0.1 "$DAEMON_PORT" "$f" \
		</dev/null >"$out" 2>&1
	status=$(sed -n 's/^.*Received Store Response (\(.*\))$/\1/p' "$out" | head -n 1)
	echo "$uid ${status:-none}" >>"$acked.responses"
	[ "$status" = Success ]
}

# fault_sender LIST ACKED DEADLINE: sends every file of LIST, one storescu
# association each (fault_attempt), retrying after a short pause until the
# daemon answers Success (it may be dead or restarting), and appends the UID
# of each instance acknowledged with Success to ACKED.  Each instance is
# sent until its first Success and never again, so a later retry cannot
# mend a loss.  Gives up at DEADLINE (epoch seconds), the unsent instances
# in ACKED.unsent.  Each failed attempt adds a line to ACKED.retries.
# Between instances it pauses FAULT_PAUSE_MS ("MIN MAX", default 100 400).
fault_sender() {
	local list=$1 acked=$2 deadline=$3 f uid
	while read -r f uid; do
		until fault_attempt "$f" "$uid" "$acked"; do
			if (($(date +%s) >= deadline)); then
				echo "$uid" >>"$acked.unsent"
				continue 2
			fi
			echo "$uid" >>"$acked.retries"
			sleep 0.05
		done
		echo "$uid" >>"$acked"
		# shellcheck disable=SC2086 # two numbers
		fault_sleep ${FAULT_PAUSE_MS:-100 400}
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

# fault_start_at NAME DB: hrauditd on DB (a path of the caller's choosing,
# such as a small filesystem), its configuration and log TEST_DIR/NAME.ini
# and .log, on a free port; waits until it answers a C-ECHO.
fault_start_at() {
	local attempt=0
	DAEMON_INI=$TEST_DIR/$1.ini
	DAEMON_LOG=$TEST_DIR/$1.log
	DAEMON_DB=$2
	while ((attempt++ < 3)); do
		DAEMON_PORT=$(free_port) || { err "no free port"; return 1; }
		write_config "$DAEMON_INI" "$DAEMON_PORT" "$DAEMON_DB"
		fault_relaunch && return 0
		daemon_stop
		# the port may have been taken in between: try another
		grep -qi 'in use' "$DAEMON_LOG" || break
	done
	err "hrauditd did not start on '$2': $(tail -n 2 "$DAEMON_LOG" | tr '\n' ' ')"
	return 1
}

# fault_send_list LIST ACKED: every file of LIST in one storescu association
# (run.sh's storescu_send: each must be answered Success); appends the UIDs
# of those answered Success to ACKED.
fault_send_list() {
	local files=()
	mapfile -t files < <(cut -d' ' -f1 "$1")
	storescu_send FAULTSCU "$2.out" "${files[@]}"
	awk 'NR == FNR { uid[$1] = $2; next }
		/Sending file: / { f = $NF }
		/Received Store Response \(Success\)/ { print uid[f] }' "$1" "$2.out" >>"$2"
}

# fault_senders DIR N DEADLINE: fault_sender on DIR/list-1..N in the
# background, acknowledgements in DIR/acked-1..N; fault_wait_senders waits.
FAULT_PIDS=()
fault_senders() {
	local i
	for ((i = 1; i <= $2; i++)); do
		: >"$1/acked-$i"
		fault_sender "$1/list-$i" "$1/acked-$i" "$3" &
		FAULT_PIDS+=($!)
		BG_PIDS+=($!)
	done
}

fault_wait_senders() {
	local p
	for p in "${FAULT_PIDS[@]}"; do
		wait "$p"
	done
	fault_forget "${FAULT_PIDS[@]}"
	FAULT_PIDS=()
}

# fault_forget PID...: drops ended processes from BG_PIDS, so that the
# cleanup at exit cannot signal another process that got the same PID.
fault_forget() {
	local keep=() p q
	for p in "${BG_PIDS[@]}"; do
		for q in "$@"; do
			[ "$p" = "$q" ] && continue 2
		done
		keep+=("$p")
	done
	BG_PIDS=("${keep[@]}")
}

# fault_refused DIR: how many attempts of DIR's senders were answered 0xA700
# (storescu -v: "Refused: OutOfResources").
fault_refused() {
	cat "$1"/acked-*.responses 2>/dev/null | grep -c ' Refused: OutOfResources$'
}

# fault_wait_refused DIR N SECONDS: true once N attempts were refused.
fault_wait_refused() {
	local t0=$SECONDS
	until (($(fault_refused "$1") >= $2)); do
		((SECONDS - t0 < $3)) || return 1
		sleep 0.05
	done
}

# fault_check_refusals LOG DIR...: every attempt of the senders of the DIRs
# was answered Success or 0xA700, and LOG has exactly one line per refusal,
# naming the instance, with DICOM_STATUS=0xA700, and no other status line.
# Sets FAULT_REFUSED (the refusals) and FAULT_REFUSED_UIDS (a file).
fault_check_refusals() {
	local log=$1 all=$TEST_DIR/responses bad n_status d
	shift
	for d in "$@"; do
		cat "$d"/acked-*.responses 2>/dev/null
	done >"$all"
	bad=$(grep -v -e ' Success$' -e ' Refused: OutOfResources$' "$all")
	[ -z "$bad" ] ||
		err "$(wc -l <<<"$bad") attempts answered neither Success nor 0xA700: $(head -n 3 \
			<<<"$bad" | tr '\n' ' ')"
	FAULT_REFUSED_UIDS=$TEST_DIR/refused
	sed -n 's/ Refused: OutOfResources$//p' "$all" | sort >"$FAULT_REFUSED_UIDS"
	FAULT_REFUSED=$(wc -l <"$FAULT_REFUSED_UIDS")
	sed -n "s/^.*cannot record instance '\([^']*\)'.*DICOM_STATUS=0xA700.*$/\1/p" "$log" |
		sort >"$TEST_DIR/refusals-logged"
	cmp -s "$FAULT_REFUSED_UIDS" "$TEST_DIR/refusals-logged" ||
		err "log lines 'cannot record instance' per instance differ from its 0xA700 answers (< answers, > log): $(diff \
			"$FAULT_REFUSED_UIDS" "$TEST_DIR/refusals-logged" | grep '^[<>]' | sort |
			uniq -c | head -n 3 | tr '\n' ' ')"
	n_status=$(grep -c 'DICOM_STATUS=' "$log")
	[ "$n_status" -eq "$FAULT_REFUSED" ] ||
		err "$n_status log lines with DICOM_STATUS for $FAULT_REFUSED refusals"
	! grep -qiE 'malformed|corrupt' "$log" ||
		err "the log says: $(grep -iE -m 1 'malformed|corrupt' "$log")"
}

# fault_check_acked DB ACKED WHAT: the database passes integrity_check and
# holds every instance whose UID is in ACKED.  Sets FAULT_LOST.
fault_check_acked() {
	local stored=$TEST_DIR/stored
	expect_sql "$1" "PRAGMA integrity_check" ok "integrity_check $3"
	sql "$1" "SELECT sop_instance_uid FROM instance" | sort -u >"$stored" ||
		err "cannot read the instance table $3"
	FAULT_LOST=$(sort -u "$2" | comm -23 - "$stored" | wc -l)
	[ "$FAULT_LOST" -eq 0 ] ||
		err "$FAULT_LOST acknowledged instances are not in the database $3: $(sort -u \
			"$2" | comm -23 - "$stored" | head -n 3 | tr '\n' ' ')"
}

# fault_sql_open FILE DB: an sqlite3 shell on DB that reads its commands
# (fault_sql) from the fifo FILE.in and writes to FILE.out; fault_sql_wait
# TEXT waits for a line of output; fault_sql_close ends the shell.  One at
# a time.
FAULT_SQL_FD=
FAULT_SQL_PID=
fault_sql_open() {
	FAULT_SQL_OUT=$1.out
	rm -f "$1.in"
	mkfifo "$1.in" || return 1
	sqlite3 -batch "$2" <"$1.in" >"$FAULT_SQL_OUT" 2>&1 &
	FAULT_SQL_PID=$!
	BG_PIDS+=($!)
	exec {FAULT_SQL_FD}>"$1.in"
	fault_sql '.timeout 5000'
}

fault_sql() {
	printf '%s\n' "$@" >&"$FAULT_SQL_FD"
}

# fault_sql_wait TEXT [SECONDS]: true once the shell printed the line TEXT.
fault_sql_wait() {
	local t0=$SECONDS
	until grep -qx -- "$1" "$FAULT_SQL_OUT"; do
		if ((SECONDS - t0 >= ${2:-5})) || ! kill -0 "$FAULT_SQL_PID" 2>/dev/null; then
			err "sqlite3 did not print '$1': $(head -c 200 "$FAULT_SQL_OUT" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.02
	done
}

fault_sql_close() {
	[ -n "$FAULT_SQL_FD" ] || return 0
	exec {FAULT_SQL_FD}>&-
	FAULT_SQL_FD=
	{
		timeout 5 tail --pid="$FAULT_SQL_PID" -f /dev/null ||
			kill "$FAULT_SQL_PID"
		wait "$FAULT_SQL_PID"
	} 2>/dev/null
	fault_forget "$FAULT_SQL_PID"
}

# fault_cli_reads DB WHEN: hraudit series and export on DB succeed.
fault_cli_reads() {
	local c out=$TEST_DIR/cli.out
	for c in series 'export --format csv'; do
		# shellcheck disable=SC2086 # c is two words
		if ! timeout 10 "$HRAUDIT" --db "$1" $c >"$out" 2>&1; then
			err "hraudit $c failed $2: $(head -c 200 "$out")"
		fi
		FAULT_CLI_READS=$((FAULT_CLI_READS + 1))
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

# ---- disk-full -----------------------------------------------------------------

# fault_mount DIR SIZE: a tmpfs of SIZE on DIR, which fault_umount (or the
# exit, whatever ends the run) unmounts: run.sh's cleanup must not meet a
# mount point in the directory it removes.
FAULT_MNT=
fault_mount() {
	mkdir -p "$1" || return 1
	mount -t tmpfs -o "size=$2,mode=0700" hraudit-test "$1" 2>"$TEST_DIR/mount.err" ||
		return 1
	FAULT_MNT=$1
	trap 'daemon_stop; fault_umount; cleanup' EXIT
}

fault_umount() {
	[ -n "$FAULT_MNT" ] || return 0
	# lazily if something still holds a file there
	umount "$FAULT_MNT" 2>/dev/null || umount -l "$FAULT_MNT" ||
		err "cannot unmount '$FAULT_MNT'"
	FAULT_MNT=
	trap cleanup EXIT
}

# fault_fill DIR: a file that takes every free block of DIR's filesystem.
fault_fill() {
	dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null
	[ "$(df --output=avail -B1 "$1" | tail -n 1 | tr -d ' ')" = 0 ] ||
		err "'$1' not full after filling: $(df --output=avail -B1 "$1" | tail -n 1)"
}

# fault_unshared NAME: runs run.sh NAME again in a mount namespace of its
# own (unshare -m, else -rm: one where we are root in a user namespace),
# for a host that refuses our mount, and relays its result.
fault_unshared() {
	local how out
	if [ -n "${HRAUDIT_TEST_UNSHARED-}" ]; then
		err "cannot mount a tmpfs, even in a namespace of our own (unshare $HRAUDIT_TEST_UNSHARED):" \
			"$(head -c 200 "$TEST_DIR/mount.err")"
		return
	fi
	for how in -m -rm; do
		unshare "$how" true 2>/dev/null || continue
		out=$(HRAUDIT_TEST_UNSHARED=$how HRAUDITD=$HRAUDITD HRAUDIT=$HRAUDIT \
			unshare "$how" bash "$root/tests/integration/run.sh" "$1" 2>&1)
		grep '^# ' <<<"$out"
		grep -qx "ok $1" <<<"$out" && return
		grep -q "^FAIL $1: cannot mount a tmpfs" <<<"$out" && continue
		err "in a mount namespace (unshare $how): $(grep -m 1 "^FAIL" <<<"$out")"
		return
	done
	err "mount refused ($(head -c 200 "$TEST_DIR/mount.err")), also in a namespace" \
		"of our own (unshare -m, -rm): cannot make a small filesystem"
}

# The database on a 4 MiB tmpfs.  Seven instances are stored while there is
# room; then a file takes every free block, and three senders store 14 more,
# one association each, retrying: while the disk is full every store is
# answered 0xA700 with one log line (the WAL cannot grow), C-ECHO is
# answered, and a checkpoint (sqlite3's) fails without harm.  The space is
# freed and the retries are recorded.  Then the disk is filled again and the
# daemon stopped (its checkpoint at exit fails: the database must grow) and
# started on the full disk: it must start, refuse stores with 0xA700, and
# record them once there is room.  At the end: integrity_check, every
# acknowledged instance in the instance table, the WAL checkpointed at exit.
# (A daemon that answered Success after a failed commit loses instances; one
# that logged twice, hung or aborted the association fails the checks.)
test_disk_full() {
	local dir=$TEST_DIR/work FAULT_PAUSE_MS='20 80'
	FAULT_T0=$(date +%s%N)
	mkdir -p "$dir"
	{ fault_workload "$dir/base" 1 1 1 && fault_workload "$dir/full" 2 3 2 &&
		fault_workload "$dir/restart" 1 2 4; } 2>"$dir/workload.err" ||
		{ err "cannot build the workload: $(head -c 300 "$dir/workload.err")"; return; }
	if ! fault_mount "$TEST_DIR/fs" 4m; then
		fault_unshared disk-full
		return
	fi
	disk_full_run "$dir" "$TEST_DIR/fs"
	if [ -n "$DAEMON_PID" ] && ! daemon_alive; then
		err "hrauditd died during the test"
	fi
	daemon_stop
	fault_umount
}

disk_full_run() {
	local dir=$1 mnt=$2 db=$2/disk.db deadline ckpt n_acked survived=0 started=no
	fault_start_at disk "$db" || return
	fault_send_list "$dir/base/list-1" "$dir/base/acked"

	# The WAL grows into a full disk.
	fault_fill "$mnt"
	deadline=$(($(date +%s) + 30))
	fault_senders "$dir/full" 3 "$deadline"
	fault_wait_refused "$dir/full" 6 8 ||
		err "only $(fault_refused "$dir/full") stores refused within 8 s of the disk filling up"
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer while the disk is full"
	ckpt=$(sql "$db" "PRAGMA wal_checkpoint(TRUNCATE)" 2>&1)
	fault_wait_refused "$dir/full" 9 8 ||
		err "stores no longer refused after a failed checkpoint"
	rm -f "$mnt/filler"
	fault_wait_senders
	daemon_alive || { err "hrauditd died while the disk was full"; return; }

	# Stopped on a full disk (the checkpoint at exit fails), started on one.
	fault_fill "$mnt"
	daemon_stop
	if [ "$DAEMON_STOP_S" = timeout ] || [ "$DAEMON_STATUS" != 0 ]; then
		err "hrauditd stopped on a full disk: exit status $DAEMON_STATUS, took ${DAEMON_STOP_S}s"
	fi
	grep -q 'cannot checkpoint the database at exit' "$DAEMON_LOG" ||
		err "no warning that the checkpoint at exit failed on a full disk"
	cat "$dir"/base/acked "$dir"/full/acked-? >"$dir/acked"
	fault_check_acked "$db" "$dir/acked" "after a stop on a full disk"
	if fault_relaunch; then
		started=yes
	else
		err "hrauditd did not start on a full disk: $(tail -n 1 "$DAEMON_LOG")"
		rm -f "$mnt/filler"
		fault_relaunch || { err "hrauditd did not start once there was room"; return; }
	fi
	fault_senders "$dir/restart" 2 "$deadline"
	if [ "$started" = yes ]; then
		fault_wait_refused "$dir/restart" 2 8 ||
			err "no store refused after a start on a full disk"
		echo_ok "$DAEMON_PORT" || err "no C-ECHO answer after a start on a full disk"
	fi
	rm -f "$mnt/filler"
	fault_wait_senders
	daemon_alive || err "hrauditd died"
	daemon_stop
	[ "$DAEMON_STATUS" = 0 ] || err "hrauditd exited $DAEMON_STATUS after SIGTERM"
	[ ! -s "$db-wal" ] ||
		err "WAL not checkpointed at exit once there was room ($(wc -c <"$db-wal") bytes)"

	cat "$dir"/base/acked "$dir"/full/acked-? "$dir"/restart/acked-? | sort -u >"$dir/acked"
	n_acked=$(wc -l <"$dir/acked")
	fault_check_acked "$db" "$dir/acked" "at the end"
	fault_check_refusals "$DAEMON_LOG" "$dir/full" "$dir/restart"
	if cat "$dir"/*/acked-?.unsent >/dev/null 2>&1; then
		err "$(cat "$dir"/*/acked-?.unsent | wc -l) instances never acknowledged before the deadline"
	fi
	[ "$n_acked" -eq 28 ] || err "$n_acked distinct instances acknowledged, expected 28"
	# a refusal survived: its instance was recorded on a retry
	survived=$(grep -cxFf "$TEST_DIR/stored" "$FAULT_REFUSED_UIDS")
	case $ckpt in
	*malformed* | *corrupt*) err "checkpoint on the full disk: $ckpt" ;;
	esac
	figure faults_injected "$FAULT_REFUSED"
	figure faults_survived "$survived"
	figure acknowledged "$n_acked"
	figure lost "$FAULT_LOST"
	echo "# disk-full: refused $FAULT_REFUSED (0xA700, $(sort -u "$FAULT_REFUSED_UIDS" | wc -l)" \
		"instances), recorded on a retry $survived, acknowledged $n_acked, lost $FAULT_LOST," \
		"checkpoint on the full disk: '${ckpt//$'\n'/ }', start on a full disk: $started," \
		"runtime $((($(date +%s%N) - FAULT_T0) / 1000000)) ms"
}

# ---- busy-database -------------------------------------------------------------

# hrauditd with [database] busy_timeout = 1000 (ms), while other programs
# hold the database:
# (a) an sqlite3 shell keeps a read transaction open: seven stores in one
#     association all succeed (WAL: readers do not block the writer), and
#     the reader still sees its snapshot;
# (b) an sqlite3 shell holds the write lock (BEGIN IMMEDIATE) until at least
#     three stores were refused: three senders, one association per instance,
#     retrying, get 0xA700 after busy_timeout, one log line each; C-ECHO is
#     answered, and `hraudit series` and `export` read meanwhile; once the
#     lock is released every retried instance is recorded;
# (c) a lock held for 0.2 s, shorter than busy_timeout: the stores wait and
#     succeed.
# Nothing acknowledged is lost, and integrity_check passes.  (A daemon in
# rollback-journal mode fails (a); one that ignored busy_timeout and waited
# forever, or answered Success without its commit, fails (b).)
test_busy_database() {
	local dir=$TEST_DIR/work FAULT_PAUSE_MS='20 80'
	FAULT_T0=$(date +%s%N)
	FAULT_CLI_READS=0
	mkdir -p "$dir"
	{ fault_workload "$dir/read" 1 1 1 && fault_workload "$dir/lock" 2 3 2 &&
		fault_workload "$dir/wait" 1 1 4; } 2>"$dir/workload.err" ||
		{ err "cannot build the workload: $(head -c 300 "$dir/workload.err")"; return; }
	DAEMON_EXTRA_INI=$'busy_timeout = 1000\n' start busy || return
	busy_database_run "$dir" "$DAEMON_DB"
	fault_sql_close
}

# busy_lock FILE DB: an sqlite3 shell (fault_sql_open FILE) that holds the
# write lock of DB until it is told 'ROLLBACK;'.
busy_lock() {
	fault_sql_open "$1" "$2" || { err "cannot start sqlite3"; return 1; }
	fault_sql 'BEGIN IMMEDIATE;' '.print locked'
	fault_sql_wait locked
}

busy_database_run() {
	local dir=$1 db=$2 deadline t0 wait_ms n_acked survived episodes=0 passed=0 counts e0
	# (a) a reader's open transaction
	e0=${#ERRS[@]}
	fault_sql_open "$dir/reader" "$db" || { err "cannot start sqlite3"; return; }
	fault_sql 'BEGIN;' 'SELECT count(*) FROM instance;' '.print reading'
	fault_sql_wait reading || return
	episodes=$((episodes + 1))
	fault_send_list "$dir/read/list-1" "$dir/read/acked"
	fault_cli_reads "$db" "while a read transaction is open"
	fault_sql 'SELECT count(*) FROM instance;' 'COMMIT;' 'SELECT count(*) FROM instance;' \
		'.print finished'
	fault_sql_wait finished || return
	fault_sql_close
	counts=$(grep -v -e reading -e finished "$dir/reader.out" | tr '\n' ' ')
	[ "$counts" = "0 0 7 " ] ||
		err "reader's counts of instances (before, in its snapshot after the stores, after): '$counts', expected '0 0 7'"
	[ ${#ERRS[@]} -eq "$e0" ] && passed=$((passed + 1))

	# (b) the write lock held until stores are refused
	e0=${#ERRS[@]}
	busy_lock "$dir/writer" "$db" || return
	episodes=$((episodes + 1))
	deadline=$(($(date +%s) + 30))
	fault_senders "$dir/lock" 3 "$deadline"
	t0=$SECONDS
	until (($(fault_refused "$dir/lock") >= 3)); do
		if ((SECONDS - t0 > 10)); then
			err "only $(fault_refused "$dir/lock") stores refused in 10 s of a held write lock"
			break
		fi
		fault_cli_reads "$db" "while the write lock is held"
		sleep 0.1
	done
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer while the write lock is held"
	fault_sql 'ROLLBACK;'
	fault_sql_close
	fault_wait_senders
	daemon_alive || { err "hrauditd died while the database was locked"; return; }
	if cat "$dir"/lock/acked-?.unsent >/dev/null 2>&1; then
		err "$(cat "$dir"/lock/acked-?.unsent | wc -l) instances never acknowledged after the lock"
	fi
	[ ${#ERRS[@]} -eq "$e0" ] && passed=$((passed + 1))

	# (c) a lock shorter than busy_timeout: the stores wait for it
	e0=${#ERRS[@]}
	busy_lock "$dir/short" "$db" || return
	episodes=$((episodes + 1))
	(
		sleep 0.2
		fault_sql 'ROLLBACK;'
	) &
	t0=$(date +%s%N)
	fault_send_list "$dir/wait/list-1" "$dir/wait/acked"
	wait_ms=$((($(date +%s%N) - t0) / 1000000))
	wait $!
	fault_sql_close
	[ ${#ERRS[@]} -eq "$e0" ] && passed=$((passed + 1))

	daemon_stop
	[ "$DAEMON_STATUS" = 0 ] || err "hrauditd exited $DAEMON_STATUS after SIGTERM"
	cat "$dir"/read/acked "$dir"/lock/acked-? "$dir"/wait/acked | sort -u >"$dir/acked"
	n_acked=$(wc -l <"$dir/acked")
	fault_check_acked "$db" "$dir/acked" "at the end"
	fault_check_refusals "$DAEMON_LOG" "$dir/lock"
	[ "$n_acked" -eq 28 ] || err "$n_acked distinct instances acknowledged, expected 28"
	survived=$(grep -cxFf "$TEST_DIR/stored" "$FAULT_REFUSED_UIDS")
	figure faults_injected "$episodes"
	figure faults_survived "$passed"
	figure acknowledged "$n_acked"
	figure lost "$FAULT_LOST"
	echo "# busy-database: lock episodes $episodes (passed $passed), refused $FAULT_REFUSED" \
		"(0xA700) while locked, recorded on a retry $survived, stores waited out a" \
		"0.2 s lock in $wait_ms ms, CLI reads $FAULT_CLI_READS, acknowledged $n_acked," \
		"lost $FAULT_LOST, runtime $((($(date +%s%N) - FAULT_T0) / 1000000)) ms"
}
