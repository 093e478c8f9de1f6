/*
 * dcm.h - the DICOM toolkit boundary: the only interface to DCMTK.
 *
 * Everything hraudit needs from DICOM goes through here: reading the header
 * of an object (from network bytes or from a file) without its pixel data,
 * the network side of a Storage SCP (association negotiation, C-ECHO,
 * C-STORE), and a Query/Retrieve SCU (C-FIND, C-GET, C-MOVE) for
 * `hraudit retrieve`.  The implementation (src/dcm.cc) is the one C++ translation unit
 * of the project and the only code that includes DCMTK headers.
 *
 * Conventions (as in leveldb's c.h):
 *  - Handles are opaque; each has a matching *_free() that accepts NULL.
 *  - Functions return 0 on success or a negative errno-style code.
 *  - Where a function takes `char **errmsg`, a failure may store a malloc'd,
 *    lower-case message there; the caller frees it.  errmsg may be NULL.
 *    On success *errmsg is left untouched.
 *  - No C++ exception crosses this boundary: every entry point catches all
 *    and turns them into -EIO (or -ENOMEM) with a message.
 *  - Tags are written as 0xGGGGEEEE (DCM_TAG(0x0018, 0x0022)).
 */
#ifndef HRAUDIT_DCM_H
#define HRAUDIT_DCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCM_TAG(g, e) ((uint32_t)(((uint32_t)(g) << 16) | (uint32_t)(e)))

/* DIMSE status codes used in C-STORE responses (PS3.7 Annex C, PS3.4 B.2.3). */
#define DCM_STATUS_SUCCESS            0x0000
#define DCM_STATUS_OUT_OF_RESOURCES   0xA700  /* refused: out of resources */
#define DCM_STATUS_CANNOT_UNDERSTAND  0xC000  /* error: cannot understand */
#define DCM_STATUS_PROCESSING_FAILURE 0x0110  /* processing failure */

/* ---- headers ------------------------------------------------------------ */

/* The parsed header of one DICOM object: every element before the pixel data. */
struct dcm_header;

/*
 * Parses a data set held in memory, encoded in the transfer syntax `ts_uid`
 * (as received in a presentation context: no preamble, no meta header).
 * Parsing stops before Pixel Data (7FE0,0010) and its float variants, so
 * pixel data is never decoded nor copied.  A buffer cut short (header larger
 * than the receive limit) yields what could be parsed and *truncated = true.
 * Returns 0, -EINVAL for bytes that are not a data set, -ENOMEM.
 */
int dcm_header_parse(const void *buf, size_t len, const char *ts_uid,
                     struct dcm_header **out, bool *truncated, char **errmsg);

/*
 * Reads the header of a DICOM file (Part 10 with meta header, or a bare data
 * set), stopping before pixel data.  Returns 0, -ENOENT, -EINVAL (not DICOM),
 * -ENOMEM.
 */
int dcm_header_load_file(const char *path, struct dcm_header **out,
                         char **errmsg);

void dcm_header_free(struct dcm_header *h);

/*
 * Copies the value of top-level element `tag` into buf as text, values of a
 * multi-valued element joined with '\' as on the wire, trailing padding
 * removed, numbers (US, FL, FD, ...) printed in decimal.  The result is
 * always NUL-terminated and cut to size-1 bytes.
 * Returns the full length of the value (like snprintf), -ENOENT when the
 * element is absent or empty.
 */
int dcm_header_string(const struct dcm_header *h, uint32_t tag,
                      char *buf, size_t size);

/*
 * Items: the data set itself, or one item of a sequence in it (for the
 * functional groups of Enhanced CT, and private sequences).  An item is
 * borrowed from its header and valid until dcm_header_free().
 * A private element that arrived as UN but holds a sequence (PS3.5 6.2.2:
 * implicit VR little endian inside) is read as a sequence.
 */
struct dcm_item;

const struct dcm_item *dcm_header_root(const struct dcm_header *h);

/* As dcm_header_string(), for element `tag` of item `it`. */
int dcm_item_string(const struct dcm_item *it, uint32_t tag, char *buf,
                    size_t size);

