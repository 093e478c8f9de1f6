#!/usr/bin/env bash
# bench/run.sh - `make bench`: hrauditd's forward path measured beside
# DCMTK's storescp and Orthanc, in one run, on 127.0.0.1 (bench/README.md).
#
#   HRAUDITD=build/bench/hrauditd bash bench/run.sh
#
# Environment: HRAUDITD (required), BENCH_CACHE (workloads, default
# build/bench/workloads), BENCH_RESULTS (default bench/results), BENCH_REPEAT
# (runs of workloads 1 and 2 per receiver, median kept; default 3),
# BENCH_PERF=1 (perf record -g of hrauditd during workload 1, report saved
# beside the results).
#
# Each run starts a fresh receiver in its own temporary folder, waits until it
# answers a C-ECHO, sends the workload with storescu, checks what arrived,
# reads the receiver's peak RSS (VmHWM) and stops it.  The raw runs go to a
# CSV that bench/report.py turns into the table, the CSV of results and the
# PASS/FAIL lines.  Exit status: 0 when everything could be measured (targets
# missed included), 1 when the bench itself could not run.
# shellcheck disable=SC2034 # manifest variables

set -u
unset TCP_NODELAY   # set explicitly per process below

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
HRAUDITD=${HRAUDITD:?set HRAUDITD to the hrauditd binary to measure}
CACHE=${BENCH_CACHE:-$top/build/bench/workloads}
RESULTS=${BENCH_RESULTS:-$here/results}
REPEAT=${BENCH_REPEAT:-3}
PERF=${BENCH_PERF:-0}

# The same storescu options for every receiver: 128 KiB PDUs (DCMTK's
# largest), continue after a failed store, long socket timeout for the 1 GiB
# object (Orthanc answers it only after storing and parsing it), verbose so
# that every acknowledged store can be counted.
STORESCU_OPTS=(-v -nh --max-pdu 131072 -ts 600 -aet BENCH)

die() { echo "bench: $*" >&2; exit 1; }

for tool in storescu storescp echoscu dump2dcm Orthanc sqlite3 python3 curl pgrep; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (make bench installs it)"
done
[ -x "$HRAUDITD" ] || die "no executable '$HRAUDITD'"
HRAUDITD=$(cd "$(dirname "$HRAUDITD")" && pwd)/$(basename "$HRAUDITD")

python3 "$here/gen.py" "$top/tests/data" "$here" "$CACHE" || die "cannot build the workloads"
# shellcheck source=/dev/null
. "$CACHE/manifest.sh"
W1_FILES=("$CACHE"/w1/img*.dcm)
W3_FILE=$CACHE/w3/enhanced.dcm
if [ ${#W1_FILES[@]} -ne 500 ] || [ ! -r "$W3_FILE" ]; then
	die "incomplete workloads in '$CACHE'"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hraudit-bench.XXXXXX") || die "no temporary folder"
mkdir -p "$RESULTS" || die "cannot create '$RESULTS'"
STAMP=$(date +%Y%m%d-%H%M%S)
RUNS=$WORK/runs.csv
echo "receiver,workload,rep,images,bytes,seconds,arrived,series,peak_rss_kib,finish_s,error" >"$RUNS"

# ---- processes ---------------------------------------------------------------
# Every process started here is in PIDS, stopped by its PID on exit.

PIDS=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local p c
	for p in "${PIDS[@]}"; do
		for c in $(pgrep -P "$p" 2>/dev/null); do kill -KILL "$c" 2>/dev/null; done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# vmhwm PID: peak resident set size in KiB (0 when gone).
vmhwm() {
	local k v u
	while read -r k v u; do
		[ "$k" = VmHWM: ] && { echo "$v"; return; }
	done 2>/dev/null <"/proc/$1/status"
	echo 0
}

# rss_sampler PID FILE: the largest VmHWM of PID and its children, every
# 100 ms, into FILE (for storescp --fork, whose children come and go).
rss_sampler() {
	local pid=$1 out=$2 max=0 p kb
	while kill -0 "$pid" 2>/dev/null; do
		for p in "$pid" $(pgrep -P "$pid"); do
			kb=$(vmhwm "$p")
			if ((kb > max)); then max=$kb; echo "$max" >"$out"; fi
		done
		sleep 0.1
	done
}

# ---- receivers -----------------------------------------------------------------
# recv_start KIND DIR: starts a receiver with its data in DIR; sets R_PID,
# R_PORT, R_AE (and R_HTTP for Orthanc, R_SAMPLER for the --fork kinds).
# KIND: ignore, ignore-fork, files, files-fork, hrauditd, orthanc.

recv_name() {
	case $1 in
	ignore) echo "storescp --ignore" ;;
	ignore-fork) echo "storescp --fork --ignore" ;;
	files) echo "storescp -od" ;;
	files-fork) echo "storescp --fork -od" ;;
	hrauditd) echo "hrauditd" ;;
	orthanc) echo "orthanc" ;;
	esac
}

