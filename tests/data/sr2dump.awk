# sr2dump.awk - a structured report written as an indented tree (rdsr-*.sr)
# -> a dump2dcm(1) text dump.  Used by tests/unit/test_rdsr.c and the fuzz
# seeds; see README.md.
#
# Input lines:
#   # ...                              a comment
#   (gggg,eeee) VR [value]             a top-level element, copied as is
#   TYPE code scheme meaning           a content item (PS3.3 C.17.3): the
#   TYPE code scheme meaning = value   first is the root, at column 0; each
#                                      two spaces of indent is one level
#                                      deeper (Content Sequence 0040,A730)
# TYPE and its value:
#   CONTAINER                          (none)
#   NUM       = number [unit]          Measured Value Sequence; the unit is a
#                                      UCUM code; no "= ...": no value
#   CODE      = code scheme meaning    Concept Code Sequence
#   TEXT, UIDREF, DATETIME = text      Text Value, UID, DateTime
# Every item below the root is related by CONTAINS.

function code_item(tag, value, scheme, meaning) {
	print tag " SQ"
	print "(fffe,e000) na"
	print "(0008,0100) SH [" value "]"
	print "(0008,0102) SH [" scheme "]"
	print "(0008,0104) LO [" meaning "]"
	print "(fffe,e00d) na"
	print "(fffe,e0dd) na"
}

function close_to(level,    k) {
	for (k = depth; k >= level; k--) {
		print "(fffe,e00d) na"
		if (k > level)
			print "(fffe,e0dd) na"
	}
}

BEGIN { depth = -1 }

/^[ \t]*(#|$)/ { next }

/^\(/ { print; next }

{
	match($0, /^ */)
	level = RLENGTH / 2
	line = substr($0, RLENGTH + 1)
	value = ""
	if ((i = index(line, " = ")) > 0) {
		value = substr(line, i + 3)
		line = substr(line, 1, i - 1)
	}
	n = split(line, f, " ")
	type = f[1]
	meaning = f[4]
	for (j = 5; j <= n; j++)
		meaning = meaning " " f[j]

	if (level == 0 && depth < 0) {
		depth = 0
	} else if (level == depth + 1) {
		print "(0040,a730) SQ"
		print "(fffe,e000) na"
		depth = level
	} else if (level >= 1 && level <= depth) {
		close_to(level)
		print "(fffe,e000) na"
		depth = level
	} else {
		printf "%s:%d: bad indent\n", FILENAME, FNR > "/dev/stderr"
		exit 1
	}
	if (level > 0)
		print "(0040,a010) CS [CONTAINS]"
	print "(0040,a040) CS [" type "]"
	code_item("(0040,a043)", f[2], f[3], meaning)

	split(value, v, " ")
	if (type == "CONTAINER") {
		print "(0040,a050) CS [SEPARATE]"
	} else if (type == "NUM" && value != "") {
		print "(0040,a300) SQ"
		print "(fffe,e000) na"
		print "(0040,a30a) DS [" v[1] "]"
		if (v[2] != "")
			code_item("(0040,08ea)", v[2], "UCUM", v[2])
		print "(fffe,e00d) na"
		print "(fffe,e0dd) na"
	} else if (type == "CODE") {
		m = v[3]
		for (j = 4; j in v; j++)
			m = m " " v[j]
		code_item("(0040,a168)", v[1], v[2], m)
	} else if (type == "TEXT") {
		print "(0040,a160) UT [" value "]"
	} else if (type == "UIDREF") {
		print "(0040,a124) UI [" value "]"
	} else if (type == "DATETIME") {
		print "(0040,a120) DT [" value "]"
	}
}

END {
	if (depth > 0) {
		close_to(1)
		print "(fffe,e0dd) na"
	}
}