/*
 * The value of element `tag` as bytes: string VRs as their text, UN/OB as
 * received, binary numbers (US, SS, UL, SL, FL, FD) little endian.
 * *vr gets the two-letter VR ("UN" for an unknown private element).
 * Returns the full length (copies at most size bytes), or -ENOENT.
 */
int dcm_item_bytes(const struct dcm_item *it, uint32_t tag, void *buf,
                   size_t size, char vr[3]);

/* Number of items of sequence `tag` in `it`; 0 when absent or empty. */
size_t dcm_item_count(const struct dcm_item *it, uint32_t tag);

/* Item `index` of sequence `tag`, or NULL. */
const struct dcm_item *dcm_item_child(const struct dcm_item *it, uint32_t tag,
                                      size_t index);

/*
 * The block byte (0x10..0xFF) that private creator `creator` (an exact
 * name, or an fnmatch(3) glob) holds in `group` of `it` (PS3.5 7.8.1): its
 * elements are (group, block << 8 | ee).  The lowest block that matches.
 * Returns the byte, or -ENOENT.
 */
int dcm_item_private_block(const struct dcm_item *it, uint16_t group,
                           const char *creator);

/* ---- network ------------------------------------------------------------ */

struct dcm_net;     /* shared network state: one per server                */
struct dcm_assoc;   /* one accepted association, used by one thread        */

/* DICOM TLS (PS3.15 B.1) with one of DCMTK's BCP 195 profiles. */
enum dcm_tls_verify {
	DCM_TLS_REQUIRE,            /* the client must present a certificate
	                             * that a trusted CA signed               */
	DCM_TLS_VERIFY,             /* checked when the client sends one      */
	DCM_TLS_IGNORE,             /* not asked for                          */
};

enum dcm_tls_profile {
	DCM_TLS_BCP195_ND,          /* BCP 195, non-downgrading: TLS 1.2+     */
	DCM_TLS_BCP195,
	DCM_TLS_BCP195_EX,          /* BCP 195, extended                      */
};

struct dcm_tls_config {
	const char *certificate;    /* PEM: our certificate                   */
	const char *private_key;    /* PEM: its key, not encrypted            */
	const char *ca_file;        /* PEM: CAs trusted for client
	                             * certificates; NULL or "" for none      */
	enum dcm_tls_verify verify;
	enum dcm_tls_profile profile;
};

struct dcm_net_config {
	uint32_t max_pdu_bytes;     /* maximum PDU we receive                    */
	int acse_timeout_s;         /* association negotiation timeout           */
	int dimse_timeout_s;        /* idle time allowed between/inside messages */
	int socket_timeout_s;       /* a socket read or write making no progress */
	size_t max_header_bytes;    /* bytes of each object kept for parsing     */
	const struct dcm_tls_config *tls; /* NULL: plain TCP                      */
};

/*
 * Prepares the toolkit's network layer (no socket is opened: the caller
 * owns the listening socket); with cfg->tls, loads the certificate, key and
 * CA files now, so that a bad file is reported here and not at the first
 * association.  The socket timeouts are process-wide in the toolkit: the
 * last net made sets them.  Returns 0, -EINVAL (a TLS file, message names
 * it) or -EIO.
 */
int dcm_net_init(const struct dcm_net_config *cfg, struct dcm_net **out,
                 char **errmsg);
void dcm_net_free(struct dcm_net *net);

/* What we know of an association once its request has been read. */
struct dcm_assoc_info {
	char calling_aet[17];
	char called_aet[17];
	char peer[64];              /* numeric address of the peer              */
	bool tls;
};

/* Why an association is refused; each maps to the A-ASSOCIATE-RJ
 * result, source and reason of PS3.8 9.3.4. */
enum dcm_refusal {
	DCM_ADMIT = 0,
	DCM_REFUSE_BUSY,            /* rejected-transient, service provider
	                             * (presentation): local limit exceeded     */
	DCM_REFUSE_CALLING_AET,     /* rejected-permanent, service user:
	                             * calling AE title not recognized          */
	DCM_REFUSE_CALLED_AET,      /* rejected-permanent, service user:
	                             * called AE title not recognized           */
};

/* Decides, from the request's AE titles, whether to go on; *why (static
 * text) explains a refusal for the log. */
