/*
 * fuzz_header.c - libFuzzer target: raw data set bytes through everything
 * an arriving object meets before the database: the DCMTK shim's parser,
 * raw material gathering, derivation, scan-type classification and the
 * JSON the store keeps.  The first byte picks the transfer syntax.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "classify.h"
#include "dcm.h"
#include "extract.h"
#include "raw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const syntaxes[] = {
	"1.2.840.10008.1.2.1",      /* explicit VR little endian */
	"1.2.840.10008.1.2",        /* implicit VR little endian */
	"1.2.840.10008.1.2.2",      /* explicit VR big endian    */
	"1.2.840.10008.1.2.1.99",   /* deflated                  */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcm_header *h = NULL;
	struct raw raw = RAW_INIT;
	struct instance_info info;
	struct classify_rules rules = {0};
	bool truncated;
	char *json;

	if (size < 1)
		return 0;
	if (dcm_header_parse(data + 1, size - 1, syntaxes[data[0] % 4], &h,
	                     &truncated, NULL) < 0)
		return 0;
	if (extract_instance(h, &raw, &info) == 0 || info.series_uid[0]) {
		(void)extract_is_cardiac(&info, NULL);
		classify_scan_type(&rules, &info);
		json = raw_to_json(&raw);
		free(json);
	}
	raw_release(&raw);
	dcm_header_free(h);
	return 0;
}
