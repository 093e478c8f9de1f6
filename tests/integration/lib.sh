# lib.sh - helpers for the hraudit integration tests (sourced, bash only).
#
# Building the test study from the dumps in tests/data (also used by
# tests/data/demo.sh), finding a free port on 127.0.0.1, and starting and
# stopping one hrauditd at a time.  Sourcing this file has no side effects.
# shellcheck shell=bash
# shellcheck disable=SC2034 # DAEMON_* variables are read by the caller

# ---- the test study ------------------------------------------------------

# build_study DATADIR OUTDIR
#   Builds every instance of every series-X.dump in DATADIR, prefixed with
#   DATADIR/study.dump, into OUTDIR/series-X/NNNN.dcm (see tests/data/README.md).
#   Returns non-zero, with a message on stderr, if anything fails.
build_study() {
	local data=$1 out=$2 dump series n i dir tmp uid

	command -v dump2dcm >/dev/null 2>&1 || {
		echo "build_study: dump2dcm not found (install dcmtk)" >&2
		return 1
	}
	[ -r "$data/study.dump" ] || {
		echo "build_study: no '$data/study.dump'" >&2
		return 1
	}
	for dump in "$data"/series-*.dump; do
		[ -r "$dump" ] || { echo "build_study: no series dumps in '$data'" >&2; return 1; }
		series=$(basename "$dump" .dump)
		n=$(sed -n 's/^# instances: *\([0-9][0-9]*\) *$/\1/p' "$dump")
		[ -n "$n" ] || {
			echo "build_study: '$dump' lacks a '# instances: N' line" >&2
			return 1
		}
		dir=$out/$series
		mkdir -p "$dir" || return 1
		for ((i = 1; i <= n; i++)); do
			tmp=$dir/$(printf '%04d' "$i").dump
			# Instance i: last component of SOPInstanceUID and InstanceNumber.
			cat "$data/study.dump" "$dump" |
				sed -e "s/^\((0008,0018) UI \[[0-9.]*\.\)[0-9][0-9]*\]/\1$i]/" \
				    -e "s/^(0020,0013) IS \[[0-9]*\]/(0020,0013) IS [$i]/" >"$tmp" ||
				return 1
			uid=$(sed -n 's/^(0008,0018) UI \[\([0-9.]*\)\].*/\1/p' "$tmp")
			case $uid in
			*."$i") ;;
			*)
				echo "build_study: cannot set instance $i in '$dump' (SOPInstanceUID '$uid')" >&2
				return 1
				;;
			esac
			dump2dcm -q +te "$tmp" "${tmp%.dump}.dcm" || {
				echo "build_study: dump2dcm failed on '$tmp'" >&2
				return 1
			}
			rm -f "$tmp"
		done
	done
}

# ---- the test study's CT Radiation Dose SR --------------------------------

# dose_dumps OUTDIR
#   Copies the test study's dumps (study.dump, series-[a-d].dump) into
#   OUTDIR with what links them to the events of tests/data/study-dose.sr:
#   series A carries the UID of event 2, series B the acquisition time of
#   event 3 (see that file's header).
dose_dumps() {
	local data=${root:?}/tests/data out=$1
	mkdir -p "$out" &&
		cp "$data/study.dump" "$data"/series-[a-d].dump "$out/" || return 1
	printf '(0008,3010) UI [%s]\n' 1.2.826.0.1.3680043.10.1234.8.3.2 >>"$out/series-a.dump"
	printf '(0008,002a) DT [20240312094011.000000]\n' >>"$out/series-b.dump"
}

# dose_sr_build OUT.dcm [SED_ARGS...]
#   Builds tests/data/study-dose.sr (through tests/data/sr2dump.awk and
#   dump2dcm) into OUT.dcm, its dump (OUT.dump) first edited by sed with
#   SED_ARGS when given (e.g. -e 's/.../.../' to change its study).
#   Returns non-zero, with a message on stderr, if anything fails.
dose_sr_build() {
	local out=$1 dump=${1%.dcm}.dump
	shift
	awk -f "${root:?}/tests/data/sr2dump.awk" "$root/tests/data/study-dose.sr" |
		sed "${@:-}" >"$dump" &&
		dump2dcm -q +te "$dump" "$out" || {
		echo "dose_sr_build: cannot build '$out' from tests/data/study-dose.sr" >&2
		return 1
	}
}

# ---- network -------------------------------------------------------------

# free_port: prints a TCP port nobody listens on at 127.0.0.1.  The kernel
# picks it (bind to port 0), so two runs at once do not collide; there is a
# short race until the daemon binds it, which daemon_start retries.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' && return 0
	fi
	local p tries
	for ((tries = 0; tries < 50; tries++)); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# echo_ok PORT [CALLED_AE [CALLING_AE]]: one C-ECHO with short timeouts.
