/*
 * dcm.cc - the DCMTK shim: the one C++ module, and the only code that
 * includes DCMTK headers.  Its contract is include/dcm.h.
 *
 * Header parsing: data set bytes -> DcmDataset, stopping before Pixel Data.
 * Network: association negotiation on a socket the caller accepted, and a
 * DIMSE loop that streams each C-STORE data set through a bounded buffer
 * (DIMSE_receiveDataSetInFile over our own DcmConsumer), so memory does not
 * depend on object size and pixel data is never held.
 * Query/retrieve SCU (`hraudit retrieve`): one association we request,
 * C-FIND, C-MOVE, and C-GET whose C-STORE sub-operations go through that
 * same bounded buffer.
 *
 * No exception leaves this file: each entry point has a catch-all.
 */
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrma.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <dcmtk/oflog/oflog.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <condition_variable>
#include <functional>
#include <new>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fnmatch.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dcm.h"
#include "errmsg.h"

struct dcm_header {
	DcmDataset *ds;
};

struct dcm_net {
	T_ASC_Network *net;
	bool tls;
	uint32_t max_pdu;
	int acse_timeout_s;
	int dimse_timeout_s;
	size_t max_header;
};

struct dcm_assoc {
	struct dcm_net *net;
	T_ASC_Association *assoc;
	int fd;                      /* our copy of the socket (DCMTK has a dup) */
};

/* dcmExternalSocketHandle is one global: one thread at a time hands a
 * socket to the toolkit. */
static std::mutex accept_mutex;

/* The toolkit's own logger would print warnings (such as "PixelData
 * encountered, skipping rest of dataset", on every object) to stderr: the
 * conditions it returns are logged by our callers instead. */
static void quiet_toolkit(void)
{
	static std::once_flag once;

	std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

/* ---- headers ------------------------------------------------------------ */

static bool is_encapsulated_ts(const char *ts)
{
	return strncmp(ts, "1.2.840.10008.1.2.4.", 20) == 0 ||
	       strcmp(ts, UID_RLELosslessTransferSyntax) == 0;
}

/* The encoding of the data set in transfer syntax ts: encapsulated syntaxes
 * the toolkit does not know still use explicit VR little endian (PS3.5 A.4).
 * DcmXfer also matches names ("Little Endian Implicit") and the empty UID
 * of its internal big endian implicit: only a syntax's own UID counts. */
static E_TransferSyntax xfer_of(const char *ts)
{
	DcmXfer xfer(ts);
	E_TransferSyntax x = xfer.getXfer();

	if (x == EXS_BigEndianImplicit || strcmp(xfer.getXferID(), ts) != 0)
		x = EXS_Unknown;
	if (x == EXS_Unknown && is_encapsulated_ts(ts))
		x = EXS_LittleEndianExplicit;
	return x;
}

static void un_to_sequences(DcmItem *item, int depth);

/* Deepest nesting we convert or descend into: bounds work on hostile input. */
#define MAX_DEPTH 8
#define MAX_CLAMP_DEPTH 64

/*
 * After a parse that stopped early, the element (and the items around it)
 * being read when the bytes ran out holds a partial value: drop everything
 * not completely read, so that what remains is exactly what arrived whole.
 */
static void prune_partial(DcmItem *item, int depth)
{
	for (unsigned long i = item->card(); i-- > 0;) {
		DcmElement *e = item->getElement(i);

		if (e->transferState() != ERW_ready) {
			delete item->remove(e);
			continue;
		}
		if (e->ident() == EVR_SQ && depth < 64) {
			DcmSequenceOfItems *sq = OFstatic_cast(DcmSequenceOfItems *, e);
			for (unsigned long k = sq->card(); k-- > 0;) {
				DcmItem *it = sq->getItem(k);
				if (it->transferState() != ERW_ready)
					delete sq->remove(it);
				else
					prune_partial(it, depth + 1);
			}
		}
	}
}

static void to_utf8(DcmDataset *ds)
{
	OFString cs;

	/* Only when a non-default character set is declared: most CT headers
	 * are plain ASCII and pay nothing. */
	if (ds->findAndGetOFStringArray(DCM_SpecificCharacterSet, cs).bad() ||
	    cs.empty() || cs == "ISO_IR 192" || cs == "ISO_IR 6")
		return;
	(void)ds->convertToUTF8();
}

/*
 * DCMTK allocates an element's declared length before it reads the value,
 * so a few bytes declaring 2 GiB cost 2 GiB.  Before parsing, we walk the
 * element headers ourselves (PS3.5 7.1, 7.5) and cut the buffer at the
 * first element whose value would run past its container or past the end:
 * what comes before is parsed, nothing absurd is allocated.
 * Returns the length to parse; *damaged tells a cut for a bad length from
 * the normal end of a header at Pixel Data.
 */
/* Whether an explicit VR element has a 4-byte length (PS3.5 7.1.2) as the
 * toolkit reads it: asked of the toolkit itself, which also knows its own
 * rules for unknown and internal VR names. */
static bool long_length_vr(const char vr[3])
{
	return DcmVR(vr).usesExtendedLengthEncoding();
}

static size_t clamp_lengths(const Uint8 *b, size_t len, bool explicit_vr,
                            bool big_endian, bool *damaged)
{
	size_t ends[MAX_CLAMP_DEPTH + 1];
	size_t depth = 0, p = 0;

	ends[0] = len;
	while (p < len) {
		while (depth > 0 && p >= ends[depth])
			depth--;
		size_t end = ends[depth];
		if (p + 8 > end)
			return *damaged = true, p;
		auto u16 = [&](size_t at) -> Uint32 {
			return big_endian ? (Uint32)(b[at] << 8 | b[at + 1])
			                  : (Uint32)(b[at] | b[at + 1] << 8);
		};
		auto u32 = [&](size_t at) -> Uint32 {
			return big_endian ? ((Uint32)b[at] << 24 | (Uint32)b[at + 1] << 16 |
			                     (Uint32)b[at + 2] << 8 | b[at + 3])
			                  : ((Uint32)b[at] | (Uint32)b[at + 1] << 8 |
			                     (Uint32)b[at + 2] << 16 | (Uint32)b[at + 3] << 24);
		};
		/* items and delimiters have no VR in any transfer syntax */
		Uint32 group = u16(p), elem = u16(p + 2);
		size_t hdr;
		Uint32 vlen;
		bool container = false;

		if (group == 0xFFFE) {
			hdr = 8;
			vlen = u32(p + 4);
			if (elem == 0xE000)
				container = true;        /* an item */
			else
				vlen = 0;                /* delimiters carry no value */
		} else if (explicit_vr) {
			char vr[3] = {(char)b[p + 4], (char)b[p + 5], 0};
			if (long_length_vr(vr)) {
				if (p + 12 > end)
					return *damaged = true, p;
				hdr = 12;
				vlen = u32(p + 8);
			} else {
				hdr = 8;
				vlen = u16(p + 6);
			}
			container = strcmp(vr, "SQ") == 0;
		} else {
			hdr = 8;
			vlen = u32(p + 4);
		}
		/* Pixel Data: nothing after it is needed, so the toolkit never
		 * sees it (its own stop at this tag still reads some values). */
		if (depth == 0 && group == 0x7FE0 && elem == 0x0010)
			return p;   /* the end of the header, not damage */
		if (vlen == 0xFFFFFFFF) {            /* undefined length: look inside */
			p += hdr;
			continue;
		}
		if (p + hdr + vlen > end)
			return *damaged = true, p;
		if (container && depth < MAX_CLAMP_DEPTH) {
			ends[++depth] = p + hdr + vlen;
			p += hdr;
			continue;
		}
		p += hdr + vlen;
	}
	return len;
}

/* Most bytes a deflated data set is inflated to: the bound of a file's. */
#define INFLATED_HEADER_MAX (64u << 20)

/*
 * A deflated data set (PS3.5 A.5) is inflated here, through the toolkit's
 * own filter, into out: up to where top-level Pixel Data begins, the end
 * of the bytes, or INFLATED_HEADER_MAX.  The caller then parses it as the
 * explicit VR little endian it is, its lengths clamped like any other (the
 * toolkit, left to inflate as it reads, would allocate whatever lengths
 * the inflated bytes declare).  Bytes that stop inflating end the data.
 */
static void inflate_header(const void *buf, size_t len, OFVector<Uint8> &out)
{
	DcmInputBufferStream in;
	size_t walk_at = 1u << 16;

	in.setBuffer(buf, (offile_off_t)len);
	in.setEos();
	if (in.installCompressionFilter(ESC_zlib).bad())
		return;
	while (out.size() < INFLATED_HEADER_MAX && in.good() && !in.eos()) {
		size_t at = out.size();
		out.resize(at + (1u << 16));
		offile_off_t n = in.read(&out[at], 1u << 16);
		out.resize(at + (n > 0 ? (size_t)n : 0));
		if (n <= 0)
			break;
		if (out.size() >= walk_at) {      /* as HeaderConsumer walks */
			bool damaged = false;
			walk_at = out.size() * 2;
			if (clamp_lengths(&out[0], out.size(), true, false,
			                  &damaged) < out.size() && !damaged)
				break;
		}
	}
}

extern "C" int dcm_header_parse(const void *buf, size_t len, const char *ts_uid,
                                struct dcm_header **out, bool *truncated,
                                char **errmsg)
{
	struct dcm_header *h = NULL;
	int r = -EIO;

	*out = NULL;
	try {
		quiet_toolkit();
		E_TransferSyntax x = xfer_of(ts_uid ? ts_uid : UID_LittleEndianImplicitTransferSyntax);
		if (x == EXS_Unknown) {
			errmsg_set(errmsg, "unknown transfer syntax '%s'", ts_uid);
			return -EINVAL;
		}
		OFVector<Uint8> inflated;
		if (x == EXS_DeflatedLittleEndianExplicit) {
			inflate_header(buf, len, inflated);
			if (inflated.empty() && len > 0) {
				errmsg_set(errmsg, "cannot inflate data set");
				return -EINVAL;
			}
			buf = inflated.empty() ? NULL : &inflated[0];
			len = inflated.size();
			x = EXS_LittleEndianExplicit;
		}
		bool damaged = false;
		size_t usable = clamp_lengths((const Uint8 *)buf, len,
		                              x != EXS_LittleEndianImplicit,
		                              x == EXS_BigEndianExplicit, &damaged);
		DcmInputBufferStream in;
		in.setBuffer(buf, (offile_off_t)usable);
		in.setEos();
		h = new struct dcm_header;
		h->ds = new DcmDataset;
		h->ds->transferInit();
		OFCondition c = h->ds->readUntilTag(in, x, EGL_noChange,
		                                    DCM_MaxReadLength, DCM_PixelData);
		if (c.bad())
			prune_partial(h->ds, 0);
		h->ds->transferEnd();
		if (truncated)
			*truncated = false;
		if (c.bad() && h->ds->card() == 0) {
			errmsg_set(errmsg, "not a dicom data set: %s", c.text());
			r = -EINVAL;
			goto fail;
		}
		/* Elements parsed before a cut or a broken element are kept:
		 * what lies before the damage is still the object's header. */
		if ((c.bad() || damaged) && truncated)
			*truncated = true;
		un_to_sequences(h->ds, 0);
		to_utf8(h->ds);
		*out = h;
		return 0;
	} catch (const std::bad_alloc &) {
		errmsg_set(errmsg, "out of memory parsing header");
		r = -ENOMEM;
	} catch (...) {
		errmsg_set(errmsg, "unexpected error parsing header");
		r = -EIO;
	}
fail:
	dcm_header_free(h);
	return r;
}

/* Bytes of a file read for its header: the same bound as the network's. */
#define FILE_HEADER_MAX (64u << 20)

/*
 * A file goes through the same guarded parser as network data: its first
 * bytes are read into memory, the Part 10 meta header (if any) gives the
 * transfer syntax, and dcm_header_parse() reads the data set after it.
 */
extern "C" int dcm_header_load_file(const char *path, struct dcm_header **out,
                                    char **errmsg)
{
	struct dcm_header *meta = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 1 << 16, start = 0;
	char ts[65] = UID_LittleEndianImplicitTransferSyntax;
	FILE *f;
	int r;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		r = -errno;
		errmsg_set(errmsg, "cannot read '%s': %s", path, strerror(errno));
		return r;
	}
	for (;;) {
		unsigned char *nb = (unsigned char *)realloc(buf, cap);
		if (!nb) {
			free(buf);
			fclose(f);
			errmsg_set(errmsg, "out of memory reading '%s'", path);
			return -ENOMEM;
		}
		buf = nb;
		len += fread(buf + len, 1, cap - len, f);
		if (len < cap || cap >= FILE_HEADER_MAX)
			break;
		cap *= 2;
	}
	r = ferror(f) ? -EIO : 0;
	fclose(f);
	if (r < 0) {
		free(buf);
		errmsg_set(errmsg, "cannot read '%s'", path);
		return r;
	}
	if (len >= 132 && memcmp(buf + 128, "DICM", 4) == 0) {
		/* PS3.10 7.1: the meta group, explicit VR little endian, led by
		 * its group length (0002,0000) */
		const unsigned char *m = buf + 132;
		if (len < 144 || m[0] != 0x02 || m[1] != 0 || m[2] != 0 || m[3] != 0 ||
		    m[4] != 'U' || m[5] != 'L') {
			free(buf);
			errmsg_set(errmsg, "'%s': no file meta information group length", path);
			return -EINVAL;
		}
		uint32_t glen = (uint32_t)m[8] | (uint32_t)m[9] << 8 |
		                (uint32_t)m[10] << 16 | (uint32_t)m[11] << 24;
		start = 132 + 12 + (size_t)glen;
		if (glen > len || start > len) {
			free(buf);
			errmsg_set(errmsg, "'%s': meta information longer than the file", path);
			return -EINVAL;
		}
		r = dcm_header_parse(buf + 132, start - 132,
		                     UID_LittleEndianExplicitTransferSyntax, &meta,
		                     NULL, NULL);
		if (r < 0 || dcm_header_string(meta, DCM_TAG(0x0002, 0x0010), ts,
		                               sizeof ts) < 0) {
			dcm_header_free(meta);
			free(buf);
			errmsg_set(errmsg, "'%s': no transfer syntax in the meta information", path);
			return -EINVAL;
		}
		dcm_header_free(meta);
	} else if (len >= 6 && buf[0] == 0x08 && buf[1] == 0 &&
	           isupper(buf[4]) && isupper(buf[5])) {
		/* a bare data set starting with group 0008, explicit VR */
		snprintf(ts, sizeof ts, "%s", UID_LittleEndianExplicitTransferSyntax);
	}
	r = dcm_header_parse(buf + start, len - start, ts, out, NULL, NULL);
	free(buf);
	if (r < 0)
		errmsg_set(errmsg, "'%s' is not a dicom file", path);
	else if (dcm_header_root(*out) &&
	         OFreinterpret_cast(DcmItem *, OFconst_cast(struct dcm_item *,
	                            dcm_header_root(*out)))->card() == 0) {
		dcm_header_free(*out);
		*out = NULL;
		errmsg_set(errmsg, "'%s' is not a dicom file", path);
		r = -EINVAL;
	}
	return r;
}

