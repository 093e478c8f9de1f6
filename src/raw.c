/*
 * raw.c - gathering the raw material of the extraction (include/raw.h).
 *
 * The list of keys below is everything the derivation (extract.c) may read.
 * A key is also its own recipe: raw_gather() walks it through the header,
 * so adding a source is adding a line here and its use in extract.c.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raw.h"

/* Everything read, by key (see raw.h for the grammar).  Instance-specific
 * identifiers (SOP Instance UID, Instance Number) are left out on purpose:
 * instances of a series that agree then share one raw record. */
static const char *const gather_keys[] = {
	/* identification, equipment, study */
	"0008,0016", "0008,0020", "0008,0030", "0008,0050", "0008,0060",
	"0008,0070", "0008,0080", "0008,1010", "0008,1030", "0008,103E",
	"0008,1090", "0010,1030", "0018,1030", "0020,000D", "0020,000E",
	"0020,0011", "0028,0008",
	/* the irradiation event that made the image (dose_link) */
	"0008,3010",
	/* acquisition and dose, classic CT */
	"0018,0022", "0018,0060", "0018,9302", "0018,9306", "0018,9307",
	"0018,9311", "0018,9323", "0018,9345",
	/* cardiac, standard attributes */
	"0018,1060", "0018,1064", "0018,1081", "0018,1082", "0018,1083",
	"0018,1084", "0018,1088", "0020,9241",
	/* Siemens XA software: Scan Options in a private element */
	"0021,SIEMENS*,5C",
	/* Enhanced CT: shared functional groups (first item) ... */
	"5200,9229/0018,9118/0018,1088", "5200,9229/0018,9118/0018,1081",
	"5200,9229/0018,9118/0018,1082", "5200,9229/0018,9118/0018,1083",
	"5200,9229/0018,9118/0018,1084", "5200,9229/0018,9118/0020,9153",
	"5200,9229/0018,9118/0020,9241", "5200,9229/0018,9118/0020,9251",
	"5200,9229/0018,9321/0018,9345", "5200,9229/0018,9321/0018,9323",
	"5200,9229/0018,9301/0018,9302", "5200,9229/0018,9304/0018,9306",
	"5200,9229/0018,9304/0018,9307", "5200,9229/0018,9308/0018,9311",
	/* ... and per-frame functional groups (every frame) */
	"5200,9230/*/0018,9118/0018,1088", "5200,9230/*/0018,9118/0018,1081",
	"5200,9230/*/0018,9118/0018,1082", "5200,9230/*/0018,9118/0020,9153",
	"5200,9230/*/0018,9118/0020,9241", "5200,9230/*/0018,9118/0020,9251",
	"5200,9230/*/0018,9321/0018,9345", "5200,9230/*/0018,9321/0018,9323",
	"5200,9230/*/0018,9301/0018,9302", "5200,9230/*/0018,9304/0018,9306",
	"5200,9230/*/0018,9304/0018,9307", "5200,9230/*/0018,9308/0018,9311",
	/* GE */
	"0045,GEMS_HELIOS_01,30", "0045,GEMS_HELIOS_01,31",
	"0045,GEMS_HELIOS_01,33", "0045,GEMS_HELIOS_01,36",
	"0045,GEMS_HELIOS_01,37", "0045,GEMS_HELIOS_01,3F",
	"0049,GEMS_CT_CARDIAC_001,01/0049,GEMS_CT_CARDIAC_001,02",
	"0049,GEMS_CT_CARDIAC_001,01/0049,GEMS_CT_CARDIAC_001,03",
	"0049,GEMS_CT_CARDIAC_001,01/0049,GEMS_CT_CARDIAC_001,04",
	"0049,GEMS_CT_CARDIAC_001,01/0049,GEMS_CT_CARDIAC_001,05",
	"0049,GEMS_CT_CARDIAC_001,01/0049,GEMS_CT_CARDIAC_001,06",
	/* Canon / Toshiba */
	"7005,TOSHIBA_MEC_CT3,03", "7005,TOSHIBA_MEC_CT3,04",
	"7005,TOSHIBA_MEC_CT3,05",
	NULL
};

/* Per-frame values of one key are cut beyond this many bytes. */
#define RAW_MAX_VALUE (256 * 1024)
#define RAW_MAX_SEGMENTS 8

int raw_set(struct raw *r, const char *key, const char *value)
{
	char *k, *v;

	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->pairs[i].key, key) == 0) {
			v = strdup(value);
			if (!v)
				return -ENOMEM;
			free(r->pairs[i].value);
			r->pairs[i].value = v;
			return 0;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct raw_pair *p = realloc(r->pairs, cap * sizeof *p);

		if (!p)
			return -ENOMEM;
		r->pairs = p;
		r->cap = cap;
	}
	k = strdup(key);
	v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	r->pairs[r->n++] = (struct raw_pair){k, v};
	return 0;
}

