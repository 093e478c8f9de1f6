#!/bin/sh
# figures.sh - totals the reliability figures the tests record (FILE...: the
# "TEST<TAB>NAME<TAB>VALUE" lines of tests/integration/lib.sh's figure, and
# of the soak and fuzz runs) as the Markdown table of tests/RELIABILITY.md:
# one row per test, then the totals.  A figure a test did not record is "-".
#
# usage: tests/figures.sh FILE...
set -eu
[ $# -gt 0 ] || { echo "usage: $0 FILE..." >&2; exit 2; }
awk -F '\t' '
BEGIN {
	n = split("faults_injected faults_survived bad_inputs acknowledged lost", col, " ")
	head = "| test | faults injected | faults survived | bad inputs tried | instances acknowledged | instances lost |"
}
NF == 3 {
	if (!($1 in seen)) { seen[$1] = 1; order[++tests] = $1 }
	v[$1, $2] += $3; has[$1, $2] = 1; total[$2] += $3; any[$2] = 1
}
END {
	print head
	print "|---|---:|---:|---:|---:|---:|"
	for (t = 1; t <= tests; t++) {
		line = "| " order[t]
		for (c = 1; c <= n; c++)
			line = line " | " ((order[t], col[c]) in has ? v[order[t], col[c]] : "-")
		print line " |"
	}
	line = "| **total**"
	for (c = 1; c <= n; c++)
		line = line " | **" (col[c] in any ? total[col[c]] : 0) "**"
	print line " |"
}' "$@"