extern "C" void dcm_header_free(struct dcm_header *h)
{
	if (!h)
		return;
	delete h->ds;
	delete h;
}

extern "C" int dcm_header_string(const struct dcm_header *h, uint32_t tag,
                                 char *buf, size_t size)
{
	try {
		OFString v;
		DcmTagKey key((Uint16)(tag >> 16), (Uint16)(tag & 0xffff));

		if (size)
			buf[0] = '\0';
		if (h->ds->findAndGetOFStringArray(key, v).bad())
			return -ENOENT;
		/* trailing padding of the last value (leading spaces are
		 * significant only in some VRs and kept) */
		size_t n = v.length();
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\0'))
			n--;
		if (n == 0)
			return -ENOENT;
		if (size) {
			size_t c = n < size - 1 ? n : size - 1;
			memcpy(buf, v.c_str(), c);
			buf[c] = '\0';
		}
		return (int)(n > INT32_MAX ? INT32_MAX : n);
	} catch (...) {
		return -ENOENT;
	}
}


/*
 * A UN element whose value starts with an Item tag (FFFE,E000) is a
 * sequence sent by a node that did not know the private element (PS3.5
 * 6.2.2: the content is implicit VR little endian).  We re-read it as an
 * undefined-length element in front of a sequence delimiter, which the
 * parser then builds as a sequence, and swap it in.
 */
static void un_to_sequences(DcmItem *item, int depth)
{
	if (depth >= MAX_DEPTH)
		return;
	/* nextInContainer() steps from the list's current element;
	 * getElement(i) would walk from the first one every time. */
	for (DcmObject *o = item->nextInContainer(NULL); o;
	     o = item->nextInContainer(o)) {
		DcmElement *e = OFstatic_cast(DcmElement *, o);
		DcmTagKey key = e->getTag();

		if (e->ident() == EVR_SQ) {
			DcmSequenceOfItems *sq = OFstatic_cast(DcmSequenceOfItems *, e);
			for (unsigned long k = 0; k < sq->card(); k++)
				un_to_sequences(sq->getItem(k), depth + 1);
			continue;
		}
		/* UN when the sender gave it, no VR at all in implicit VR */
		if (!(e->ident() == EVR_UN || !DcmVR(e->ident()).isStandard()) ||
		    !key.isPrivate())
			continue;
		Uint8 *v = NULL;
		Uint32 len = e->getLength();
		if (len < 8 || e->getUint8Array(v).bad() || !v ||
		    !(v[0] == 0xFE && v[1] == 0xFF && v[2] == 0x00 && v[3] == 0xE0))
			continue;
		OFVector<Uint8> buf(len + 16);
		Uint8 *b = &buf[0];
		Uint16 g = key.getGroup(), el = key.getElement();
		b[0] = g & 0xff; b[1] = g >> 8; b[2] = el & 0xff; b[3] = el >> 8;
		b[4] = b[5] = b[6] = b[7] = 0xff;
		memcpy(b + 8, v, len);
		static const Uint8 seq_end[8] = {0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0};
		memcpy(b + 8 + len, seq_end, 8);

		bool damaged = false;
		if (clamp_lengths(b + 8, len, false, false, &damaged) < len || damaged)
			continue;   /* a broken inner length: leave it as UN */
		DcmDataset tmp;
		DcmInputBufferStream in;
		in.setBuffer(b, (offile_off_t)buf.size());
		in.setEos();
		tmp.transferInit();
		OFCondition c = tmp.read(in, EXS_LittleEndianImplicit);
		tmp.transferEnd();
		DcmElement *seq = NULL;
		if (c.bad() || tmp.findAndGetElement(key, seq).bad() || !seq ||
		    seq->ident() != EVR_SQ)
			continue;
		seq = tmp.remove(key);
		if (item->insert(seq, OFTrue).bad()) {
			delete seq;
			continue;
		}
		un_to_sequences(OFstatic_cast(DcmItem *, item), depth);
		return;   /* the element list changed under us: started again */
	}
}

