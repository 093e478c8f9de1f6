/*
 * fuzz_scanopts.c - libFuzzer target: any bytes as a Scan Options value.
 * Built and run by `make fuzz` (long) and `make fuzz-smoke` (in make test).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scanopts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scanopts so;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	scanopts_parse(s, &so);
	/* what the parser promises: counts within the values seen */
	if (so.malformed > so.tokens || so.unknown > so.tokens)
		abort();
	free(s);
	return 0;
}