const char *raw_get(const struct raw *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->pairs[i].key, key) == 0)
			return r->pairs[i].value;
	return NULL;
}

void raw_release(struct raw *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->pairs[i].key);
		free(r->pairs[i].value);
	}
	free(r->pairs);
	*r = (struct raw)RAW_INIT;
}

/* ---- gathering ------------------------------------------------------------ */

/* One step of a key: an element, public or private, or "*" (every item). */
struct segment {
	bool all_items;
	uint16_t group;
	uint16_t element;        /* public; or the low byte of a private one */
	char creator[65];        /* "" for a public element                   */
};

static int parse_hex16(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
		                        : (toupper((unsigned char)s[i]) - 'A' + 10));
	}
	*out = (uint16_t)v;
	return 0;
}

static int parse_key(const char *key, struct segment *seg, size_t *nseg)
{
	const char *p = key;
	size_t n = 0;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *c1 = memchr(p, ',', len), *c2;
		struct segment *s;

		if (n == RAW_MAX_SEGMENTS)
			return -EINVAL;
		s = &seg[n++];
		memset(s, 0, sizeof *s);
		if (len == 1 && *p == '*') {
			s->all_items = true;
		} else {
			if (!c1 || parse_hex16(p, (size_t)(c1 - p), &s->group) < 0)
				return -EINVAL;
			c2 = memchr(c1 + 1, ',', len - (size_t)(c1 + 1 - p));
			if (c2) {
				size_t cl = (size_t)(c2 - c1 - 1);
				if (cl == 0 || cl >= sizeof s->creator)
					return -EINVAL;
				memcpy(s->creator, c1 + 1, cl);
				if (parse_hex16(c2 + 1, len - (size_t)(c2 + 1 - p), &s->element) < 0)
					return -EINVAL;
			} else if (parse_hex16(c1 + 1, len - (size_t)(c1 + 1 - p),
			                       &s->element) < 0) {
				return -EINVAL;
			}
		}
		p += len;
		if (*p == '/')
			p++;
	}
	*nseg = n;
	return 0;
}

/* The tag a segment names inside item it, or 0 when its creator is absent. */
static uint32_t segment_tag(const struct dcm_item *it, const struct segment *s)
{
	int block;

	if (!s->creator[0])
		return DCM_TAG(s->group, s->element);
	block = dcm_item_private_block(it, s->group, s->creator);
	if (block < 0)
		return 0;
	return DCM_TAG(s->group, ((unsigned)block << 8) | (s->element & 0xff));
}

static bool is_string_vr(const char vr[3])
{
	static const char *const text[] = {
		"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH",
		"ST", "TM", "UC", "UI", "UR", "UT", NULL
	};

	for (size_t i = 0; text[i]; i++)
		if (strcmp(vr, text[i]) == 0)
			return true;
	return false;
}

struct strbuf {
	char *s;
	size_t len, cap;
	bool cut;
};

static int sb_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->len + n > RAW_MAX_VALUE) {
		b->cut = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p)
			return -ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

/* Appends the value of the element `tag` of `it`, verbatim (raw.h). */
static int add_value(struct strbuf *b, const struct dcm_item *it, uint32_t tag,
                     bool *found)
{
	unsigned char stack[512], *buf = stack;
	char vr[3];
	int n, r = 0;

	n = dcm_item_bytes(it, tag, stack, sizeof stack, vr);
	if (n < 0)
		return 0;
	if ((size_t)n > sizeof stack) {
		if ((size_t)n > RAW_MAX_VALUE)
			n = RAW_MAX_VALUE;
		buf = malloc((size_t)n);
		if (!buf)
			return -ENOMEM;
		n = dcm_item_bytes(it, tag, buf, (size_t)n, vr);
		if (n < 0)
			goto out;
	}
	*found = true;
	if (is_string_vr(vr)) {
		size_t len = (size_t)n;

		/* trailing padding (space or NUL) is not part of the value */
		while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\0'))
			len--;
		r = sb_add(b, vr, 2);
		if (r == 0)
			r = sb_add(b, "=", 1);
		if (r == 0)
			r = sb_add(b, (const char *)buf, len);
	} else {
		static const char hex[] = "0123456789ABCDEF";
		char two[2];

		r = sb_add(b, vr, 2);
		if (r == 0)
			r = sb_add(b, ":", 1);
		for (int i = 0; r == 0 && i < n; i++) {
			two[0] = hex[buf[i] >> 4];
			two[1] = hex[buf[i] & 15];
			r = sb_add(b, two, 2);
		}
	}
out:
	if (buf != stack)
		free(buf);
	return r;
}