static DcmItem *as_item(const struct dcm_item *it)
{
	return OFreinterpret_cast(DcmItem *, OFconst_cast(struct dcm_item *, it));
}

extern "C" const struct dcm_item *dcm_header_root(const struct dcm_header *h)
{
	return OFreinterpret_cast(const struct dcm_item *,
	                          OFstatic_cast(DcmItem *, h->ds));
}

extern "C" int dcm_item_string(const struct dcm_item *it, uint32_t tag,
                               char *buf, size_t size)
{
	struct dcm_header h;

	h.ds = OFreinterpret_cast(DcmDataset *, as_item(it));
	return dcm_header_string(&h, tag, buf, size);
}

static DcmElement *find_element(const struct dcm_item *it, uint32_t tag)
{
	DcmElement *e = NULL;
	DcmTagKey key((Uint16)(tag >> 16), (Uint16)(tag & 0xffff));

	if (!it || as_item(it)->findAndGetElement(key, e).bad())
		return NULL;
	return e;
}

template <typename T>
static size_t put_le(OFVector<Uint8> &out, T v)
{
	Uint8 b[sizeof(T)];
	memcpy(b, &v, sizeof(T));
	if (gLocalByteOrder == EBO_BigEndian)
		for (size_t i = 0; i < sizeof(T) / 2; i++) {
			Uint8 t = b[i]; b[i] = b[sizeof(T) - 1 - i]; b[sizeof(T) - 1 - i] = t;
		}
	out.insert(out.end(), b, b + sizeof(T));
	return sizeof(T);
}

extern "C" int dcm_item_bytes(const struct dcm_item *it, uint32_t tag,
                              void *buf, size_t size, char vr[3])
{
	try {
		DcmElement *e = find_element(it, tag);
		OFVector<Uint8> out;

		if (vr)
			vr[0] = vr[1] = vr[2] = '\0';
		if (!e || e->getLength() == 0)
			return -ENOENT;
		DcmVR v(e->ident());
		/* implicit VR gives unknown private elements no VR ("??"): they
		 * are UN, raw bytes (PS3.5 6.2.2) */
		if (vr)
			memcpy(vr, v.isStandard() ? v.getVRName() : "UN", 2);
		unsigned long vm = e->getVM();
		switch (e->ident()) {
		case EVR_US: for (unsigned long i = 0; i < vm; i++) { Uint16 x; if (e->getUint16(x, i).good()) put_le(out, x); } break;
		case EVR_SS: for (unsigned long i = 0; i < vm; i++) { Sint16 x; if (e->getSint16(x, i).good()) put_le(out, x); } break;
		case EVR_UL: for (unsigned long i = 0; i < vm; i++) { Uint32 x; if (e->getUint32(x, i).good()) put_le(out, x); } break;
		case EVR_SL: for (unsigned long i = 0; i < vm; i++) { Sint32 x; if (e->getSint32(x, i).good()) put_le(out, x); } break;
		case EVR_FL: for (unsigned long i = 0; i < vm; i++) { Float32 x; if (e->getFloat32(x, i).good()) put_le(out, x); } break;
		case EVR_FD: for (unsigned long i = 0; i < vm; i++) { Float64 x; if (e->getFloat64(x, i).good()) put_le(out, x); } break;
		case EVR_SQ:
			return -ENOENT;
		default: {
			if (v.isaString()) {
				char *s = NULL;
				Uint32 n = 0;
				if (e->getString(s, n).bad() || !s)
					return -ENOENT;
				out.assign((Uint8 *)s, (Uint8 *)s + n);
			} else {
				Uint8 *b = NULL;
				if (e->getUint8Array(b).bad() || !b)
					return -ENOENT;
				out.assign(b, b + e->getLength());
			}
		}
		}
		if (out.empty())
			return -ENOENT;
		if (size)
			memcpy(buf, &out[0], out.size() < size ? out.size() : size);
		return (int)(out.size() > INT32_MAX ? INT32_MAX : out.size());
	} catch (...) {
		return -ENOENT;
	}
}

extern "C" size_t dcm_item_count(const struct dcm_item *it, uint32_t tag)
{
	try {
		DcmElement *e = find_element(it, tag);
		if (!e || e->ident() != EVR_SQ)
			return 0;
		return OFstatic_cast(DcmSequenceOfItems *, e)->card();
	} catch (...) {
		return 0;
	}
}

extern "C" const struct dcm_item *dcm_item_child(const struct dcm_item *it,
                                                 uint32_t tag, size_t index)
{
	try {
		DcmElement *e = find_element(it, tag);
		if (!e || e->ident() != EVR_SQ)
			return NULL;
		DcmSequenceOfItems *sq = OFstatic_cast(DcmSequenceOfItems *, e);
		if (index >= sq->card())
			return NULL;
		return OFreinterpret_cast(const struct dcm_item *,
		                          sq->getItem((unsigned long)index));
	} catch (...) {
		return NULL;
	}
}

extern "C" int dcm_item_private_block(const struct dcm_item *it, uint16_t group,
                                      const char *creator)
{
	try {
		DcmItem *item = as_item(it);

		if (!item || !(group & 1))
			return -ENOENT;
		/* one pass over the elements: creators are (group,0010-00FF) */
		for (DcmObject *o = item->nextInContainer(NULL); o;
		     o = item->nextInContainer(o)) {
			DcmElement *e = OFstatic_cast(DcmElement *, o);
			DcmTagKey key = e->getTag();
			OFString v;

			/* elements are in tag order: creators come first */
			if (key.getGroup() > group ||
			    (key.getGroup() == group && key.getElement() > 0xff))
				break;
			if (key.getGroup() != group || key.getElement() < 0x10)
				continue;
			if (e->getOFStringArray(v).bad())
				continue;
			/* LO: leading and trailing spaces are not significant */
			size_t a = v.find_first_not_of(' ');
			size_t z = v.find_last_not_of(" \0");
			if (a == OFString_npos || z == OFString_npos)
				continue;
			/* a creator may be given as a glob: Siemens varies it */
			if (fnmatch(creator, v.substr(a, z - a + 1).c_str(), 0) == 0)
				return (int)key.getElement();
		}
	} catch (...) {
	}
	return -ENOENT;
}

/* ---- network ------------------------------------------------------------ */

/* The TLS layer for a net: our certificate and key, the CAs we trust for
 * client certificates, the BCP 195 profile.  Returns NULL with *errmsg. */
static DcmTLSTransportLayer *tls_layer(const struct dcm_tls_config *t,
                                       char **errmsg)
{
	static const DcmTLSSecurityProfile profiles[] = {
		TSP_Profile_BCP195_ND, TSP_Profile_BCP195, TSP_Profile_BCP195_Extended,
	};
	static const DcmCertificateVerification checks[] = {
		DCV_requireCertificate, DCV_checkCertificate, DCV_ignoreCertificate,
	};
	DcmTLSTransportLayer *tl = new DcmTLSTransportLayer(NET_ACCEPTOR, NULL, OFTrue);
	OFCondition c;

	if (!*tl) {
		errmsg_set(errmsg, "cannot initialise tls (openssl)");
		goto fail;
	}
	c = tl->setTLSProfile(profiles[t->profile]);
	if (c.good())
		c = tl->activateCipherSuites();
	if (c.bad()) {
		errmsg_set(errmsg, "cannot set the tls profile: %s", c.text());
		goto fail;
	}
	c = tl->setCertificateFile(t->certificate, DCF_Filetype_PEM);
	if (c.bad()) {
		errmsg_set(errmsg, "cannot load tls certificate '%s': %s",
		           t->certificate, c.text());
		goto fail;
	}
	c = tl->setPrivateKeyFile(t->private_key, DCF_Filetype_PEM);
	if (c.bad()) {
		errmsg_set(errmsg, "cannot load tls private key '%s': %s",
		           t->private_key, c.text());
		goto fail;
	}
	if (!tl->checkPrivateKeyMatchesCertificate()) {
		errmsg_set(errmsg, "tls private key '%s' does not match certificate '%s'",
		           t->private_key, t->certificate);
		goto fail;
	}
	if (t->ca_file && t->ca_file[0]) {
		c = tl->addTrustedCertificateFile(t->ca_file, DCF_Filetype_PEM);
		if (c.bad()) {
			errmsg_set(errmsg, "cannot load tls ca file '%s': %s",
			           t->ca_file, c.text());
			goto fail;
		}
	}
	tl->setCertificateVerification(checks[t->verify]);
	return tl;
fail:
	delete tl;
	return NULL;
}

