/*
 * csv.c - the CSV reader behind include/csv.h (RFC 4180, lenient where
 * spreadsheets are).  The CLI's imports read their files with it: input
 * from outside, so every record is bounded (CSV_MAX_RECORD_BYTES,
 * CSV_MAX_FIELDS) and every error names its line.
 *
 * A record's fields are kept NUL-separated in one buffer; the pointers are
 * made when the record is complete, as the buffer may move while it grows.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

struct csv_reader {
	FILE *f;
	unsigned long line;      /* the line being read, from 1            */
	bool started;            /* byte order mark looked for             */
	int pending[3];          /* bytes pushed back, a stack             */
	size_t npending;
	char *buf;               /* the record's fields, NUL-separated     */
	size_t len, cap;
	size_t *starts;          /* offset of each field in buf            */
	char **fields;           /* made from starts when the record ends  */
	size_t nfields, fields_cap;
	int err;                 /* once failed, the error of every call   */
	char *errmsg;
};

/* Where the reader is inside a record. */
enum csv_state {
	AT_FIELD_START,  /* nothing of the field read yet                    */
	IN_BLANKS,       /* only blanks so far: a quote may still open it    */
	IN_UNQUOTED,
	IN_QUOTED,
	AFTER_QUOTE,     /* right after a quote inside a quoted field        */
	AFTER_BLANKS,    /* blanks after a closing quote                     */
};

struct csv_reader *csv_reader_new(FILE *f)
{
	struct csv_reader *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->f = f;
	r->line = 1;
	return r;
}

void csv_reader_free(struct csv_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->starts);
	free(r->fields);
	free(r->errmsg);
	free(r);
}

/* Records the reader's error (the first one only) and returns it. */
static int fail(struct csv_reader *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct csv_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->err)
		return r->err;
	r->err = err;
	va_start(ap, fmt);
	if (vasprintf(&r->errmsg, fmt, ap) < 0)
		r->errmsg = NULL;
	va_end(ap);
	return err;
}

static int next_byte(struct csv_reader *r)
{
	if (r->npending > 0)
		return r->pending[--r->npending];
	return getc(r->f);
}

static void push_back(struct csv_reader *r, int c)
{
	r->pending[r->npending++] = c;
}

/* Skips a UTF-8 byte order mark; refuses UTF-16 (which has NUL bytes). */
static int skip_bom(struct csv_reader *r)
{
	int c1, c2, c3;

	r->started = true;
	c1 = next_byte(r);
	if (c1 != 0xEF && c1 != 0xFF && c1 != 0xFE) {
		push_back(r, c1);
		return 0;
	}
	c2 = next_byte(r);
	if ((c1 == 0xFF && c2 == 0xFE) || (c1 == 0xFE && c2 == 0xFF))
		return fail(r, -EINVAL, "line 1: the file is UTF-16: save it "
		            "as UTF-8 CSV");
	if (c1 == 0xEF && c2 == 0xBB) {
		c3 = next_byte(r);
		if (c3 == 0xBF)
			return 0;
		push_back(r, c3);
	}
	push_back(r, c2);
	push_back(r, c1);
	return 0;
}