/* Walks segments [i, n) from item it, appending what it finds to b. */
static int walk(const struct dcm_item *it, const struct segment *seg, size_t i,
                size_t n, struct strbuf *b, bool *found)
{
	uint32_t tag;

	if (!it)
		return 0;
	tag = segment_tag(it, &seg[i]);
	if (!tag)
		return 0;
	if (i == n - 1)
		return add_value(b, it, tag, found);
	if (i + 1 < n - 1 && seg[i + 1].all_items) {
		size_t items = dcm_item_count(it, tag);

		for (size_t k = 0; k < items; k++) {
			int r;

			if (k > 0 && sb_add(b, "\\", 1) < 0)
				return -ENOMEM;
			r = walk(dcm_item_child(it, tag, k), seg, i + 2, n, b, found);
			if (r < 0)
				return r;
		}
		return 0;
	}
	return walk(dcm_item_child(it, tag, 0), seg, i + 1, n, b, found);
}

#define NKEYS (sizeof gather_keys / sizeof gather_keys[0] - 1)

/* The keys, parsed once for the process rather than for every instance. */
static struct {
	struct segment seg[RAW_MAX_SEGMENTS];
	size_t n;                     /* 0: the key did not parse (a bug) */
} parsed_keys[NKEYS];
static pthread_once_t parsed_once = PTHREAD_ONCE_INIT;

static void parse_keys(void)
{
	for (size_t k = 0; k < NKEYS; k++)
		if (parse_key(gather_keys[k], parsed_keys[k].seg, &parsed_keys[k].n) < 0)
			parsed_keys[k].n = 0;
}

int raw_gather(const struct dcm_header *h, struct raw *r)
{
	const struct dcm_item *root = dcm_header_root(h);
	int ret = 0;

	pthread_once(&parsed_once, parse_keys);
	for (size_t k = 0; k < NKEYS && ret == 0; k++) {
		struct strbuf b = {0};
		bool found = false;

		if (parsed_keys[k].n == 0)
			continue;
		ret = walk(root, parsed_keys[k].seg, 0, parsed_keys[k].n, &b, &found);
		if (ret == 0 && found && b.len > 0)
			ret = raw_set(r, gather_keys[k], b.s);
		free(b.s);
	}
	return ret;
}

/* ---- JSON ------------------------------------------------------------------ */

static int json_string(struct strbuf *b, const char *s)
{
	int r = sb_add(b, "\"", 1);

	for (const unsigned char *p = (const unsigned char *)s; r == 0 && *p; p++) {
		char esc[8];

		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			r = sb_add(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			r = sb_add(b, esc, 6);
		} else {
			r = sb_add(b, (const char *)p, 1);
		}
	}
	return r ? r : sb_add(b, "\"", 1);
}

static int cmp_pair(const void *a, const void *b)
{
	return strcmp((*(const struct raw_pair *const *)a)->key,
	              (*(const struct raw_pair *const *)b)->key);
}

char *raw_to_json(const struct raw *r)
{
	const struct raw_pair **sorted;
	struct strbuf b = {0};
	int ret;

	sorted = malloc((r->n ? r->n : 1) * sizeof *sorted);
	if (!sorted)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		sorted[i] = &r->pairs[i];
	qsort(sorted, r->n, sizeof *sorted, cmp_pair);
	ret = sb_add(&b, "{", 1);
	for (size_t i = 0; ret == 0 && i < r->n; i++) {
		if (i)
			ret = sb_add(&b, ",", 1);
		if (ret == 0)
			ret = json_string(&b, sorted[i]->key);
		if (ret == 0)
			ret = sb_add(&b, ":", 1);
		if (ret == 0)
			ret = json_string(&b, sorted[i]->value);
	}
	if (ret == 0)
		ret = sb_add(&b, "}", 1);
	free(sorted);
	if (ret < 0) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static bool has_vr(const char *v, char sep)
{
	return isupper((unsigned char)v[0]) && isupper((unsigned char)v[1]) &&
	       v[2] == sep;
}

const char *raw_text(const char *value)
{
	if (has_vr(value, '='))
		return value + 3;
	if (has_vr(value, ':'))
		return NULL;
	return value;
}

int raw_decode_bytes(const char *value, unsigned char *buf, size_t size,
                     char vr[3])
{
	const char *text = raw_text(value);
	size_t n = 0;

	if (vr) {
		vr[0] = vr[1] = vr[2] = '\0';
		if (has_vr(value, '=') || has_vr(value, ':'))
			memcpy(vr, value, 2);
	}
	if (text) {
		n = strlen(text);
		memcpy(buf, text, n < size ? n : size);
		return (int)(n < size ? n : size);
	}
	for (const char *p = value + 3; p[0] && n < size; p += 2) {
		uint16_t v;

		if (!p[1] || parse_hex16(p, 2, &v) < 0)
			return -EINVAL;
		buf[n++] = (unsigned char)v;
	}
	return (int)n;
}