extern "C" int dcm_net_init(const struct dcm_net_config *cfg,
                            struct dcm_net **out, char **errmsg)
{
	struct dcm_net *n = NULL;
	DcmTLSTransportLayer *tl = NULL;

	*out = NULL;
	try {
		quiet_toolkit();
		if (!dcmDataDict.isDictionaryLoaded()) {
			errmsg_set(errmsg, "dicom data dictionary not loaded (DCMDICTPATH?)");
			return -EIO;
		}
		if (cfg->tls) {
			tl = tls_layer(cfg->tls, errmsg);
			if (!tl)
				return -EINVAL;
		}
		dcmDisableGethostbyaddr.set(OFTrue);
		dcmSocketReceiveTimeout.set(cfg->socket_timeout_s);
		dcmSocketSendTimeout.set(cfg->socket_timeout_s);
		dcmConnectionTimeout.set(cfg->acse_timeout_s);

		n = new struct dcm_net();
		n->tls = cfg->tls != NULL;
		n->max_pdu = cfg->max_pdu_bytes;
		n->acse_timeout_s = cfg->acse_timeout_s;
		n->dimse_timeout_s = cfg->dimse_timeout_s;
		n->max_header = cfg->max_header_bytes;

		/* With an external socket handle set, the toolkit opens no
		 * listening socket of its own: we own it (server.c). */
		std::lock_guard<std::mutex> lock(accept_mutex);
		dcmExternalSocketHandle.set(STDERR_FILENO);
		/* The network's timeout is also how long the toolkit waits
		 * for the first PDU after the association is accepted (it
		 * delayed our 1 s DIMSE polls by acse_timeout): 1 s.  The
		 * association request itself is bounded by the caller and the
		 * socket timeouts. */
		OFCondition c = ASC_initializeNetwork(NET_ACCEPTOR, 0, 1, &n->net);
		dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
		if (c.good() && tl) {
			c = ASC_setTransportLayer(n->net, tl, OFTrue);
			if (c.good())
				tl = NULL;     /* the network owns it now */
		}
		if (c.bad()) {
			errmsg_set(errmsg, "cannot initialise dicom network: %s", c.text());
			if (n->net)
				ASC_dropNetwork(&n->net);
			delete n;
			delete tl;
			return -EIO;
		}
		*out = n;
		return 0;
	} catch (...) {
		errmsg_set(errmsg, "unexpected error initialising the network");
		delete n;
		delete tl;
		return -EIO;
	}
}

extern "C" void dcm_net_free(struct dcm_net *n)
{
	if (!n)
		return;
	try {
		ASC_dropNetwork(&n->net);
	} catch (...) {
	}
	delete n;
}

/* Chooses the transfer syntax for one proposed context: explicit VR little
 * endian, then implicit, then any other the toolkit knows or that is
 * encapsulated (the header is explicit VR little endian there). */
static const char *choose_ts(const T_ASC_PresentationContext &pc)
{
	static const char *const preferred[] = {
		UID_LittleEndianExplicitTransferSyntax,
		UID_LittleEndianImplicitTransferSyntax,
	};

	for (const char *p : preferred)
		for (int i = 0; i < pc.transferSyntaxCount; i++)
			if (strcmp(pc.proposedTransferSyntaxes[i], p) == 0)
				return p;
	for (int i = 0; i < pc.transferSyntaxCount; i++)
		if (xfer_of(pc.proposedTransferSyntaxes[i]) != EXS_Unknown)
			return pc.proposedTransferSyntaxes[i];
	return NULL;
}

/* Storage is every storage SOP class the toolkit knows, and every UID it
 * does not know (private storage classes, such as Siemens' CSA non-image,
 * travel in the same forward queue and must not stall it). */
static bool is_storage(const char *uid)
{
	return dcmIsaStorageSOPClassUID(uid, ESSC_All) ||
	       dcmFindNameOfUID(uid, NULL) == NULL;
}

/* A-ASSOCIATE-RJ parameters for each refusal (PS3.8 9.3.4). */
static T_ASC_RejectParameters reject_params(enum dcm_refusal why)
{
	T_ASC_RejectParameters rej = {ASC_RESULT_REJECTEDPERMANENT,
	                              ASC_SOURCE_SERVICEUSER,
	                              ASC_REASON_SU_NOREASON};

	switch (why) {
	case DCM_REFUSE_BUSY:
		rej.result = ASC_RESULT_REJECTEDTRANSIENT;
		rej.source = ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED;
		rej.reason = ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED;
		break;
	case DCM_REFUSE_CALLING_AET:
		rej.reason = ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED;
		break;
	case DCM_REFUSE_CALLED_AET:
		rej.reason = ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED;
		break;
	case DCM_ADMIT:
		break;
	}
	return rej;
}