typedef enum dcm_refusal (*dcm_admit_fn)(void *ctx,
                                         const struct dcm_assoc_info *info,
                                         const char **why);

/*
 * Reads the A-ASSOCIATE-RQ waiting on connected socket `fd` (after the TLS
 * handshake on a TLS net) and answers it: `admit` decides on the AE titles,
 * then the presentation contexts are negotiated (Verification and every
 * storage SOP class).  The caller should hand over a plain socket only once
 * the whole request PDU has arrived (see server.c), so that reading it
 * does not block.  *info is filled as far as the request was read.
 * On success *out owns fd; on failure fd has been closed.
 * Returns 0, -ECONNREFUSED (rejected: reason in errmsg), -EPROTO (not a
 * valid request, or the TLS handshake failed), -ENOMEM, -EIO.
 */
int dcm_assoc_accept(struct dcm_net *net, int fd, dcm_admit_fn admit,
                     void *ctx, struct dcm_assoc_info *info,
                     struct dcm_assoc **out, char **errmsg);

/* One received C-STORE request, as handed to the store callback. */
struct dcm_store_request {
	const char *sop_class_uid;
	const char *sop_instance_uid;
	const char *ts_uid;          /* transfer syntax of the data set          */
	uint64_t bytes;              /* size of the data set as received        */
	bool header_truncated;       /* header longer than max_header_bytes     */
	const struct dcm_header *header; /* NULL when the bytes did not parse   */
};

/* Decides the DIMSE status of one C-STORE; called on the association's
 * thread, after the whole data set has been received. */
typedef uint16_t (*dcm_store_fn)(void *ctx, const struct dcm_store_request *req);

struct dcm_assoc_stats {
	unsigned echoes;
	unsigned stores;            /* C-STORE requests answered                 */
	unsigned failures;          /* of which answered with a failure status  */
	uint64_t bytes;             /* data set bytes received                  */
};

/*
 * Serves the association until the peer releases or aborts it, a timeout
 * expires, or *stop becomes true between messages (then it is aborted).
 * Answers C-ECHO itself; every C-STORE is received, its first
 * max_header_bytes kept and parsed, and `fn` decides the response status.
 * Returns 0 after a release, -ECONNABORTED after an abort or a stop,
 * -ETIMEDOUT, -EPROTO for a protocol error (message in errmsg).
 */
int dcm_assoc_serve(struct dcm_assoc *a, dcm_store_fn fn, void *ctx,
                    const volatile bool *stop, struct dcm_assoc_stats *stats,
                    char **errmsg);

void dcm_assoc_free(struct dcm_assoc *a);

/*
 * What dcm_assoc_serve() does with one C-STORE data set once DIMSE hands
 * over its bytes, with the bytes taken from memory instead of a socket:
 * buf[0..len) arrives in pieces of pieces[0], pieces[1], ... bytes (the
 * list repeats; a 0 counts as 1; npieces 0: all at once), through the
 * same bounded buffer (the first max_header_bytes, nothing after
 * top-level Pixel Data), early store, header parse and callback as a data
 * set in transfer syntax ts_uid.  The request's SOP class and instance
 * UIDs are empty.  For tests and fuzzing of the receive path.
 * Returns fn's status (>= 0), or -ENOMEM / -EIO with *errmsg.
 */
int dcm_receive_buffer(const void *buf, size_t len, const char *ts_uid,
                       size_t max_header_bytes, const size_t *pieces,
                       size_t npieces, dcm_store_fn fn, void *ctx,
                       char **errmsg);

/* ---- query/retrieve SCU (`hraudit retrieve`) ----------------------------- */

/*
 * One association we request from a PACS, for the Study Root
 * Query/Retrieve services (PS3.4 C.3.5): C-FIND, and C-GET (with the
 * storage SOP classes of CT proposed in the SCP role, PS3.4 C.4.3) or
 * C-MOVE.  Used by one thread; many queries and retrievals share it.
 */
struct dcm_scu;

