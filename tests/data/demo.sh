#!/usr/bin/env bash
# demo.sh - `make demo`: send the fictional test study to a running hrauditd
# and show what it recorded.
#
# Builds the objects from the dumps in this directory (see README.md) in a
# temporary directory, sends all four series with DCMTK storescu to AE
# HRAUDIT at 127.0.0.1:$PORT, then lists the series with the CLI.  Series D
# (non-cardiac) is sent too and should not appear.
#
# environment: PORT (default 11112), HRAUDIT (default build/hraudit),
#              DB (default var/hraudit.db), AET (calling AE, default DEMOSCU)

set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/../integration/lib.sh"

port=${PORT:-11112}
hraudit=${HRAUDIT:-build/hraudit}
db=${DB:-var/hraudit.db}
aet=${AET:-DEMOSCU}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hraudit-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if ! echo_ok "$port"; then
	echo "demo: no hrauditd answers C-ECHO on 127.0.0.1:$port (AE HRAUDIT); start it first (make run)" >&2
	exit 1
fi

build_study "$here" "$tmp"
echo "demo: sending $(find "$tmp" -name '*.dcm' | wc -l) objects to HRAUDIT@127.0.0.1:$port"
TCP_NODELAY=1 storescu -aec HRAUDIT -aet "$aet" 127.0.0.1 "$port" "$tmp"/series-*/*.dcm
echo "demo: $hraudit --db $db series"
"$hraudit" --db "$db" series