static int negotiate(struct dcm_assoc *a, const struct dcm_assoc_info *info,
                     dcm_admit_fn admit, void *actx, char **errmsg)
{
	T_ASC_Parameters *params = a->assoc->params;
	T_ASC_RejectParameters rej = reject_params(DCM_ADMIT);
	char ctx[65] = "";
	const char *why = NULL;
	enum dcm_refusal refusal;

	refusal = admit ? admit(actx, info, &why) : DCM_ADMIT;
	if (refusal != DCM_ADMIT) {
		rej = reject_params(refusal);
		if (!why)
			why = "refused";
		goto reject;
	}
	ASC_getApplicationContextName(params, ctx, sizeof ctx);
	if (strcmp(ctx, UID_StandardApplicationContext) != 0) {
		rej.reason = ASC_REASON_SU_APPCONTEXTNAMENOTSUPPORTED;
		why = "unsupported application context";
		goto reject;
	}
	for (int i = 0; i < ASC_countPresentationContexts(params); i++) {
		T_ASC_PresentationContext pc;
		const char *ts;

		if (ASC_getPresentationContext(params, i, &pc).bad())
			continue;
		if (strcmp(pc.abstractSyntax, UID_VerificationSOPClass) != 0 &&
		    !is_storage(pc.abstractSyntax)) {
			ASC_refusePresentationContext(params, pc.presentationContextID,
			                              ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
			continue;
		}
		ts = choose_ts(pc);
		if (!ts) {
			ASC_refusePresentationContext(params, pc.presentationContextID,
			                              ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
			continue;
		}
		ASC_acceptPresentationContext(params, pc.presentationContextID, ts);
	}
	if (ASC_countAcceptedPresentationContexts(params) == 0) {
		why = "no acceptable presentation context";
		goto reject;
	}
	if (ASC_acknowledgeAssociation(a->assoc).bad()) {
		errmsg_set(errmsg, "cannot acknowledge association");
		return -EIO;
	}
	return 0;
reject:
	ASC_rejectAssociation(a->assoc, &rej);
	errmsg_set(errmsg, "%s", why);
	return -ECONNREFUSED;
}

extern "C" int dcm_assoc_accept(struct dcm_net *net, int fd, dcm_admit_fn admit,
                                void *actx, struct dcm_assoc_info *info,
                                struct dcm_assoc **out, char **errmsg)
{
	struct dcm_assoc *a = NULL;
	int dupfd, r;

	*out = NULL;
	memset(info, 0, sizeof *info);
	info->tls = net->tls;
	/* The toolkit closes the socket it is given when the association is
	 * destroyed; we keep our own descriptor so that a failure anywhere
	 * still closes the connection exactly once (shutdown, then close). */
	dupfd = dup(fd);
	if (dupfd < 0) {
		r = -errno;
		errmsg_set(errmsg, "cannot duplicate socket: %s", strerror(errno));
		close(fd);
		return r;
	}
	try {
		a = new struct dcm_assoc();
		a->net = net;
		a->fd = fd;
		OFCondition c;
		{
			std::lock_guard<std::mutex> lock(accept_mutex);
			dcmExternalSocketHandle.set(dupfd);
			c = ASC_receiveAssociation(net->net, &a->assoc, (long)net->max_pdu,
			                           NULL, NULL, net->tls ? OFTrue : OFFalse,
			                           DUL_BLOCK, net->acse_timeout_s);
			dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
		}
		if (c.bad()) {
			if (net->tls && strstr(c.text(), "TLS"))
				errmsg_set(errmsg, "tls handshake failed: %s", c.text());
			else
				errmsg_set(errmsg, "cannot receive association: %s", c.text());
			r = -EPROTO;
			goto fail;
		}
		ASC_getAPTitles(a->assoc->params, info->calling_aet,
		                sizeof info->calling_aet, info->called_aet,
		                sizeof info->called_aet, NULL, 0);
		snprintf(info->peer, sizeof info->peer, "%s",
		         a->assoc->params->DULparams.callingPresentationAddress);
		r = negotiate(a, info, admit, actx, errmsg);
		if (r < 0)
			goto fail;
		*out = a;
		return 0;
	} catch (const std::bad_alloc &) {
		errmsg_set(errmsg, "out of memory accepting association");
		r = -ENOMEM;
	} catch (...) {
		errmsg_set(errmsg, "unexpected error accepting association");
		r = -EIO;
	}
fail:
	if (a && a->assoc) {
		ASC_dropAssociation(a->assoc);
		ASC_destroyAssociation(&a->assoc);
	}
	shutdown(fd, SHUT_RDWR);
	close(fd);
	delete a;
	return r;
}

/*
 * Keeps the first `limit` bytes of a data set and counts the rest.  It
 * also watches for the end of the header: once the top-level Pixel Data
 * element begins (clamp_lengths finds it), nothing after it is kept, and
 * on_header is told where the header ends, while the pixel data is still
 * arriving.  Deflated data sets cannot be walked: they are kept whole, up
 * to the limit, as before.
 */
class HeaderConsumer : public DcmConsumer {
public:
	explicit HeaderConsumer(size_t limit) : buf_(NULL), len_(0), cap_(0),
		limit_(limit), total_(0), walkable_(false), explicit_(false),
		big_(false), next_walk_(0), header_end_(0) {}
	~HeaderConsumer() { free(buf_); }
	OFBool good() const { return OFTrue; }
	OFCondition status() const { return EC_Normal; }
	OFBool isFlushed() const { return OFTrue; }
	offile_off_t avail() const { return 0x7fffffff; }
	offile_off_t write(const void *p, offile_off_t n)
	{
		size_t want = (size_t)n;

		total_ += want;
		/* want > 0: an empty data set comes as write(NULL, 0), and
		 * memcpy to or from NULL is undefined even for 0 bytes. */
		if (want > 0 && header_end_ == 0 && len_ < limit_) {
			size_t take = want < limit_ - len_ ? want : limit_ - len_;
			if (len_ + take > cap_) {
				size_t cap = cap_ ? cap_ : 65536;
				while (cap < len_ + take)
					cap *= 2;
				if (cap > limit_)
					cap = limit_;
				unsigned char *nb = (unsigned char *)realloc(buf_, cap);
				if (!nb)
					throw std::bad_alloc();
				buf_ = nb;
				cap_ = cap;
			}
			memcpy(buf_ + len_, p, take);
			len_ += take;
			look_for_pixel_data();
		}
		return n;
	}
	void flush() {}
	/* For the next data set, in transfer syntax x. */
	void reset(E_TransferSyntax x)
	{
		len_ = 0;
		total_ = 0;
		header_end_ = 0;
		next_walk_ = 0;
		walkable_ = x != EXS_DeflatedLittleEndianExplicit && x != EXS_Unknown;
		explicit_ = x != EXS_LittleEndianImplicit;
		big_ = x == EXS_BigEndianExplicit;
	}
	const unsigned char *data() const { return buf_; }
	size_t length() const { return len_; }
	uint64_t total() const { return total_; }
	/* Bytes of header kept were cut by the limit (not by Pixel Data). */
	bool cut() const { return header_end_ == 0 && total_ > len_; }
	/* Called once, with the header's length, when Pixel Data begins. */
	std::function<void(size_t)> on_header;
private:
	void look_for_pixel_data()
	{
		bool damaged = false;
		size_t p;

		/* Walk again only when the buffer has doubled, so that a long
		 * header arriving in small pieces costs linear time. */
		if (!walkable_ || len_ < next_walk_)
			return;
		next_walk_ = len_ * 2;
		p = clamp_lengths(buf_, len_, explicit_, big_, &damaged);
		if (damaged || p >= len_ || p == 0)
			return;            /* not there yet (or not there at all) */
		header_end_ = p;
		len_ = p;
		if (on_header)
			on_header(p);
	}
	unsigned char *buf_;
	size_t len_, cap_, limit_;
	uint64_t total_;
	bool walkable_, explicit_, big_;
	size_t next_walk_, header_end_;
};

class HeaderStream : public DcmOutputStream {
public:
	explicit HeaderStream(HeaderConsumer *c) : DcmOutputStream(c) {}
};

/*
 * Parses one header and asks fn for the C-STORE status.  Runs on the
 * association's thread, or on its early-store thread below.
 */
static uint16_t decide(const unsigned char *hdr, size_t len, bool cut,
                       uint64_t bytes, const char *ts,
                       const T_DIMSE_C_StoreRQ *req, dcm_store_fn fn, void *ctx)
{
	struct dcm_store_request sr;
	struct dcm_header *h = NULL;
	bool trunc = false;
	uint16_t status;

	memset(&sr, 0, sizeof sr);
	sr.sop_class_uid = req->AffectedSOPClassUID;
	sr.sop_instance_uid = req->AffectedSOPInstanceUID;
	sr.ts_uid = ts;
	sr.bytes = bytes;
	if (dcm_header_parse(hdr, len, ts, &h, &trunc, NULL) < 0)
		h = NULL;
	sr.header_truncated = cut;
	sr.header = h;
	status = fn(ctx, &sr);
	dcm_header_free(h);
	return status;
}

/*
 * The early store: one thread per association that records an instance
 * from its header while the association's thread still receives the
 * pixel data, so the database commit (an fsync) overlaps the transfer
 * instead of following it.  The response still waits for both: nothing is
 * acknowledged before it is committed.  An instance whose transfer then
 * fails may be recorded without having been acknowledged; the sender
 * sends it again, and a duplicate is counted once.
 */
class EarlyStore {
public:
	EarlyStore(dcm_store_fn fn, void *ctx) : fn_(fn), ctx_(ctx), busy_(false),
		done_(false), quit_(false), status_(0), req_(NULL) {}
	~EarlyStore()
	{
		if (!thread_.joinable())
			return;
		{
			std::lock_guard<std::mutex> l(m_);
			quit_ = true;
		}
		cv_.notify_all();
		thread_.join();
	}
	/* Hands over a copy of the header; the thread starts on it. */
	void start(const unsigned char *hdr, size_t len, const char *ts,
	           const T_DIMSE_C_StoreRQ *req)
	{
		if (!thread_.joinable())
			thread_ = std::thread(&EarlyStore::run, this);
		std::lock_guard<std::mutex> l(m_);
		hdr_.assign(hdr, hdr + len);
		ts_ = ts;
		req_ = req;
		busy_ = true;
		done_ = false;
		cv_.notify_all();
	}
	bool started() const { return busy_; }
	/* Waits for the status of the instance started last. */
	uint16_t wait()
	{
		std::unique_lock<std::mutex> l(m_);
		cv_.wait(l, [this] { return done_; });
		busy_ = false;
		return status_;
	}
private:
	void run()
	{
		std::unique_lock<std::mutex> l(m_);
		for (;;) {
			cv_.wait(l, [this] { return quit_ || (busy_ && !done_); });
			if (quit_)
				return;
			l.unlock();
			uint16_t st;
			try {
				st = decide(hdr_.data(), hdr_.size(), false, hdr_.size(),
				            ts_.c_str(), req_, fn_, ctx_);
			} catch (...) {
				st = DCM_STATUS_OUT_OF_RESOURCES;
			}
			l.lock();
			status_ = st;
			done_ = true;
			cv_.notify_all();
		}
	}
	dcm_store_fn fn_;
	void *ctx_;
	std::thread thread_;
	std::mutex m_;
	std::condition_variable cv_;
	bool busy_, done_, quit_;
	uint16_t status_;
	std::vector<unsigned char> hdr_;
	std::string ts_;
	const T_DIMSE_C_StoreRQ *req_;
};

/* Before a data set arrives in transfer syntax ts: hc empties, and hands
 * the header to early as soon as Pixel Data begins. */
static void receive_begin(HeaderConsumer &hc, EarlyStore &early,
                          const char *ts, const T_DIMSE_C_StoreRQ *req)
{
	hc.reset(xfer_of(ts));
	hc.on_header = [&hc, &early, ts, req](size_t len) {
		early.start(hc.data(), len, ts, req);
	};
}

/* After it: the status, from the early store if it started (waited for
 * even when receiving failed), else decided now from the bytes kept, once
 * they have all arrived (received); 0 when they have not. */
static uint16_t receive_end(HeaderConsumer &hc, EarlyStore &early,
                            bool received, const char *ts,
                            const T_DIMSE_C_StoreRQ *req, dcm_store_fn fn,
                            void *ctx)
{
	hc.on_header = nullptr;
	if (early.started())
		return early.wait();
	if (!received)
		return 0;
	return decide(hc.data(), hc.length(), hc.cut(), hc.total(), ts, req,
	              fn, ctx);
}

/* The C-STORE response to req with status st (PS3.7 9.3.1.2). */
static T_DIMSE_C_StoreRSP store_response(const T_DIMSE_C_StoreRQ *req,
                                         uint16_t st)
{
	T_DIMSE_C_StoreRSP rsp;

	memset(&rsp, 0, sizeof rsp);
	rsp.DimseStatus = st;
	rsp.MessageIDBeingRespondedTo = req->MessageID;
	rsp.DataSetType = DIMSE_DATASET_NULL;
	OFStandard::strlcpy(rsp.AffectedSOPClassUID, req->AffectedSOPClassUID,
	                    sizeof rsp.AffectedSOPClassUID);
	OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, req->AffectedSOPInstanceUID,
	                    sizeof rsp.AffectedSOPInstanceUID);
	rsp.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
	return rsp;
}

/* Receives one C-STORE data set, lets fn decide (early, from its header,
 * when it can), answers. */
static int serve_store(struct dcm_assoc *a, T_ASC_PresentationContextID pid,
                       T_DIMSE_C_StoreRQ *req, HeaderConsumer &hc,
                       EarlyStore &early, dcm_store_fn fn, void *ctx,
                       struct dcm_assoc_stats *stats, char **errmsg)
{
	T_ASC_PresentationContext pc;
	T_DIMSE_C_StoreRSP rsp;
	OFCondition c;

	if (ASC_findAcceptedPresentationContext(a->assoc->params, pid, &pc).bad()) {
		errmsg_set(errmsg, "c-store on unknown presentation context %d", pid);
		return -EPROTO;
	}
	receive_begin(hc, early, pc.acceptedTransferSyntax, req);
	{
		HeaderStream hs(&hc);
		c = DIMSE_receiveDataSetInFile(a->assoc, DIMSE_NONBLOCKING,
		                               a->net->dimse_timeout_s, &pid, &hs,
		                               NULL, NULL);
	}
	rsp = store_response(req, receive_end(hc, early, c.good(),
	                                      pc.acceptedTransferSyntax, req, fn,
	                                      ctx));
	if (c.bad()) {
		errmsg_set(errmsg, "receiving data set of '%s': %s",
		        req->AffectedSOPInstanceUID, c.text());
		return c == DIMSE_NODATAAVAILABLE ? -ETIMEDOUT : -EPROTO;
	}
	stats->stores++;
	stats->bytes += hc.total();
	if (rsp.DimseStatus != DCM_STATUS_SUCCESS)
		stats->failures++;
	c = DIMSE_sendStoreResponse(a->assoc, pid, req, &rsp, NULL);
	if (c.bad()) {
		errmsg_set(errmsg, "sending c-store response: %s", c.text());
		return -EPROTO;
	}
	return 0;
}

extern "C" int dcm_assoc_serve(struct dcm_assoc *a, dcm_store_fn fn, void *ctx,
                               const volatile bool *stop,
                               struct dcm_assoc_stats *stats, char **errmsg)
{
	struct timespec last, now;
	int r;

	memset(stats, 0, sizeof *stats);
	clock_gettime(CLOCK_MONOTONIC, &last);
	try {
		HeaderConsumer hc(a->net->max_header);
		EarlyStore early(fn, ctx);

		for (;;) {
			T_ASC_PresentationContextID pid = 0;
			T_DIMSE_Message msg;

			if (stop && *stop) {
				ASC_abortAssociation(a->assoc);
				errmsg_set(errmsg, "aborted: shutting down");
				return -ECONNABORTED;
			}
			/* Wait a second at a time, so a stop request is seen. */
			OFCondition c = DIMSE_receiveCommand(a->assoc, DIMSE_NONBLOCKING,
			                                     1, &pid, &msg, NULL);
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (c == DIMSE_NODATAAVAILABLE) {
				long idle_ms = (now.tv_sec - last.tv_sec) * 1000 +
				               (now.tv_nsec - last.tv_nsec) / 1000000;

				if (idle_ms >= a->net->dimse_timeout_s * 1000L) {
					ASC_abortAssociation(a->assoc);
					errmsg_set(errmsg, "idle for %d s, aborted",
					           a->net->dimse_timeout_s);
					return -ETIMEDOUT;
				}
				continue;
			}
			if (c == DUL_PEERREQUESTEDRELEASE) {
				ASC_acknowledgeRelease(a->assoc);
				return 0;
			}
			if (c == DUL_PEERABORTEDASSOCIATION) {
				errmsg_set(errmsg, "peer aborted the association");
				return -ECONNABORTED;
			}
			if (c.bad()) {
				errmsg_set(errmsg, "receiving command: %s", c.text());
				ASC_abortAssociation(a->assoc);
				return -EPROTO;
			}
			switch (msg.CommandField) {
			case DIMSE_C_ECHO_RQ:
				stats->echoes++;
				c = DIMSE_sendEchoResponse(a->assoc, pid, &msg.msg.CEchoRQ,
				                           STATUS_Success, NULL);
				if (c.bad()) {
					errmsg_set(errmsg, "sending c-echo response: %s", c.text());
					ASC_abortAssociation(a->assoc);
					return -EPROTO;
				}
				break;
			case DIMSE_C_STORE_RQ:
				r = serve_store(a, pid, &msg.msg.CStoreRQ, hc, early, fn,
				                ctx, stats, errmsg);
				if (r < 0) {
					ASC_abortAssociation(a->assoc);
					return r;
				}
				break;
			default:
				errmsg_set(errmsg, "unsupported dimse command 0x%04x",
				        (unsigned)msg.CommandField);
				ASC_abortAssociation(a->assoc);
				return -EPROTO;
			}
			clock_gettime(CLOCK_MONOTONIC, &last);
		}
	} catch (const std::bad_alloc &) {
		errmsg_set(errmsg, "out of memory serving association");
	} catch (...) {
		errmsg_set(errmsg, "unexpected error serving association");
	}
	try {
		ASC_abortAssociation(a->assoc);
	} catch (...) {
	}
	return -EIO;
}

extern "C" int dcm_receive_buffer(const void *buf, size_t len,
                                  const char *ts_uid, size_t max_header_bytes,
                                  const size_t *pieces, size_t npieces,
                                  dcm_store_fn fn, void *ctx, char **errmsg)
{
	try {
		const unsigned char *b = (const unsigned char *)buf;
		T_DIMSE_C_StoreRQ req;
		size_t off = 0, i = 0;

		quiet_toolkit();
		memset(&req, 0, sizeof req);
		HeaderConsumer hc(max_header_bytes);
		EarlyStore early(fn, ctx);
		receive_begin(hc, early, ts_uid, &req);
		while (off < len) {
			size_t n = npieces ? pieces[i++ % npieces] : len;
			n = n < 1 ? 1 : n < len - off ? n : len - off;
			hc.write(b + off, (offile_off_t)n);
			off += n;
		}
		return receive_end(hc, early, true, ts_uid, &req, fn, ctx);
	} catch (const std::bad_alloc &) {
		errmsg_set(errmsg, "out of memory receiving data set");
		return -ENOMEM;
	} catch (...) {
		errmsg_set(errmsg, "unexpected error receiving data set");
		return -EIO;
	}
}

extern "C" void dcm_assoc_free(struct dcm_assoc *a)
{
	if (!a)
		return;
	try {
		if (a->assoc) {
			ASC_dropSCPAssociation(a->assoc);
			ASC_destroyAssociation(&a->assoc);
		}
	} catch (...) {
	}
	shutdown(a->fd, SHUT_RDWR);
	close(a->fd);
	delete a;
}

/* ---- query/retrieve SCU ------------------------------------------------- */

struct dcm_scu {
	T_ASC_Network *net;
	T_ASC_Association *assoc;
	T_ASC_PresentationContextID find_id, get_id, move_id;
	int dimse_timeout_s;
	size_t max_header;
	bool failed;                 /* aborted: no release at close           */
	DIC_US next_id;              /* message ID of the next request         */
};

/* What a C-GET may bring back: the CT image classes, the secondary
 * captures some CT series are made of, and the study's X-Ray Radiation
 * Dose SR (PS3.4 B.5). */
static const char *const scu_storage_classes[] = {
	UID_CTImageStorage,
	UID_EnhancedCTImageStorage,
	UID_LegacyConvertedEnhancedCTImageStorage,
	UID_SecondaryCaptureImageStorage,
	UID_XRayRadiationDoseSRStorage,          /* the study's dose report */
	UID_EnhancedXRayRadiationDoseSRStorage,
};

/* Transfer syntaxes we take a retrieved object in (not const: the
 * toolkit's prototype wants char **): we read its header
 * only, so any encoding whose header is readable will do (PS3.5 A.4). */
static const char *scu_storage_ts[] = {
	UID_LittleEndianExplicitTransferSyntax,
	UID_LittleEndianImplicitTransferSyntax,
	UID_JPEGProcess14SV1TransferSyntax,
	UID_JPEG2000LosslessOnlyTransferSyntax,
	UID_JPEG2000TransferSyntax,
	UID_JPEGProcess1TransferSyntax,
	UID_RLELosslessTransferSyntax,
	UID_DeflatedExplicitVRLittleEndianTransferSyntax,
};

static const char *scu_qr_ts[] = {
	UID_LittleEndianExplicitTransferSyntax,
	UID_LittleEndianImplicitTransferSyntax,
};

/* The last line of a toolkit condition (its innermost cause). */
static std::string cause_of(const OFCondition &c)
{
	std::string t = c.text();
	size_t nl = t.find_last_of('\n');

	if (nl != std::string::npos)
		t = t.substr(nl + 1);
	for (char &ch : t)
		ch = (char)tolower((unsigned char)ch);
	return t;
}

static int connect_errno(const std::string &cause)
{
	if (cause.find("refused") != std::string::npos)
		return -ECONNREFUSED;
	if (cause.find("timed out") != std::string::npos ||
	    cause.find("timeout") != std::string::npos)
		return -ETIMEDOUT;
	return -EHOSTUNREACH;
}

/* The reason of an A-ASSOCIATE-RJ, in words (PS3.8 9.3.4). */
static const char *reject_reason(const T_ASC_RejectParameters &rej)
{
	switch (rej.reason) {
	case ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED:
		return "calling ae title not recognized";
	case ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED:
		return "called ae title not recognized";
	case ASC_REASON_SU_APPCONTEXTNAMENOTSUPPORTED:
		return "application context not supported";
	case ASC_REASON_SP_PRES_TEMPORARYCONGESTION:
		return "temporary congestion";
	case ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED:
		return "local limit exceeded";
	case ASC_REASON_SP_ACSE_PROTOCOLVERSIONNOTSUPPORTED:
		return "protocol version not supported";
	default:
		return rej.result == ASC_RESULT_REJECTEDTRANSIENT
		       ? "rejected (transient), no reason given"
		       : "rejected, no reason given";
	}
}

static OFCondition scu_add_contexts(T_ASC_Parameters *p,
                                    const struct dcm_scu_config *cfg)
{
	T_ASC_PresentationContextID id = 1;
	OFCondition c = ASC_addPresentationContext(p, id,
	        UID_FINDStudyRootQueryRetrieveInformationModel, scu_qr_ts, 2);

	if (c.good() && cfg->get) {
		id += 2;
		c = ASC_addPresentationContext(p, id,
		        UID_GETStudyRootQueryRetrieveInformationModel, scu_qr_ts, 2);
		for (const char *cls : scu_storage_classes) {
			id += 2;
			if (c.good())
				c = ASC_addPresentationContext(p, id, cls, scu_storage_ts,
				        (int)(sizeof scu_storage_ts / sizeof *scu_storage_ts),
				        ASC_SC_ROLE_SCP);
		}
	}
	if (c.good() && cfg->move) {
		id += 2;
		c = ASC_addPresentationContext(p, id,
		        UID_MOVEStudyRootQueryRetrieveInformationModel, scu_qr_ts, 2);
	}
	return c;
}

extern "C" int dcm_scu_open(const struct dcm_scu_config *cfg,
                            struct dcm_scu **out, char **errmsg)
{
	struct dcm_scu *s = NULL;
	T_ASC_Parameters *params = NULL;
	char peer[300];
	int r = -EIO;

	*out = NULL;
	try {
		quiet_toolkit();
		s = new struct dcm_scu();
		s->dimse_timeout_s = cfg->dimse_timeout_s;
		s->max_header = cfg->max_header_bytes;
		s->next_id = 1;
		dcmConnectionTimeout.set(cfg->connect_timeout_s);
		dcmSocketSendTimeout.set(cfg->dimse_timeout_s);
		dcmSocketReceiveTimeout.set(cfg->dimse_timeout_s);
		OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0,
		                                      cfg->connect_timeout_s, &s->net);
		if (c.bad()) {
			errmsg_set(errmsg, "cannot initialise the network: %s",
			           cause_of(c).c_str());
			goto fail;
		}
		c = ASC_createAssociationParameters(&params, (long)cfg->max_pdu_bytes);
		if (c.bad()) {
			errmsg_set(errmsg, "%s", cause_of(c).c_str());
			goto fail;
		}
		ASC_setAPTitles(params, cfg->calling_aet, cfg->called_aet, NULL);
		snprintf(peer, sizeof peer, "%s:%u", cfg->host, cfg->port);
		ASC_setPresentationAddresses(params, "localhost", peer);
		c = scu_add_contexts(params, cfg);
		if (c.bad()) {
			errmsg_set(errmsg, "%s", cause_of(c).c_str());
			ASC_destroyAssociationParameters(&params);
			goto fail;
		}
		/* From here the association owns params. */
		c = ASC_requestAssociation(s->net, params, &s->assoc);
		if (c == DUL_ASSOCIATIONREJECTED) {
			T_ASC_RejectParameters rej;

			ASC_getRejectParameters(params, &rej);
			errmsg_set(errmsg, "%s", reject_reason(rej));
			r = -EACCES;
			goto fail;
		}
		if (c.bad()) {
			std::string cause = cause_of(c);

			r = connect_errno(cause);
			if (r == -ETIMEDOUT)
				errmsg_set(errmsg, "no answer within %d s (%s)",
				           cfg->connect_timeout_s, cause.c_str());
			else
				errmsg_set(errmsg, "%s", cause.c_str());
			goto fail;
		}
		s->find_id = ASC_findAcceptedPresentationContextID(s->assoc,
		        UID_FINDStudyRootQueryRetrieveInformationModel);
		if (cfg->get)
			s->get_id = ASC_findAcceptedPresentationContextID(s->assoc,
			        UID_GETStudyRootQueryRetrieveInformationModel);
		if (cfg->move)
			s->move_id = ASC_findAcceptedPresentationContextID(s->assoc,
			        UID_MOVEStudyRootQueryRetrieveInformationModel);
		if (!s->find_id || (cfg->get && !s->get_id) ||
		    (cfg->move && !s->move_id)) {
			errmsg_set(errmsg, "study root %s not accepted",
			           !s->find_id ? "c-find" : !s->move_id && cfg->move
			           ? "c-move" : "c-get");
			r = -EPROTONOSUPPORT;
			s->failed = true;
			ASC_abortAssociation(s->assoc);
			goto fail;
		}
		*out = s;
		return 0;
	} catch (const std::bad_alloc &) {
		errmsg_set(errmsg, "out of memory");
		r = -ENOMEM;
	} catch (...) {
		errmsg_set(errmsg, "unexpected error opening the association");
		r = -EIO;
	}
fail:
	if (s) {
		s->failed = true;
		dcm_scu_close(s);
	}
	return r;
}