static int append(struct csv_reader *r, char c)
{
	char *b;
	size_t cap;

	if (r->len + 1 > CSV_MAX_RECORD_BYTES)
		return -E2BIG;
	if (r->len + 1 > r->cap) {
		cap = r->cap ? r->cap * 2 : 256;
		if (cap > CSV_MAX_RECORD_BYTES)
			cap = CSV_MAX_RECORD_BYTES;
		b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	r->buf[r->len++] = c;
	return 0;
}

/* Ends the field that starts at r->starts[r->nfields]. */
static int end_field(struct csv_reader *r)
{
	int e = append(r, '\0');

	if (e < 0)
		return e;
	r->nfields++;
	return 0;
}

/* Starts a field at the end of the buffer. */
static int begin_field(struct csv_reader *r)
{
	size_t cap, *s;
	char **p;

	if (r->nfields >= CSV_MAX_FIELDS)
		return -E2BIG;
	if (r->nfields + 1 > r->fields_cap) {
		cap = r->fields_cap ? r->fields_cap * 2 : 32;
		s = realloc(r->starts, cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		r->starts = s;
		p = realloc(r->fields, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		r->fields = p;
		r->fields_cap = cap;
	}
	r->starts[r->nfields] = r->len;
	return 0;
}

/* After a CR: a following LF belongs to the same line end. */
static void eat_lf(struct csv_reader *r)
{
	int c = next_byte(r);

	if (c != '\n')
		push_back(r, c);
}

/* Skips blank lines.  Returns 1 at a record, 0 at the end, or an error. */
static int skip_blank_lines(struct csv_reader *r)
{
	int c;

	for (;;) {
		c = next_byte(r);
		if (c == EOF)
			return ferror(r->f) ? fail(r, -EIO, "line %lu: read "
			                           "error", r->line) : 0;
		if (c == '\r')
			eat_lf(r);
		else if (c != '\n')
			break;
		r->line++;
	}
	push_back(r, c);
	return 1;
}

static int limit_error(struct csv_reader *r, int e, unsigned long line)
{
	if (e == -ENOMEM)
		return fail(r, e, "out of memory");
	if (r->nfields >= CSV_MAX_FIELDS)
		return fail(r, e, "line %lu: more than %u fields in a record",
		            line, CSV_MAX_FIELDS);
	return fail(r, e, "line %lu: record longer than %u bytes", line,
	            CSV_MAX_RECORD_BYTES);
}

static int unexpected(struct csv_reader *r, int c)
{
	if (c > 0x20 && c < 0x7f)
		return fail(r, -EINVAL, "line %lu: '%c' after the closing "
		            "quote of field %zu", r->line, c, r->nfields + 1);
	return fail(r, -EINVAL, "line %lu: byte 0x%02x after the closing "
	            "quote of field %zu", r->line, (unsigned)c, r->nfields + 1);
}

int csv_read(struct csv_reader *r, struct csv_record *rec, char **errmsg)
{
	enum csv_state st = AT_FIELD_START;
	unsigned long first_line, quote_line = 0;
	bool done = false;
	int c, e;

	if (r->err || (!r->started && skip_bom(r) < 0))
		goto out;
	e = skip_blank_lines(r);
	if (e < 0)
		goto out;
	if (e == 0)
		return 0;
	first_line = r->line;
	r->len = 0;
	r->nfields = 0;
	if ((e = begin_field(r)) < 0)
		goto limit;
	while (!done) {
		c = next_byte(r);
		if (c == '\0') {
			fail(r, -EINVAL, "line %lu: NUL byte in field %zu",
			     r->line, r->nfields + 1);
			goto out;
		}
		if (st == IN_QUOTED) {
			if (c == '"') {
				st = AFTER_QUOTE;
				continue;
			}
			if (c == EOF) {
				if (ferror(r->f))
					fail(r, -EIO, "line %lu: read error", r->line);
				else
					fail(r, -EINVAL, "line %lu: quoted field %zu "
					     "has no closing quote", quote_line,
					     r->nfields + 1);
				goto out;
			}
			/* line ends inside quotes are kept as they are */
			if ((e = append(r, (char)c)) < 0)
				goto limit;
			if (c == '\r') {
				c = next_byte(r);
				if (c == '\n') {
					if ((e = append(r, '\n')) < 0)
						goto limit;
				} else {
					push_back(r, c);
				}
				r->line++;
			} else if (c == '\n') {
				r->line++;
			}
			continue;
		}
		/* Outside quotes: separators and line ends. */
		if (c == ',' || c == '\r' || c == '\n' || c == EOF) {
			if ((e = end_field(r)) < 0)
				goto limit;
			if (c == ',') {
				if ((e = begin_field(r)) < 0)
					goto limit;
				st = AT_FIELD_START;
				continue;
			}
			if (c == EOF && ferror(r->f)) {
				fail(r, -EIO, "line %lu: read error", r->line);
				goto out;
			}
			if (c == '\r')
				eat_lf(r);
			if (c != EOF)
				r->line++;
			done = true;
			continue;
		}
		switch (st) {
		case AT_FIELD_START:
		case IN_BLANKS:
			if (c == '"') {
				r->len = r->starts[r->nfields];  /* drop blanks */
				quote_line = r->line;
				st = IN_QUOTED;
				continue;
			}
			st = c == ' ' || c == '\t' ? IN_BLANKS : IN_UNQUOTED;
			break;
		case AFTER_QUOTE:
			if (c == '"') {       /* "" stands for one quote */
				st = IN_QUOTED;
				break;
			}
			/* fall through */
		case AFTER_BLANKS:
			if (c == ' ' || c == '\t') {
				st = AFTER_BLANKS;
				continue;
			}
			unexpected(r, c);
			goto out;
		case IN_UNQUOTED:
		case IN_QUOTED:
			break;
		}
		if ((e = append(r, (char)c)) < 0)
			goto limit;
	}
	for (size_t i = 0; i < r->nfields; i++)
		r->fields[i] = r->buf + r->starts[i];
	rec->fields = r->fields;
	rec->n = r->nfields;
	rec->line = first_line;
	return 1;
limit:
	limit_error(r, e, first_line);
out:
	if (errmsg)
		*errmsg = r->errmsg ? strdup(r->errmsg) : NULL;
	return r->err;
}

/* The next letter or digit of a column name, lower case, outside
 * parentheses; '\0' at the end. */
static char name_next(const char **p)
{
	int depth = 0;
	unsigned char c;

	while ((c = (unsigned char)**p) != '\0') {
		(*p)++;
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c < 0x80 && isalnum(c))
			return (char)tolower(c);
	}
	return '\0';
}

bool csv_name_equal(const char *a, const char *b)
{
	char ca, cb;

	do {
		ca = name_next(&a);
		cb = name_next(&b);
		if (ca != cb)
			return false;
	} while (ca != '\0');
	return true;
}

int csv_find_column(const struct csv_record *header,
                    const char *const *names, int *second)
{
	int found = -1;

	if (second)
		*second = -1;
	for (size_t i = 0; i < header->n; i++) {
		for (size_t k = 0; names[k]; k++) {
			if (!csv_name_equal(header->fields[i], names[k]))
				continue;
			if (found < 0) {
				found = (int)i;
			} else if (second) {
				*second = (int)i;
				return found;
			}
			break;
		}
	}
	return found;
}
