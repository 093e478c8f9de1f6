/*
 * scanopts.c - Siemens Scan Options (0018,0022) token parser.
 *
 * Splits the value at '\' and recognises each token by its name (a fixed
 * prefix, digits, a fixed suffix), never by its position: the set and order
 * of tokens differ between models and software versions (../shared/DOMAIN.md).
 * The input comes from the network, so the parser is written to be fuzzed:
 * it reads at most SCANOPTS_MAX_VALUE bytes, never allocates, uses no
 * locale-dependent or sign-accepting conversions (no strtol, no <ctype.h>),
 * and every loop is bounded by the token length.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "scanopts.h"

/*
 * Largest number a token may carry.  Real tokens have 3 or 4 digits
 * (OSCRATEAVG060BPM, TP70PC1000); anything above this is treated as an
 * overflow, i.e. malformed.  Leading zeros do not count against it.
 */
#define SCANOPTS_MAX_NUMBER 999999999u

/* A token as a (pointer, length) view into the caller's string. */
struct token {
	const char *s;
	size_t len;
};

enum family_kind {
	FAMILY_NUMBER,   /* PREFIX<n>SUFFIX                                  */
	FAMILY_PHASE_RR, /* PREFIX<p>PC<rrrr>: phase percent and R-R in ms   */
	FAMILY_FLAG,     /* PREFIX exactly                                   */
};

enum family_flag {
	FLAG_NONE,
	FLAG_SEQUENTIAL,
	FLAG_TRIGGERED,
};

struct family {
	const char *prefix;
	const char *suffix;       /* FAMILY_NUMBER only                      */
	enum family_kind kind;
	size_t offset;            /* double in struct scanopts (NUMBER)      */
	enum family_flag flag;    /* FAMILY_FLAG only                        */
};

#define FIELD(f) offsetof(struct scanopts, f)

/*
 * Every family we decode.  All of them mark the scan as cardiac: they are
 * either ECG measurements or ECG-synchronised acquisition modes.
 */
static const struct family families[] = {
	{ "OSCRATEMIN", "BPM", FAMILY_NUMBER, FIELD(hr_min_bpm), FLAG_NONE },
	{ "OSCRATEMAX", "BPM", FAMILY_NUMBER, FIELD(hr_max_bpm), FLAG_NONE },
	{ "OSCRATEAVG", "BPM", FAMILY_NUMBER, FIELD(hr_avg_bpm), FLAG_NONE },
	{ "OSCRATEVAR", "BPM", FAMILY_NUMBER, FIELD(hr_var_bpm), FLAG_NONE },
	{ "PULSTART_P", "PC", FAMILY_NUMBER,
	  FIELD(pulsing_start_percent), FLAG_NONE },
	/* Both spellings are in circulation (DOMAIN.md). */
	{ "PULSEND_P", "PC", FAMILY_NUMBER,
	  FIELD(pulsing_end_percent), FLAG_NONE },
	{ "PULSEEND_P", "PC", FAMILY_NUMBER,
	  FIELD(pulsing_end_percent), FLAG_NONE },
	{ "BESTPH_D_P", "PC", FAMILY_NUMBER,
	  FIELD(best_diastolic_percent), FLAG_NONE },
	{ "TP", NULL, FAMILY_PHASE_RR, 0, FLAG_NONE },
	{ "PHSP", NULL, FAMILY_PHASE_RR, 0, FLAG_NONE },
	{ "DSEQCARD", NULL, FAMILY_FLAG, 0, FLAG_SEQUENTIAL },
	{ "TRGD", NULL, FAMILY_FLAG, 0, FLAG_TRIGGERED },
	{ "A4CS", NULL, FAMILY_FLAG, 0, FLAG_NONE },
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int token_has_prefix(const struct token *t, const char *prefix)
{
	size_t n = strlen(prefix);

	return t->len >= n && memcmp(t->s, prefix, n) == 0;
}

/* Length of the run of ASCII digits at s, at most len. */
static size_t digit_run(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && is_digit(s[i]))
		i++;
	return i;
}

/*
 * Reads exactly len (>= 1) ASCII digits as an unsigned number.  Returns 0,
 * or -1 when len is 0, a byte is not a digit or the number exceeds
 * SCANOPTS_MAX_NUMBER.
 */
static int parse_digits(const char *s, size_t len, double *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		/* v <= 10^9 here, so v * 10 + 9 cannot wrap a uint64_t. */
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > SCANOPTS_MAX_NUMBER)
			return -1;
	}
	*out = (double)v;
	return 0;
}

static void set_once(double *field, double v)
{
	/* The first well-formed token of a family wins. */
	if (isnan(*field))
		*field = v;
}