extern "C" void dcm_scu_close(struct dcm_scu *s)
{
	if (!s)
		return;
	try {
		if (s->assoc) {
			if (s->failed)
				ASC_abortAssociation(s->assoc);
			else if (ASC_releaseAssociation(s->assoc).bad())
				ASC_abortAssociation(s->assoc);
			ASC_destroyAssociation(&s->assoc);
		}
		ASC_dropNetwork(&s->net);
	} catch (...) {
	}
	delete s;
}

/* A failed exchange: the association is of no further use. */
static int scu_broken(struct dcm_scu *s, const OFCondition &c, const char *what,
                      char **errmsg)
{
	s->failed = true;
	if (c == DIMSE_NODATAAVAILABLE) {
		errmsg_set(errmsg, "no %s response within %d s", what,
		           s->dimse_timeout_s);
		ASC_abortAssociation(s->assoc);
		return -ETIMEDOUT;
	}
	if (c == DUL_PEERABORTEDASSOCIATION)
		errmsg_set(errmsg, "the pacs aborted the association during %s", what);
	else
		errmsg_set(errmsg, "%s: %s", what, cause_of(c).c_str());
	ASC_abortAssociation(s->assoc);
	return -EPROTO;
}

static void scu_comment(DcmDataset *detail, struct dcm_qr_result *res)
{
	const char *v = NULL;

	if (detail && detail->findAndGetString(DCM_ErrorComment, v).good() && v)
		snprintf(res->comment, sizeof res->comment, "%s", v);
	delete detail;
}

