/*
 * output.c - table, CSV and JSON printing for the CLI (include/output.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

struct output {
	FILE *f;
	enum output_format fmt;
	int ncols;
	size_t nrows, cap;
	char **cells;            /* table: header row, then rows, row-major */
	unsigned long rows_out;  /* csv/json: rows written                 */
	bool failed;
};

int output_parse_format(const char *name, enum output_format *out)
{
	if (strcmp(name, "table") == 0)
		*out = OUTPUT_TABLE;
	else if (strcmp(name, "csv") == 0)
		*out = OUTPUT_CSV;
	else if (strcmp(name, "json") == 0)
		*out = OUTPUT_JSON;
	else
		return -EINVAL;
	return 0;
}

struct output *output_new(FILE *f, enum output_format fmt)
{
	struct output *o = calloc(1, sizeof *o);

	if (!o)
		return NULL;
	o->f = f;
	o->fmt = fmt;
	return o;
}

/* RFC 4180: quote a field holding a comma, quote, CR or LF; double quotes. */
static void csv_field(FILE *f, const char *v)
{
	if (!v)
		return;
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

static void csv_row(FILE *f, int n, const char *const *v)
{
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		csv_field(f, v[i]);
	}
	fputs("\r\n", f);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static int table_add(struct output *o, int n, const char *const *v)
{
	if ((o->nrows + 1) * (size_t)n > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : (size_t)n * 64;
		char **c = realloc(o->cells, cap * sizeof *c);

		if (!c)
			return -ENOMEM;
		o->cells = c;
		o->cap = cap;
	}
	for (int i = 0; i < n; i++) {
		char *s = strdup(v[i] ? v[i] : "");

		if (!s)
			return -ENOMEM;
		o->cells[o->nrows * (size_t)n + (size_t)i] = s;
	}
	o->nrows++;
	return 0;
}

int output_header(struct output *o, int ncols, const char *const *names)
{
	if (o->ncols)
		return 0;
	o->ncols = ncols;
	if (o->fmt == OUTPUT_CSV)
		csv_row(o->f, ncols, names);
	else if (o->fmt == OUTPUT_TABLE && table_add(o, ncols, names) < 0)
		return -ENOMEM;
	else if (o->fmt == OUTPUT_JSON)
		fputs("[", o->f);
	return 0;
}

int output_row(void *ctx, int ncols, const char *const *names,
               const char *const *values, const bool *numeric)
{
	struct output *o = ctx;

	if (output_header(o, ncols, names) < 0)
		goto fail;
	switch (o->fmt) {
	case OUTPUT_CSV:
		csv_row(o->f, ncols, values);
		break;
	case OUTPUT_JSON:
		fputs(o->rows_out ? ",\n  {" : "\n  {", o->f);
		for (int i = 0; i < ncols; i++) {
			if (i)
				fputs(", ", o->f);
			json_string(o->f, names[i]);
			fputs(": ", o->f);
			if (!values[i])
				fputs("null", o->f);
			else if (numeric[i])
				fputs(values[i], o->f);
			else
				json_string(o->f, values[i]);
		}
		fputc('}', o->f);
		break;
	case OUTPUT_TABLE:
		if (table_add(o, ncols, values) < 0)
			goto fail;
		break;
	}
	o->rows_out++;
	if (ferror(o->f))
		goto fail;
	return 0;
fail:
	o->failed = true;
	return 1;
}

/* Display width of UTF-8 text: one column per code point. */
static int text_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void table_print(struct output *o)
{
	int n = o->ncols, *width = calloc((size_t)n, sizeof *width);

	if (!width) {
		o->failed = true;
		return;
	}
	for (size_t r = 0; r < o->nrows; r++)
		for (int i = 0; i < n; i++) {
			int w = text_width(o->cells[r * (size_t)n + (size_t)i]);
			if (w > width[i])
				width[i] = w;
		}
	for (size_t r = 0; r < o->nrows; r++) {
		for (int i = 0; i < n; i++) {
			const char *c = o->cells[r * (size_t)n + (size_t)i];
			int w = text_width(c);

			fputs(c, o->f);
			if (i < n - 1)
				fprintf(o->f, "%*s", width[i] - w + 2, "");
		}
		fputc('\n', o->f);
		if (r == 0) {
			for (int i = 0; i < n; i++) {
				for (int k = 0; k < width[i]; k++)
					fputc('-', o->f);
				if (i < n - 1)
					fputs("  ", o->f);
			}
			fputc('\n', o->f);
		}
	}
	free(width);
}

int output_finish(struct output *o)
{
	if (o->fmt == OUTPUT_TABLE && o->nrows > 0)
		table_print(o);
	else if (o->fmt == OUTPUT_JSON)
		fputs(o->ncols ? "\n]\n" : "[]\n", o->f);
	if (fflush(o->f) != 0 || ferror(o->f) || o->failed)
		return -EIO;
	return 0;
}

void output_free(struct output *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nrows * (size_t)o->ncols; i++)
		free(o->cells[i]);
	free(o->cells);
	free(o);
}