recv_start() {
	local kind=$1 dir=$2 i
	R_PID='' R_HTTP='' R_SAMPLER=''
	R_PORT=$(free_port) || return 1
	mkdir -p "$dir"
	case $kind in
	ignore | ignore-fork | files | files-fork)
		local opts=(--max-pdu 131072 -aet STORESCP)
		case $kind in *-fork) opts+=(--fork) ;; esac
		case $kind in
		ignore*) opts+=(--ignore) ;;
		files*) mkdir -p "$dir/out"; opts+=(-od "$dir/out") ;;
		esac
		R_AE=STORESCP
		env TCP_NODELAY=1 storescp "${opts[@]}" "$R_PORT" >"$dir/log" 2>&1 &
		R_PID=$!
		;;
	hrauditd)
		R_AE=HRAUDIT
		printf '[server]\naetitle = HRAUDIT\nbind = 127.0.0.1\nport = %s\n[database]\npath = %s\n' \
			"$R_PORT" "$dir/bench.db" >"$dir/hrauditd.ini"
		env TCP_NODELAY=1 "$HRAUDITD" -d -f "$dir/hrauditd.ini" >"$dir/log" 2>&1 &
		R_PID=$!
		;;
	orthanc)
		R_AE=ORTHANC
		R_HTTP=$(free_port) || return 1
		mkdir -p "$dir/storage" "$dir/index"
		sed -e "s|@DIR@|$dir|" -e "s|@LUA@|$here/orthanc.lua|" \
			-e "s|@HTTP_PORT@|$R_HTTP|" -e "s|@DICOM_PORT@|$R_PORT|" \
			"$here/orthanc.json.in" >"$dir/orthanc.json"
		env TCP_NODELAY=1 Orthanc "$dir/orthanc.json" >"$dir/log" 2>&1 &
		R_PID=$!
		;;
	esac
	PIDS+=("$R_PID")
	for ((i = 0; i < 300; i++)); do
		if echoscu -to 2 -ta 2 -td 2 -aet BENCH -aec "$R_AE" 127.0.0.1 "$R_PORT" >/dev/null 2>&1 &&
			{ [ -z "$R_HTTP" ] || curl -sf "http://127.0.0.1:$R_HTTP/system" >/dev/null; }; then
			case $kind in
			*-fork)
				rss_sampler "$R_PID" "$dir/rss" &
				R_SAMPLER=$!
				PIDS+=("$R_SAMPLER")
				;;
			esac
			return 0
		fi
		kill -0 "$R_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: $(recv_name "$kind") did not answer C-ECHO on port $R_PORT" >&2
	tail -5 "$dir/log" >&2
	recv_stop "$kind" "$dir"
	return 1
}