/* The fields every C-FIND, C-GET and C-MOVE request shares (PS3.7 C.4). */
template <typename RQ>
static void qr_request(struct dcm_scu *s, RQ &req, const char *sop_class)
{
	memset(&req, 0, sizeof req);
	req.MessageID = s->next_id++;
	OFStandard::strlcpy(req.AffectedSOPClassUID, sop_class,
	                    sizeof req.AffectedSOPClassUID);
	req.Priority = DIMSE_PRIORITY_MEDIUM;
	req.DataSetType = DIMSE_DATASET_PRESENT;
}

/* Status and sub-operation counts of a C-GET or C-MOVE response: the same
 * fields (PS3.7 C.4.2.1.6), each with its own flag. */
template <typename RSP>
static void sub_op_counts(const RSP &rsp, unsigned completed, unsigned failed,
                          unsigned warning, struct dcm_qr_result *res)
{
	res->status = rsp.DimseStatus;
	if (rsp.opts & completed)
		res->completed = rsp.NumberOfCompletedSubOperations;
	if (rsp.opts & failed)
		res->failed = rsp.NumberOfFailedSubOperations;
	if (rsp.opts & warning)
		res->warning = rsp.NumberOfWarningSubOperations;
}

static const char *const qr_levels[] = {"STUDY", "SERIES", "IMAGE"};

struct find_ctx {
	dcm_find_fn fn;
	void *ctx;
	int r;
	struct dcm_qr_result *res;
};

