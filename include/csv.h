/*
 * csv.h - a reader of CSV files as RFC 4180 describes them, and as
 * spreadsheets and OpenREM write them: the CLI's imports (hraudit
 * import-calcium, merge-openrem) read their files with it.
 *
 * Accepted: fields in double quotes holding commas, line breaks and doubled
 * quotes (""); CRLF, LF or CR line ends, mixed; a UTF-8 byte order mark at
 * the start; a last line without a line end.  Lenient where no meaning is
 * lost: a quote inside an unquoted field is kept as a character, blanks
 * before an opening quote or after a closing one are ignored.  Blank lines (no byte before the line
 * end) are skipped.  Rejected, with the line number: an unterminated
 * quoted field, other text after a closing quote, a NUL byte, a UTF-16
 * file (byte order mark FF FE or FE FF), a record over the limits below.
 *
 * Conventions: functions returning int return 0 or more on success and a
 * negative errno on failure; *errmsg, when set, is malloc'd and the
 * caller's to free.  Field text is returned verbatim (not trimmed).
 */
#ifndef HRAUDIT_CSV_H
#define HRAUDIT_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CSV_MAX_RECORD_BYTES (4u << 20)  /* bytes of one record's fields  */
#define CSV_MAX_FIELDS 16384u            /* fields of one record          */

struct csv_reader;

/* One record: fields[0..n), NUL-terminated, owned by the reader. */
struct csv_record {
	char **fields;
	size_t n;
	unsigned long line;   /* line the record starts on, counted from 1 */
};

/* Starts reading f (borrowed, read from its current position).  Returns
 * NULL when out of memory. */
struct csv_reader *csv_reader_new(FILE *f)
	__attribute__((warn_unused_result));

/*
 * Reads the next record into *rec, valid until the next call or
 * csv_reader_free().  Returns 1 (a record), 0 (end of input), or -EINVAL
 * (malformed: "line N: ..." in *errmsg), -E2BIG (over a limit), -EIO (read
 * error), -ENOMEM.  After an error the reader is done: further calls
 * return the same error.
 */
int csv_read(struct csv_reader *r, struct csv_record *rec, char **errmsg)
	__attribute__((warn_unused_result));

/* Accepts NULL. */
void csv_reader_free(struct csv_reader *r);

/*
 * True when two column names are the same once ASCII case, text in
 * parentheses (units, "(mGy.cm)") and everything but letters and digits
 * are ignored: "Accession number" = "accession_number", "E1 CTDIvol" =
 * "E1 CTDIvol (mGy)", "No. events" = "no events".
 */
bool csv_name_equal(const char *a, const char *b);

/*
 * The index of the first field of header equal (csv_name_equal) to one of
 * names[], a NULL-ended list, or -1.  *second (if not NULL) is set to the
 * index of a second such field, or -1: two columns may claim one meaning.
 */
int csv_find_column(const struct csv_record *header,
                    const char *const *names, int *second);

#endif