# recv_rss KIND DIR: peak RSS in KiB of the receiver (and, for --fork, of the
# largest child seen).
recv_rss() {
	local kb sampled=0
	kb=$(vmhwm "$R_PID")
	if [ -n "$R_SAMPLER" ]; then
		local p c
		for c in $(pgrep -P "$R_PID"); do
			p=$(vmhwm "$c")
			((p > kb)) && kb=$p
		done
		[ -s "$2/rss" ] && sampled=$(<"$2/rss")
		((sampled > kb)) && kb=$sampled
	fi
	echo "$kb"
}

# expected_series WORKLOAD: the Series Instance UIDs sent, quoted for SQL.
expected_series() {
	case $1 in
	w1-*) echo "'$W1_SERIES'" ;;
	w2) echo "'$W2_SERIES_1','$W2_SERIES_2','$W2_SERIES_3','$W2_SERIES_4'" ;;
	w3) echo "'$W3_SERIES'" ;;
	esac
}

# recv_count KIND DIR WORKLOAD: "instances series" the receiver holds ("- -"
# when it keeps nothing: storescp --ignore).
recv_count() {
	case $1 in
	ignore | ignore-fork) echo "- -" ;;
	files | files-fork) echo "$(find "$2/out" -type f | wc -l) -" ;;
	hrauditd)
		# the instances recorded, and the rows of the series sent
		sqlite3 -readonly "$2/bench.db" "select (select count(*) from instance),
			(select count(*) from series where series_uid in ($(expected_series "$3")))" |
			tr '|' ' '
		;;
	orthanc)
		curl -sf "http://127.0.0.1:$R_HTTP/statistics" |
			python3 -c 'import json, sys
s = json.load(sys.stdin)
print(s["CountInstances"], s["CountSeries"])'
		;;
	esac
}

recv_stop() {
	local kind=$1 dir=$2 i c
	[ -n "$R_SAMPLER" ] && { kill "$R_SAMPLER" 2>/dev/null; wait "$R_SAMPLER" 2>/dev/null; }
	[ -n "$R_PID" ] || return 0
	kill -TERM "$R_PID" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		kill -0 "$R_PID" 2>/dev/null || break
		sleep 0.1
	done
	for c in $(pgrep -P "$R_PID" 2>/dev/null); do kill -KILL "$c" 2>/dev/null; done
	kill -KILL "$R_PID" 2>/dev/null
	wait "$R_PID" 2>/dev/null
	R_PID='' R_SAMPLER=''
}

# ---- one run -------------------------------------------------------------------

# send LOG NODELAY FILES...: one storescu association; prints nothing,
# returns storescu's status.
send() {
	local log=$1 nodelay=$2
	shift 2
	if [ "$nodelay" = 1 ]; then
		env TCP_NODELAY=1 storescu "${STORESCU_OPTS[@]}" -aec "$R_AE" 127.0.0.1 "$R_PORT" "$@" >"$log" 2>&1
	else
		storescu "${STORESCU_OPTS[@]}" -aec "$R_AE" 127.0.0.1 "$R_PORT" "$@" >"$log" 2>&1
	fi
}

