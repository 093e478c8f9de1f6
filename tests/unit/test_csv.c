/*
 * test_csv.c - unit tests of the CSV reader (src/csv.c): RFC 4180 quoting,
 * the line ends and byte order marks spreadsheets write, line numbers in
 * records and errors, the limits, and column-name matching.  Input comes
 * from memory through fmemopen(3).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* fmemopen */
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

struct reading {
	FILE *f;
	struct csv_reader *r;
	struct csv_record rec;
	char *err;
};

static void open_text(struct reading *rd, const char *text, size_t len)
{
	memset(rd, 0, sizeof(*rd));
	rd->f = fmemopen((void *)text, len, "r");
	assert_non_null(rd->f);
	rd->r = csv_reader_new(rd->f);
	assert_non_null(rd->r);
}

static void close_text(struct reading *rd)
{
	csv_reader_free(rd->r);
	fclose(rd->f);
	free(rd->err);
}

static int next(struct reading *rd)
{
	free(rd->err);
	rd->err = NULL;
	return csv_read(rd->r, &rd->rec, &rd->err);
}

/* Expects the next record to be the n fields given, starting on line. */
static void expect(struct reading *rd, unsigned long line, size_t n, ...)
{
	va_list ap;

	assert_int_equal(next(rd), 1);
	assert_null(rd->err);
	assert_int_equal(rd->rec.line, line);
	assert_int_equal(rd->rec.n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(rd->rec.fields[i], va_arg(ap, const char *));
	va_end(ap);
}

static void expect_end(struct reading *rd)
{
	assert_int_equal(next(rd), 0);
	assert_int_equal(next(rd), 0);   /* and stays there */
}

static void expect_error(struct reading *rd, int e, const char *message)
{
	assert_int_equal(next(rd), e);
	assert_non_null(rd->err);
	assert_string_equal(rd->err, message);
	/* the reader stays failed */
	assert_int_equal(next(rd), e);
	assert_string_equal(rd->err, message);
}

#define OPEN(rd, s) open_text(rd, s, sizeof(s) - 1)

static void test_csv__reads_plain_records(void **state)
{
	struct reading rd;

	(void)state;
	OPEN(&rd, "accession_number,agatston\n0012345678,0\n0099,412.5\n");
	expect(&rd, 1, 2, "accession_number", "agatston");
	expect(&rd, 2, 2, "0012345678", "0");
	expect(&rd, 3, 2, "0099", "412.5");
	expect_end(&rd);
	close_text(&rd);
}

static void test_csv__quoted_fields(void **state)
{
	struct reading rd;

	(void)state;
	OPEN(&rd, "\"a,b\",\"say \"\"hi\"\"\",\"\",plain\r\n"
	          "\"two\r\nlines\",\"x\ny\"\r\n"
	          "after,\"\"\"\"\r\n");
	expect(&rd, 1, 4, "a,b", "say \"hi\"", "", "plain");
	expect(&rd, 2, 2, "two\r\nlines", "x\ny");
	/* the line count went on inside the quotes */
	expect(&rd, 5, 2, "after", "\"");
	expect_end(&rd);
	close_text(&rd);
}

static void test_csv__line_ends_and_last_line(void **state)
{
	struct reading rd;

	(void)state;
	OPEN(&rd, "a,b\r\nc,d\ne,f\rg,h");
	expect(&rd, 1, 2, "a", "b");
	expect(&rd, 2, 2, "c", "d");
	expect(&rd, 3, 2, "e", "f");
	expect(&rd, 4, 2, "g", "h");
	expect_end(&rd);
	close_text(&rd);
}

static void test_csv__empty_fields_and_blank_lines(void **state)
{
	struct reading rd;

	(void)state;
	OPEN(&rd, "\n\r\n,,\na,\n\n\n,b\n\n");
	expect(&rd, 3, 3, "", "", "");
	expect(&rd, 4, 2, "a", "");
	expect(&rd, 7, 2, "", "b");
	expect_end(&rd);
	close_text(&rd);

	OPEN(&rd, "");
	expect_end(&rd);
	close_text(&rd);
}

static void test_csv__skips_utf8_bom(void **state)
{
	struct reading rd;

	(void)state;
	OPEN(&rd, "\xEF\xBB\xBF\"Accession number\",Study date\n1,2\n");
	expect(&rd, 1, 2, "Accession number", "Study date");
	expect(&rd, 2, 2, "1", "2");
	expect_end(&rd);
	close_text(&rd);

	/* Not a BOM: the bytes are kept. */
	OPEN(&rd, "\xEF\xBBx\n");
	expect(&rd, 1, 1, "\xEF\xBBx");
	close_text(&rd);
	OPEN(&rd, "\xEF");
	expect(&rd, 1, 1, "\xEF");
	expect_end(&rd);
	close_text(&rd);
}

static void test_csv__lenient_where_nothing_is_lost(void **state)
{
	struct reading rd;

	(void)state;
	/* a quote inside an unquoted field; blanks around quoted fields */
	OPEN(&rd, "5\" disk,  \"a, b\"  ,\t\"c\"\n x , y\n");
	expect(&rd, 1, 3, "5\" disk", "a, b", "c");
	expect(&rd, 2, 2, " x ", " y");
	close_text(&rd);
}

static void test_csv__rejects_malformed_input(void **state)
{
	struct reading rd;

	(void)state;
	OPEN(&rd, "a,b\n\"open,\nstill open\n");
	expect(&rd, 1, 2, "a", "b");
	expect_error(&rd, -EINVAL, "line 2: quoted field 1 has no closing quote");
	close_text(&rd);

	OPEN(&rd, "a,\"b\"c\n");
	expect_error(&rd, -EINVAL, "line 1: 'c' after the closing quote of "
	             "field 2");
	close_text(&rd);

	OPEN(&rd, "a,\"b\" \"\n");
	expect_error(&rd, -EINVAL, "line 1: '\"' after the closing quote of "
	             "field 2");
	close_text(&rd);

	OPEN(&rd, "ok\na\0b\n");
	expect(&rd, 1, 1, "ok");
	expect_error(&rd, -EINVAL, "line 2: NUL byte in field 1");
	close_text(&rd);

	OPEN(&rd, "\xFF\xFE" "a\0,\0");
	expect_error(&rd, -EINVAL, "line 1: the file is UTF-16: save it as "
	             "UTF-8 CSV");
	close_text(&rd);
	OPEN(&rd, "\xFE\xFF\0a");
	expect_error(&rd, -EINVAL, "line 1: the file is UTF-16: save it as "
	             "UTF-8 CSV");
	close_text(&rd);
}

static void test_csv__limits_records(void **state)
{
	struct reading rd;
	size_t len = CSV_MAX_FIELDS, big = CSV_MAX_RECORD_BYTES + 16;
	char *text = malloc(big);
	char message[128];

	(void)state;
	assert_non_null(text);
	/* CSV_MAX_FIELDS fields pass, one more does not */
	memset(text, ',', len);
	text[len - 1] = '\n';
	open_text(&rd, text, len);
	assert_int_equal(next(&rd), 1);
	assert_int_equal(rd.rec.n, CSV_MAX_FIELDS);
	close_text(&rd);
	text[len - 1] = ',';
	text[len] = '\n';
	open_text(&rd, text, len + 1);
	snprintf(message, sizeof message, "line 1: more than %u fields in a "
	         "record", CSV_MAX_FIELDS);
	expect_error(&rd, -E2BIG, message);
	close_text(&rd);

	memset(text, 'x', big);
	open_text(&rd, text, big);
	snprintf(message, sizeof message, "line 1: record longer than %u bytes",
	         CSV_MAX_RECORD_BYTES);
	expect_error(&rd, -E2BIG, message);
	close_text(&rd);
	free(text);
}

static void test_csv__matches_column_names(void **state)
{
	static const char *const acc[] = {"accession_number", "accession", NULL};
	static const char *const ctdi[] = {"E1 CTDIvol", NULL};
	struct reading rd;
	int second;

	(void)state;
	assert_true(csv_name_equal("Accession number", "accession_number"));
	assert_true(csv_name_equal(" ACCESSION-NUMBER ", "accession number"));
	assert_true(csv_name_equal("E1 CTDIvol (mGy)", "E1 CTDIvol"));
	assert_true(csv_name_equal("DLP total (mGy.cm)", "dlp total"));
	assert_true(csv_name_equal("No. events", "no events"));
	assert_false(csv_name_equal("E1 CTDIvol", "E11 CTDIvol"));
	assert_false(csv_name_equal("accession", "accession number"));
	assert_true(csv_name_equal("", "()"));

	OPEN(&rd, "Patient,Accession Number,E1 CTDIvol (mGy),accession\n");
	assert_int_equal(next(&rd), 1);
	assert_int_equal(csv_find_column(&rd.rec, acc, &second), 1);
	assert_int_equal(second, 3);           /* two claim the meaning */
	assert_int_equal(csv_find_column(&rd.rec, ctdi, &second), 2);
	assert_int_equal(second, -1);
	assert_int_equal(csv_find_column(&rd.rec, ctdi + 1, NULL), -1);
	close_text(&rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv__reads_plain_records),
		cmocka_unit_test(test_csv__quoted_fields),
		cmocka_unit_test(test_csv__line_ends_and_last_line),
		cmocka_unit_test(test_csv__empty_fields_and_blank_lines),
		cmocka_unit_test(test_csv__skips_utf8_bom),
		cmocka_unit_test(test_csv__lenient_where_nothing_is_lost),
		cmocka_unit_test(test_csv__rejects_malformed_input),
		cmocka_unit_test(test_csv__limits_records),
		cmocka_unit_test(test_csv__matches_column_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