/* PREFIX<n>SUFFIX: the prefix is known to match. */
static int parse_number(const struct token *t, const struct family *f,
                        struct scanopts *out)
{
	size_t plen = strlen(f->prefix), slen = strlen(f->suffix);
	double v;

	if (t->len < plen + slen ||
	    memcmp(t->s + t->len - slen, f->suffix, slen) != 0)
		return -1;
	if (parse_digits(t->s + plen, t->len - plen - slen, &v) < 0)
		return -1;
	set_once((double *)(void *)((char *)out + f->offset), v);
	return 0;
}

/* PREFIX<p>PC<rrrr>: the prefix is known to match. */
static int parse_phase_rr(const struct token *t, const struct family *f,
                          struct scanopts *out)
{
	size_t plen = strlen(f->prefix);
	const char *p = t->s + plen;
	size_t rest = t->len - plen;
	size_t ndigits = digit_run(p, rest);
	double phase, rr;

	if (rest - ndigits < 2 || memcmp(p + ndigits, "PC", 2) != 0)
		return -1;
	if (parse_digits(p, ndigits, &phase) < 0)
		return -1;
	if (parse_digits(p + ndigits + 2, rest - ndigits - 2, &rr) < 0)
		return -1;
	/* Phase and R-R come from the same token: keep them together. */
	if (isnan(out->phase_percent) && isnan(out->rr_interval_ms)) {
		out->phase_percent = phase;
		out->rr_interval_ms = rr;
	}
	return 0;
}

/*
 * Does the token belong to family f?  Long prefixes (OSCRATEAVG, PULSTART_P)
 * are distinctive on their own: whatever follows them is either a good or
 * a malformed number.  The short ones (TP, PHSP) are claimed only when the
 * shape <digits>PC follows, or a digit at least, so that some unrelated
 * TPxxx setting is not reported as a malformed phase.
 */
static int family_matches(const struct token *t, const struct family *f)
{
	size_t plen = strlen(f->prefix);

	switch (f->kind) {
	case FAMILY_FLAG:
		return t->len == plen && memcmp(t->s, f->prefix, plen) == 0;
	case FAMILY_NUMBER:
		return token_has_prefix(t, f->prefix);
	case FAMILY_PHASE_RR:
		if (!token_has_prefix(t, f->prefix) || t->len == plen)
			return 0;
		if (is_digit(t->s[plen]))
			return 1;
		return t->len - plen >= 2 && memcmp(t->s + plen, "PC", 2) == 0;
	}
	return 0;
}

static void parse_token(const struct token *t, struct scanopts *out)
{
	const struct family *f = NULL;
	size_t i;
	int r = 0;

	out->tokens++;
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		if (family_matches(t, &families[i])) {
			f = &families[i];
			break;
		}
	}
	if (!f) {
		out->unknown++;
		return;
	}

	/* A known name says "ECG-synchronised scan" even if its number is
	 * unreadable. */
	out->cardiac = true;
	switch (f->kind) {
	case FAMILY_FLAG:
		if (f->flag == FLAG_SEQUENTIAL)
			out->sequential = true;
		else if (f->flag == FLAG_TRIGGERED)
			out->triggered = true;
		break;
	case FAMILY_NUMBER:
		r = parse_number(t, f, out);
		break;
	case FAMILY_PHASE_RR:
		r = parse_phase_rr(t, f, out);
		break;
	}
	if (r < 0)
		out->malformed++;
}

static void scanopts_reset(struct scanopts *out)
{
	memset(out, 0, sizeof(*out));
	out->hr_min_bpm = NAN;
	out->hr_max_bpm = NAN;
	out->hr_avg_bpm = NAN;
	out->hr_var_bpm = NAN;
	out->phase_percent = NAN;
	out->rr_interval_ms = NAN;
	out->pulsing_start_percent = NAN;
	out->pulsing_end_percent = NAN;
	out->best_diastolic_percent = NAN;
}

void scanopts_parse(const char *value, struct scanopts *out)
{
	size_t len, start = 0, i;

	if (!out)
		return;
	scanopts_reset(out);
	if (!value)
		return;

	/* strnlen is POSIX, not C11: no byte past the limit is read. */
	for (len = 0; len < SCANOPTS_MAX_VALUE && value[len]; len++)
		;
	for (i = 0; i <= len; i++) {
		struct token t;

		if (i < len && value[i] != '\\')
			continue;

		/* PS3.5 6.2: CS values may be padded with spaces; an empty
		 * value (as in "A\\B") carries nothing and is not counted. */
		t.s = value + start;
		t.len = i - start;
		while (t.len > 0 && t.s[0] == ' ') {
			t.s++;
			t.len--;
		}
		while (t.len > 0 && t.s[t.len - 1] == ' ')
			t.len--;
		if (t.len > 0)
			parse_token(&t, out);
		start = i + 1;
	}
}