echo_ok() {
	echoscu -to 2 -ta 2 -td 2 -aet "${3:-TESTSCU}" -aec "${2:-HRAUDIT}" \
		127.0.0.1 "$1" >/dev/null 2>&1
}

# ---- the daemon ----------------------------------------------------------
# One daemon at a time.  daemon_start sets DAEMON_PID, DAEMON_PORT, DAEMON_DB,
# DAEMON_LOG and DAEMON_INI; daemon_stop clears DAEMON_PID and sets
# DAEMON_STATUS (exit status) and DAEMON_STOP_S (seconds it took).

DAEMON_PID=
DAEMON_START_TIMEOUT_S=${DAEMON_START_TIMEOUT_S:-10}
DAEMON_STOP_TIMEOUT_S=${DAEMON_STOP_TIMEOUT_S:-10}

# write_config FILE PORT DBPATH
#   Lines 1-4 are [server] aetitle, bind and port; then the text of
#   DAEMON_SERVER_INI (more [server] keys, one a line), if set; then [database]
#   path; then the text of DAEMON_EXTRA_INI (more sections), if set.  Set
#   them for one call: DAEMON_EXTRA_INI=$'[access]\nallow = X\n' start NAME.
write_config() {
	{
		printf '[server]\naetitle = HRAUDIT\nbind = 127.0.0.1\nport = %s\n' "$2"
		printf '%s' "${DAEMON_SERVER_INI-}"
		printf '[database]\npath = %s\n' "$3"
		printf '%s' "${DAEMON_EXTRA_INI-}"
	} >"$1"
}

# daemon_launch DIR NAME
#   Writes DIR/NAME.ini (a free port, database DIR/NAME.db) and starts
#   "$HRAUDITD -d -f" on it in the background, its output appended to
#   DIR/NAME.log, without waiting for it.  The daemon inherits the caller's
#   environment and umask.  Returns non-zero with DAEMON_ERROR set when it
#   cannot even be started.
daemon_launch() {
	local dir=$1 name=$2
	DAEMON_ERROR=
	DAEMON_INI=$dir/$name.ini
	DAEMON_DB=$dir/$name.db
	DAEMON_LOG=$dir/$name.log
	DAEMON_PID=
	if [ ! -x "$HRAUDITD" ]; then
		DAEMON_ERROR="no executable '$HRAUDITD' (build it, or set HRAUDITD)"
		return 1
	fi
	DAEMON_PORT=$(free_port) || { DAEMON_ERROR="no free port"; return 1; }
	write_config "$DAEMON_INI" "$DAEMON_PORT" "$DAEMON_DB"
	"$HRAUDITD" -d -f "$DAEMON_INI" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
}

# daemon_start DIR NAME
#   daemon_launch, then waits until the daemon answers a C-ECHO from
#   DAEMON_ECHO_AET (default TESTSCU).  Returns non-zero with DAEMON_ERROR
#   set when it does not come up.
daemon_start() {
	local dir=$1 name=$2 attempt deadline
	for attempt in 1 2 3; do
		daemon_launch "$dir" "$name" || return 1
		deadline=$((SECONDS + DAEMON_START_TIMEOUT_S))
		while ((SECONDS < deadline)); do
			if echo_ok "$DAEMON_PORT" HRAUDIT "${DAEMON_ECHO_AET:-TESTSCU}"; then
				return 0
			fi
			if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
				wait "$DAEMON_PID"
				DAEMON_ERROR="hrauditd exited with status $? before answering C-ECHO (port $DAEMON_PORT, attempt $attempt)"
				DAEMON_PID=
				break
			fi
			sleep 0.1
		done
		if [ -n "$DAEMON_PID" ]; then
			DAEMON_ERROR="hrauditd did not answer C-ECHO on 127.0.0.1:$DAEMON_PORT within ${DAEMON_START_TIMEOUT_S}s"
			daemon_stop
			return 1
		fi
		# Died at start: maybe the port was taken in between; try another.
		grep -qi 'in use' "$DAEMON_LOG" 2>/dev/null || return 1
	done
	return 1
}