acked() { grep -c 'Received Store Response (Success)' "$@" | awk -F: '{ n += $NF } END { print n + 0 }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
bytes_of() { stat -c %s "$@" | awk '{ n += $1 } END { print n }'; }

# run KIND WORKLOAD REP: one measurement, appended to $RUNS.
#   WORKLOAD: w1-nodelay, w1-nagle (workload 1, sender with and without
#   TCP_NODELAY), w2 (four associations), w3 (the 1 GiB object).
run() {
	local kind=$1 wl=$2 rep=$3 dir=$WORK/$1-$2-$3 t0 t1 secs images bytes
	local finish="" err="" count arrived series rss k perf_pid=
	# Start from a quiet disk: no write-back of the previous run's files
	# competing with this one (hrauditd's commits fsync the database).
	sync
	if ! recv_start "$kind" "$dir"; then
		echo "$(recv_name "$kind"),$wl,$rep,,,,,,,,did not start" >>"$RUNS"
		START_FAILED=1
		rm -rf "$dir"
		return
	fi
	case $wl in
	w1-*)
		images=${#W1_FILES[@]}
		bytes=$(bytes_of "${W1_FILES[@]}")
		if [ "$PERF" = 1 ] && [ "$kind" = hrauditd ] && [ "$wl" = w1-nodelay ] && [ "$rep" = 1 ]; then
			perf record -g -o "$WORK/perf.data" -p "$R_PID" >/dev/null 2>&1 &
			perf_pid=$!
			PIDS+=("$perf_pid")
			sleep 0.5
		fi
		t0=$EPOCHREALTIME
		send "$dir/storescu.log" "$([ "$wl" = w1-nodelay ] && echo 1 || echo 0)" "${W1_FILES[@]}" ||
			err="storescu failed"
		t1=$EPOCHREALTIME
		if [ -n "$perf_pid" ]; then
			kill -INT "$perf_pid" 2>/dev/null
			wait "$perf_pid" 2>/dev/null
			perf report --stdio -i "$WORK/perf.data" 2>/dev/null \
				>"$RESULTS/bench-$STAMP-perf-hrauditd.txt"
		fi
		;;
	w2)
		local files=() pids=()
		for k in 1 2 3 4; do files+=("$CACHE/w2/a$k"/img*.dcm); done
		images=${#files[@]}
		bytes=$(bytes_of "${files[@]}")
		t0=$EPOCHREALTIME
		for k in 1 2 3 4; do
			(
				send "$dir/storescu$k.log" 1 "$CACHE/w2/a$k"/img*.dcm
				echo "$? $EPOCHREALTIME" >"$dir/end$k"
			) &
			pids+=($!)
		done
		wait "${pids[@]}"
		t1=$t0
		for k in 1 2 3 4; do
			local st end
			read -r st end <"$dir/end$k"
			[ "$st" = 0 ] || err="storescu $k failed"
			finish+="${finish:+ }$(elapsed "$t0" "$end")"
			t1=$(awk -v a="$t1" -v b="$end" 'BEGIN { print (b > a ? b : a) }')
		done
		;;
	w3)
		images=1
		bytes=$(bytes_of "$W3_FILE")
		t0=$EPOCHREALTIME
		send "$dir/storescu.log" 1 "$W3_FILE" || err="storescu failed"
		t1=$EPOCHREALTIME
		;;
	esac
	secs=$(elapsed "$t0" "$t1")
	rss=$(recv_rss "$kind" "$dir")
	count=$(recv_count "$kind" "$dir" "$wl")
	read -r arrived series <<<"${count:-? ?}"
	[ "$arrived" = - ] && arrived=$(acked "$dir"/storescu*.log)
	kill -0 "$R_PID" 2>/dev/null || err="${err:+$err; }receiver died"
	recv_stop "$kind" "$dir"
	echo "$(recv_name "$kind"),$wl,$rep,$images,$bytes,$secs,$arrived,$series,$rss,$finish,$err" >>"$RUNS"
	printf '  %-26s %-10s run %s: %7.3f s, %s/%s arrived%s\n' "$(recv_name "$kind")" "$wl" "$rep" \
		"$secs" "$arrived" "$images" "${err:+ ($err)}"
	if [ -n "$err" ] && [ "$kind" != hrauditd ]; then tail -3 "$dir/log" | sed 's/^/    /'; fi
	if [ -n "$err" ] && [ "$kind" = hrauditd ]; then tail -5 "$dir/log" | sed 's/^/    /'; fi
	rm -rf "$dir"
}

# ---- the series row before the response -------------------------------------

