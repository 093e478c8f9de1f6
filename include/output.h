/*
 * output.h - how the CLI prints rows: an aligned table on a terminal, or
 * CSV (RFC 4180) or JSON for other programs.  Rows arrive one at a time
 * (output_row fits store_query's row callback); a table is printed when
 * output_finish() knows every column's width.
 */
#ifndef HRAUDIT_OUTPUT_H
#define HRAUDIT_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

enum output_format { OUTPUT_TABLE, OUTPUT_CSV, OUTPUT_JSON };

struct output;

/* Parses "table", "csv" or "json".  Returns 0 or -EINVAL. */
int output_parse_format(const char *name, enum output_format *out);

/* Starts output to f (borrowed).
 * Returns NULL when out of memory. */
struct output *output_new(FILE *f, enum output_format fmt);

/* Prints the column names now, so that an empty result still has its
 * header; otherwise the first row brings them.  Returns 0 or -ENOMEM. */
int output_header(struct output *o, int ncols, const char *const *names);

/* Adds one row; NULL values print as empty (CSV, table) or null (JSON).
 * ctx is the struct output.  Returns 0, or non-zero on a write or memory
 * error (which stops store_query). */
int output_row(void *ctx, int ncols, const char *const *names,
               const char *const *values, const bool *numeric);

/* Prints what is buffered and the closing text.  Returns 0 or -EIO. */
int output_finish(struct output *o);

/* Accepts NULL. */
void output_free(struct output *o);

#endif