# daemon_alive: true when the daemon started last is still running.
daemon_alive() {
	[ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null
}

# daemon_stop: SIGTERM, wait up to DAEMON_STOP_TIMEOUT_S, then SIGKILL.
daemon_stop() {
	local start=$SECONDS
	DAEMON_STATUS=
	DAEMON_STOP_S=
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	while kill -0 "$DAEMON_PID" 2>/dev/null &&
		((SECONDS - start < DAEMON_STOP_TIMEOUT_S)); do
		sleep 0.05
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID" 2>/dev/null
		DAEMON_STOP_S=timeout
	else
		DAEMON_STOP_S=$((SECONDS - start))
	fi
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_STATUS=$?
	DAEMON_PID=
	return 0
}

# ---- Orthanc: the PACS of the PACS tests ----------------------------------
# orthanc_start DIR [LUA [MODALITIES]]
#   Starts Orthanc (Debian's package) with its storage and configuration in
#   DIR: AE title ORTHANC on a free port (ORTHANC_PORT), the REST API on
#   another, localhost only (ORTHANC_HTTP), the Lua scripts LUA if given
#   (paths separated by ':', loaded in that order; "" for none), and
#   MODALITIES as its DicomModalities (a JSON object, "{}" by default), e.g.
#   '{"hraudit": ["HRAUDIT", "127.0.0.1", 11112]}'.  Any peer may store,
#   find, get and move; the last 1000 jobs stay listed.  Waits until both
#   ports answer; sets ORTHANC_PID, or returns non-zero with ORTHANC_ERROR
#   set.
orthanc_start() {
	local dir=$1 lua=${2-} modalities=${3:-"{}"} i luas= p
	local IFS=:
	for p in $lua; do
		luas+="${luas:+, }\"$p\""
	done
	unset IFS
	ORTHANC_PID= ORTHANC_ERROR=
	command -v Orthanc >/dev/null 2>&1 ||
		{ ORTHANC_ERROR="no Orthanc (install the orthanc package)"; return 1; }
	ORTHANC_PORT=$(free_port) && ORTHANC_HTTP=$(free_port) ||
		{ ORTHANC_ERROR="no free port"; return 1; }
	mkdir -p "$dir/storage" "$dir/index" || return 1
	cat >"$dir/orthanc.json" <<EOF_ORTHANC
{
  "Name": "hraudit-test-pacs",
  "StorageDirectory": "$dir/storage",
  "IndexDirectory": "$dir/index",
  "LuaScripts": [ $luas ],
  "Plugins": [ ],
  "HttpPort": $ORTHANC_HTTP,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomAet": "ORTHANC",
  "DicomPort": $ORTHANC_PORT,
  "DicomCheckCalledAet": false,
  "DicomAlwaysAllowStore": true,
  "DicomAlwaysAllowEcho": true,
  "DicomAlwaysAllowFind": true,
  "DicomAlwaysAllowGet": true,
  "DicomAlwaysAllowMove": true,
  "DicomCheckModalityHost": false,
  "DicomModalities": $modalities,
  "JobsHistorySize": 1000,
  "SaveJobs": false
}
EOF_ORTHANC
	Orthanc "$dir/orthanc.json" >>"$dir/orthanc.log" 2>&1 &
	ORTHANC_PID=$!
	for ((i = 0; i < 300; i++)); do
		if echoscu -to 2 -ta 2 -td 2 -aet TESTSCU -aec ORTHANC 127.0.0.1 \
			"$ORTHANC_PORT" >/dev/null 2>&1 &&
			python3 -c 'import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/system" % sys.argv[1], timeout=2)' \
				"$ORTHANC_HTTP" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$ORTHANC_PID" 2>/dev/null; then
			wait "$ORTHANC_PID"
			ORTHANC_ERROR="Orthanc exited with status $? at start: $(tail -n 3 "$dir/orthanc.log" | tr '\n' ' ')"
			ORTHANC_PID=
			return 1
		fi
		sleep 0.1
	done
	ORTHANC_ERROR="Orthanc did not answer on ports $ORTHANC_PORT/$ORTHANC_HTTP within 30 s"
	orthanc_stop
	return 1
}

# orthanc_stop: SIGTERM, then SIGKILL after 10 s.
orthanc_stop() {
	local i
	[ -n "${ORTHANC_PID-}" ] || return 0
	kill -TERM "$ORTHANC_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$ORTHANC_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$ORTHANC_PID" 2>/dev/null
	wait "$ORTHANC_PID" 2>/dev/null
	ORTHANC_PID=
}

# ---- reliability figures ---------------------------------------------------
# figure NAME VALUE: records one figure of the test that runs (FIGURE_TEST)
# as a line "TEST<TAB>NAME<TAB>VALUE" in the file $FIGURES, when it is set.
# tests/figures.sh totals them for tests/RELIABILITY.md.  The names in use:
# faults_injected, faults_survived, bad_inputs, acknowledged, lost.
figure() {
	[ -n "${FIGURES-}" ] || return 0
	printf '%s\t%s\t%s\n' "${FIGURE_TEST:-unknown}" "$1" "$2" >>"$FIGURES"
}

# log_tail FILE [N]: the last N lines of FILE, each prefixed "#   ".
log_tail() {
	[ -s "$1" ] || { echo "#   (${1##*/} is empty)"; return 0; }
	echo "#   --- last ${2:-20} lines of ${1##*/} ---"
	tail -n "${2:-20}" "$1" | sed 's/^/#   /'
}