struct dcm_scu_config {
	const char *host;           /* the PACS: name or address               */
	unsigned port;
	const char *called_aet;     /* its AE title                            */
	const char *calling_aet;    /* ours                                    */
	int connect_timeout_s;      /* TCP connection and A-ASSOCIATE          */
	int dimse_timeout_s;        /* waiting for any one response or data    */
	uint32_t max_pdu_bytes;     /* largest PDU we receive                  */
	size_t max_header_bytes;    /* bytes kept of each retrieved object     */
	bool get;                   /* propose C-GET and storage (SCP role)    */
	bool move;                  /* propose C-MOVE                          */
};

/*
 * Connects and negotiates.  Returns 0; -ECONNREFUSED, -ETIMEDOUT or
 * -EHOSTUNREACH when the PACS cannot be reached; -EACCES when it rejects
 * the association (errmsg: its reason, PS3.8 9.3.4); -EPROTONOSUPPORT
 * when it accepts none of the contexts a service needs (errmsg names the
 * service); -ENOMEM, -EIO.
 */
int dcm_scu_open(const struct dcm_scu_config *cfg, struct dcm_scu **out,
                 char **errmsg);

/* Releases the association (aborts it after a failure).  Accepts NULL. */
void dcm_scu_close(struct dcm_scu *s);

enum dcm_qr_level {
	DCM_QR_STUDY,
	DCM_QR_SERIES,
	DCM_QR_IMAGE,
};

/* One key of a query identifier: a value to match, or "" to have the
 * attribute returned (PS3.4 C.2.2.1).  The level is set by dcm_scu_find. */
struct dcm_qr_key {
	uint32_t tag;
	const char *value;
};

/* Called for each pending C-FIND response with its identifier (borrowed
 * for the call: read it with dcm_header_string()).  Return 0 to go on;
 * anything else is remembered and returned by dcm_scu_find, once the
 * remaining responses have been read and dropped. */
typedef int (*dcm_find_fn)(void *ctx, const struct dcm_header *identifier);

/* How a C-FIND, C-GET or C-MOVE ended. */
struct dcm_qr_result {
	uint16_t status;            /* final DIMSE status (PS3.4 C.4)          */
	unsigned responses;         /* pending responses (C-FIND matches)      */
	unsigned completed, failed, warning; /* sub-operations (C-GET, C-MOVE) */
	char comment[128];          /* Error Comment (0000,0902), or ""        */
};

/* True for Success (0000); a warning is Bxxx (and 0001 on C-FIND). */
#define DCM_QR_SUCCESS(st) ((st) == 0x0000)
#define DCM_QR_WARNING(st) (((st) & 0xF000) == 0xB000 || (st) == 0x0001)

/*
 * C-FIND at `level` with the keys; fn sees each match.  Returns 0 when the
 * exchange ended with a final response (its status in *res, which may be
 * a failure or a warning: the caller judges), fn's non-zero value, or
 * -ETIMEDOUT (no response within dimse_timeout_s: the association is
 * aborted), -EPROTO, -ENOMEM, -EIO with errmsg.
 */
int dcm_scu_find(struct dcm_scu *s, enum dcm_qr_level level,
                 const struct dcm_qr_key *keys, size_t nkeys, dcm_find_fn fn,
                 void *ctx, struct dcm_qr_result *res, char **errmsg);

/*
 * C-GET of one instance (IMAGE level): the PACS sends it back on this
 * association by C-STORE; it is received like a C-STORE to the daemon (the
 * first max_header_bytes kept, nothing after Pixel Data) and fn decides
 * the C-STORE status.  Returns as dcm_scu_find.
 */
int dcm_scu_get(struct dcm_scu *s, const char *study_uid,
                const char *series_uid, const char *sop_instance_uid,
                dcm_store_fn fn, void *ctx, struct dcm_qr_result *res,
                char **errmsg);

/*
 * C-MOVE of one instance (IMAGE level) to the AE title `destination`,
 * which the PACS knows (its address is the PACS's configuration).  The
 * response comes after the PACS's C-STORE to it ended.  Returns as
 * dcm_scu_find.
 */
int dcm_scu_move(struct dcm_scu *s, const char *destination,
                 const char *study_uid, const char *series_uid,
                 const char *sop_instance_uid, struct dcm_qr_result *res,
                 char **errmsg);

#ifdef __cplusplus
}
#endif

#endif