static void find_callback(void *data, T_DIMSE_C_FindRQ *, int,
                          T_DIMSE_C_FindRSP *, DcmDataset *ids)
{
	struct find_ctx *f = (struct find_ctx *)data;

	f->res->responses++;
	if (f->r || !ids)
		return;
	try {
		struct dcm_header h = {ids};

		to_utf8(ids);
		f->r = f->fn(f->ctx, &h);
	} catch (...) {
		f->r = -ENOMEM;
	}
}

extern "C" int dcm_scu_find(struct dcm_scu *s, enum dcm_qr_level level,
                            const struct dcm_qr_key *keys, size_t nkeys,
                            dcm_find_fn fn, void *ctx,
                            struct dcm_qr_result *res, char **errmsg)
{
	memset(res, 0, sizeof *res);
	if (s->failed) {
		errmsg_set(errmsg, "association already aborted");
		return -EPROTO;
	}
	try {
		DcmDataset q;
		T_DIMSE_C_FindRQ req;
		T_DIMSE_C_FindRSP rsp;
		DcmDataset *detail = NULL;
		struct find_ctx f = {fn, ctx, 0, res};
		int count = 0;

		q.putAndInsertString(DCM_QueryRetrieveLevel, qr_levels[level]);
		for (size_t i = 0; i < nkeys; i++)
			q.putAndInsertString(DcmTagKey((Uint16)(keys[i].tag >> 16),
			                               (Uint16)(keys[i].tag & 0xffff)),
			                     keys[i].value);
		qr_request(s, req, UID_FINDStudyRootQueryRetrieveInformationModel);
		memset(&rsp, 0, sizeof rsp);
		OFCondition c = DIMSE_findUser(s->assoc, s->find_id, &req, &q, count,
		                               find_callback, &f, DIMSE_NONBLOCKING,
		                               s->dimse_timeout_s, &rsp, &detail);
		if (c.bad()) {
			delete detail;
			return scu_broken(s, c, "c-find", errmsg);
		}
		res->status = rsp.DimseStatus;
		scu_comment(detail, res);
		return f.r;
	} catch (const std::bad_alloc &) {
		errmsg_set(errmsg, "out of memory");
		return -ENOMEM;
	} catch (...) {
		errmsg_set(errmsg, "unexpected error in c-find");
		return -EIO;
	}
}

/* The identifier of one instance, for C-GET and C-MOVE. */
static void image_keys(DcmDataset &q, const char *study, const char *series,
                       const char *sop)
{
	q.putAndInsertString(DCM_QueryRetrieveLevel, "IMAGE");
	q.putAndInsertString(DCM_StudyInstanceUID, study);
	q.putAndInsertString(DCM_SeriesInstanceUID, series);
	q.putAndInsertString(DCM_SOPInstanceUID, sop);
}

/* One C-STORE sub-operation of a C-GET: received through the same
 * bounded buffer as the daemon's, decided by fn, answered. */
static OFCondition get_store(struct dcm_scu *s, T_ASC_PresentationContextID pid,
                             T_DIMSE_C_StoreRQ *req, HeaderConsumer &hc,
                             dcm_store_fn fn, void *ctx)
{
	T_ASC_PresentationContext pc;
	T_DIMSE_C_StoreRSP rsp;
	OFCondition c;

	c = ASC_findAcceptedPresentationContext(s->assoc->params, pid, &pc);
	if (c.bad())
		return c;
	hc.reset(xfer_of(pc.acceptedTransferSyntax));
	{
		HeaderStream hs(&hc);
		c = DIMSE_receiveDataSetInFile(s->assoc, DIMSE_NONBLOCKING,
		                               s->dimse_timeout_s, &pid, &hs,
		                               NULL, NULL);
	}
	if (c.bad())
		return c;
	rsp = store_response(req, decide(hc.data(), hc.length(), hc.cut(),
	                                 hc.total(), pc.acceptedTransferSyntax,
	                                 req, fn, ctx));
	return DIMSE_sendStoreResponse(s->assoc, pid, req, &rsp, NULL);
}

extern "C" int dcm_scu_get(struct dcm_scu *s, const char *study_uid,
                           const char *series_uid, const char *sop_uid,
                           dcm_store_fn fn, void *ctx,
                           struct dcm_qr_result *res, char **errmsg)
{
	memset(res, 0, sizeof *res);
	if (s->failed || !s->get_id) {
		errmsg_set(errmsg, s->failed ? "association already aborted"
		                             : "c-get not negotiated");
		return -EPROTO;
	}
	try {
		DcmDataset q;
		T_DIMSE_Message msg;
		HeaderConsumer hc(s->max_header);

		image_keys(q, study_uid, series_uid, sop_uid);
		memset(&msg, 0, sizeof msg);
		msg.CommandField = DIMSE_C_GET_RQ;
		qr_request(s, msg.msg.CGetRQ,
		           UID_GETStudyRootQueryRetrieveInformationModel);
		OFCondition c = DIMSE_sendMessageUsingMemoryData(s->assoc, s->get_id,
		                                                 &msg, NULL, &q, NULL,
		                                                 NULL);
		if (c.bad())
			return scu_broken(s, c, "c-get", errmsg);
		for (;;) {
			T_ASC_PresentationContextID pid = 0;
			T_DIMSE_Message in;
			DcmDataset *detail = NULL;

			c = DIMSE_receiveCommand(s->assoc, DIMSE_NONBLOCKING,
			                         s->dimse_timeout_s, &pid, &in, &detail);
			if (c.bad()) {
				delete detail;
				return scu_broken(s, c, "c-get", errmsg);
			}
			if (in.CommandField == DIMSE_C_STORE_RQ) {
				delete detail;
				c = get_store(s, pid, &in.msg.CStoreRQ, hc, fn, ctx);
				if (c.bad())
					return scu_broken(s, c, "c-get", errmsg);
				continue;
			}
			if (in.CommandField != DIMSE_C_GET_RSP) {
				delete detail;
				s->failed = true;
				ASC_abortAssociation(s->assoc);
				errmsg_set(errmsg, "unexpected dimse command 0x%04x during c-get",
				           (unsigned)in.CommandField);
				return -EPROTO;
			}
			T_DIMSE_C_GetRSP &rsp = in.msg.CGetRSP;
			if (rsp.DataSetType != DIMSE_DATASET_NULL) {
				DcmDataset *ids = NULL;

				c = DIMSE_receiveDataSetInMemory(s->assoc, DIMSE_NONBLOCKING,
				                                 s->dimse_timeout_s, &pid,
				                                 &ids, NULL, NULL);
				delete ids;
				if (c.bad()) {
					delete detail;
					return scu_broken(s, c, "c-get", errmsg);
				}
			}
			sub_op_counts(rsp, O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS,
			              O_GET_NUMBEROFFAILEDSUBOPERATIONS,
			              O_GET_NUMBEROFWARNINGSUBOPERATIONS, res);
			if (DICOM_PENDING_STATUS(rsp.DimseStatus)) {
				res->responses++;
				delete detail;
				continue;
			}
			scu_comment(detail, res);
			return 0;
		}
	} catch (const std::bad_alloc &) {
		errmsg_set(errmsg, "out of memory");
		return -ENOMEM;
	} catch (...) {
		errmsg_set(errmsg, "unexpected error in c-get");
		return -EIO;
	}
}

static void move_callback(void *data, T_DIMSE_C_MoveRQ *, int,
                          T_DIMSE_C_MoveRSP *)
{
	((struct dcm_qr_result *)data)->responses++;
}

extern "C" int dcm_scu_move(struct dcm_scu *s, const char *destination,
                            const char *study_uid, const char *series_uid,
                            const char *sop_uid, struct dcm_qr_result *res,
                            char **errmsg)
{
	memset(res, 0, sizeof *res);
	if (s->failed || !s->move_id) {
		errmsg_set(errmsg, s->failed ? "association already aborted"
		                             : "c-move not negotiated");
		return -EPROTO;
	}
	try {
		DcmDataset q;
		T_DIMSE_C_MoveRQ req;
		T_DIMSE_C_MoveRSP rsp;
		DcmDataset *detail = NULL, *ids = NULL;

		image_keys(q, study_uid, series_uid, sop_uid);
		qr_request(s, req, UID_MOVEStudyRootQueryRetrieveInformationModel);
		memset(&rsp, 0, sizeof rsp);
		OFStandard::strlcpy(req.MoveDestination, destination,
		                    sizeof req.MoveDestination);
		OFCondition c = DIMSE_moveUser(s->assoc, s->move_id, &req, &q,
		                               move_callback, res, DIMSE_NONBLOCKING,
		                               s->dimse_timeout_s, s->net, NULL, NULL,
		                               &rsp, &detail, &ids, OFTrue);
		delete ids;
		if (c.bad()) {
			delete detail;
			return scu_broken(s, c, "c-move", errmsg);
		}
		sub_op_counts(rsp, O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS,
		              O_MOVE_NUMBEROFFAILEDSUBOPERATIONS,
		              O_MOVE_NUMBEROFWARNINGSUBOPERATIONS, res);
		scu_comment(detail, res);
		return 0;
	} catch (const std::bad_alloc &) {
		errmsg_set(errmsg, "out of memory");
		return -ENOMEM;
	} catch (...) {
		errmsg_set(errmsg, "unexpected error in c-move");
		return -EIO;
	}
}