first_check() {
	local dir=$WORK/first out
	recv_start hrauditd "$dir" || { FIRST="FAIL (hrauditd did not start)"; return; }
	if out=$(python3 "$here/first_store.py" "$R_PORT" "$R_AE" "$CACHE/first/first.ds" \
		"$SOP_CT" "$FIRST_SOP" "$dir/bench.db" "$FIRST_SERIES" 2>&1); then
		FIRST="OK ($out)"
	else
		FIRST="FAIL ($out)"
	fi
	recv_stop hrauditd "$dir"
	rm -rf "$dir"
}

# ---- main ---------------------------------------------------------------------

machine() {
	local cpu disk dev
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	dev=$(df --output=source "$WORK" | tail -1)
	dev=${dev##*/}
	disk=$dev
	[ -r "/sys/class/block/$dev/queue/rotational" ] &&
		disk="$dev (rotational=$(<"/sys/class/block/$dev/queue/rotational"))"
	echo "machine: $(nproc) cores, ${cpu:-unknown CPU}, Linux $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	# What one durable commit costs on this disk: hrauditd's default
	# (synchronous = full) pays about one of these per instance.
	echo "temporary files: $WORK on $disk, $(df --output=fstype "$WORK" | tail -1); 4 KiB write + fdatasync: $(python3 -c '
import os, statistics, sys, time
fd = os.open(os.path.join(sys.argv[1], "fsync.probe"), os.O_WRONLY | os.O_CREAT, 0o600)
t = []
for i in range(200):
    a = time.monotonic()
    os.pwrite(fd, b"x" * 4096, 4096 * (i % 16))
    os.fdatasync(fd)
    t.append(time.monotonic() - a)
os.close(fd)
os.unlink(os.path.join(sys.argv[1], "fsync.probe"))
print("median %.2f ms, 90th percentile %.2f ms" % (statistics.median(t) * 1e3,
      sorted(t)[179] * 1e3))' "$WORK")"
	echo "hrauditd: $HRAUDITD ($(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')); $(storescp --version 2>&1 | head -1 | sed 's/^\$//; s/\$$//'); $(Orthanc --version | head -1)"
}

START_FAILED=0
T_START=$SECONDS
machine | tee "$WORK/machine"

# Warm the page cache: storescu reads the files of every run from memory.
cat "$CACHE"/w1/*.dcm "$CACHE"/w2/*/*.dcm >/dev/null

# rotate N WORDS...: the words, starting at the Nth (0-based) and wrapping:
# each repetition starts with another receiver, so none always follows the
# same one.
rotate() {
	local n=$1
	shift
	local a=("$@")
	echo "${a[@]:n % $#}" "${a[@]:0:n % $#}"
}

RECV1=(ignore files hrauditd orthanc)
RECV2=(ignore-fork files-fork hrauditd orthanc)
echo "workload 1: one association, ${#W1_FILES[@]} CT images, $REPEAT runs each, receivers in turn"
for ((rep = 1; rep <= REPEAT; rep++)); do
	for wl in w1-nodelay w1-nagle; do
		for kind in $(rotate $((rep - 1)) "${RECV1[@]}"); do run "$kind" "$wl" "$rep"; done
	done
done
echo "workload 2: four associations of 250 CT images at once, $REPEAT runs each"
for ((rep = 1; rep <= REPEAT; rep++)); do
	for kind in $(rotate $((rep - 1)) "${RECV2[@]}"); do run "$kind" w2 "$rep"; done
done
echo "workload 3: one Enhanced CT object of $(($(stat -c %s "$W3_FILE") / 1048576)) MiB, once"
cat "$W3_FILE" >/dev/null
for kind in "${RECV1[@]}"; do run "$kind" w3 1; done
echo "series row before the first response (hrauditd)"
first_check
echo "  $FIRST"

echo
python3 "$here/report.py" "$RUNS" "$RESULTS" "$STAMP" "$WORK/machine" "$FIRST" \
	$((SECONDS - T_START)) || die "report failed"
cp "$RUNS" "$RESULTS/bench-$STAMP-runs.csv"
[ "$START_FAILED" = 0 ] || die "a receiver did not start: some figures are missing"
exit 0
