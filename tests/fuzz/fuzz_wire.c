/*
 * libFuzzer harness over every wire parser, compiled from the shipping
 * sources (like wireguard-tools' fuzzers): header, open in all three modes,
 * DATA sub-header, HELLO / HELLO_ACK, probes, feedback, NACK / RETX and the
 * flow hash. Besides "no crash, no out-of-bounds read", it checks round-trip
 * properties that would catch a decoder accepting something its encoder cannot
 * produce.
 *
 * Built by `make fuzz` (scripts/fuzz.sh) against the instrumented core/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t psk[WIRE_KEY_LEN] = {0x42, 0x13, 0x37};

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_hdr(const uint8_t *data, size_t size)
{
	struct wire_hdr h;
	uint8_t again[WIRE_HDR_LEN];

	if (wire_hdr_decode(data, size, &h) != 0)
		return;
	wire_hdr_encode(again, &h);
	fuzz_check(memcmp(again, data, WIRE_HDR_LEN) == 0);
}

/* Opening garbage must fail cleanly; with the none mode it must hand back
 * exactly the bytes after the header. */
static void fuzz_open(const uint8_t *data, size_t size)
{
	uint8_t cr[WIRE_RANDOM_LEN] = {1}, sr[WIRE_RANDOM_LEN] = {2};
	struct wire_keys k;
	struct wire_hdr h;
	uint8_t *buf, *body;
	size_t blen;

	if (wire_hdr_decode(data, size, &h) != 0)
		return;
	buf = malloc(size);
	if (!buf)
		return;
	for (int mode = CRYPTO_ENCRYPT; mode <= CRYPTO_NONE; mode++) {
		memcpy(buf, data, size);
		wire_derive_keys(&k, mode, psk, cr, sr, 7, 0);
		if (wire_open(&k, buf, size, &h, &body, &blen) != 0)
			continue;
		fuzz_check(body == buf + WIRE_HDR_LEN);
		fuzz_check(blen <= size - WIRE_HDR_LEN);
		if (mode == CRYPTO_NONE)
			fuzz_check(blen == size - WIRE_HDR_LEN &&
				   !(h.flags & WF_ENCRYPTED));
	}
	free(buf);
}

static void fuzz_hello(const uint8_t *data, size_t size)
{
	struct wire_hello m;
	struct wire_hello_ack a;
	uint8_t again[WIRE_HELLO_LEN], cookie[WIRE_COOKIE_LEN];
	const uint8_t(*keys)[WIRE_KEY_LEN] =
	    (const uint8_t(*)[WIRE_KEY_LEN])psk;

	(void)wire_hello_check(data, size);
	(void)wire_hello_identify(data, size, keys, 1);
	if (size >= WIRE_HELLO_MAC_LEN)
		(void)wire_cookie_parse(data, size, data, cookie);
	if (wire_hello_parse(data, size, psk, &m) == 0) {
		fuzz_check(memchr(m.downstream, 0, sizeof(m.downstream)) !=
			   NULL);
		fuzz_check(wire_hello_identify(data, size, keys, 1) == 0);
		wire_hello_build(again, psk, &m, NULL, NULL);
		fuzz_check(wire_hello_parse(again, sizeof(again), psk, &m) ==
			   0);
	}
	if (wire_hello_ack_parse(data, size, psk, &a) == 0)
		fuzz_check(size == WIRE_HELLO_ACK_LEN);
}

/* The fuzzer cannot forge a MAC, so also feed it valid messages whose
 * fields come from the input, then parse them back. */
static void fuzz_hello_build(const uint8_t *data, size_t size)
{
	struct wire_hello m, o;
	uint8_t buf[WIRE_HELLO_LEN];

	if (size < sizeof(m))
		return;
	memcpy(&m, data, sizeof(m));
	wire_hello_build(buf, psk, &m, NULL, NULL);
	if (wire_hello_parse(buf, sizeof(buf), psk, &o) == 0) {
		fuzz_check(o.timestamp_ns == m.timestamp_ns);
		fuzz_check(memcmp(o.client_eph, m.client_eph, WIRE_PUB_LEN) ==
			   0);
		fuzz_check(strlen(o.downstream) < WIRE_SCHED_NAME_MAX);
	} else {
		/* Version 2 derives the key id itself: whatever the fields,
		 * a HELLO built with psk parses with psk. */
		fuzz_check(0);
	}
}

static void fuzz_probe(const uint8_t *data, size_t size)
{
	struct wire_probe p;
	struct wire_probe_reply r;
	struct wire_data d;
	uint8_t *again;

	if (wire_probe_decode(data, size, &p) == 0) {
		fuzz_check(p.pad_to == size && size >= WIRE_PROBE_LEN);
		again = malloc(size);
		if (again) {
			fuzz_check(wire_probe_encode(again, size, &p) == size);
			fuzz_check(memcmp(again, data, 20) == 0);
			free(again);
		}
	}
	if (wire_probe_reply_decode(data, size, &r) == 0)
		fuzz_check(size == WIRE_PROBE_REPLY_LEN);
	if (wire_data_decode(data, size, &d) == 0)
		fuzz_check(d.bucket < WIRE_BUCKETS);
}

/* Feedback: a report that parses re-encodes to exactly the same bytes. */
static void fuzz_feedback(const uint8_t *data, size_t size)
{
	struct wire_feedback f;
	uint8_t again[WIRE_FB_HDR_LEN + WIRE_FB_MAX_LINKS * WIRE_FB_LINK_LEN];

	if (wire_feedback_decode(data, size, &f) != 0)
		return;
	fuzz_check(f.n_links >= 1 && f.n_links <= WIRE_FB_MAX_LINKS);
	fuzz_check(wire_feedback_encode(again, sizeof(again), &f) == size);
	fuzz_check(memcmp(again, data, size) == 0);
}

/* NACK: what parses re-encodes to the same bytes; a RETX sub-header that
 * parses points at an older seq. */
static void fuzz_nack(const uint8_t *data, size_t size)
{
	struct wire_nack n;
	struct wire_retx r;
	uint8_t
	    again[WIRE_NACK_HDR_LEN + WIRE_NACK_MAX_RUNS * WIRE_NACK_RUN_LEN];

	if (wire_retx_decode(data, size, &r) == 0)
		fuzz_check(r.back >= 1 && size >= WIRE_DATA_HDR_LEN);
	if (wire_nack_decode(data, size, &n) != 0)
		return;
	fuzz_check(n.n_runs >= 1 && n.n_runs <= WIRE_NACK_MAX_RUNS);
	for (uint32_t i = 0; i < n.n_runs; i++)
		fuzz_check(n.runs[i].count >= 1 &&
			   n.runs[i].count <= WIRE_NACK_MAX_COUNT);
	fuzz_check(wire_nack_encode(again, sizeof(again), &n) == size);
	fuzz_check(memcmp(again, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	switch (sel % 7) {
	case 0:
		fuzz_hdr(data, size);
		break;
	case 1:
		fuzz_open(data, size);
		break;
	case 2:
		fuzz_hello(data, size);
		break;
	case 3:
		fuzz_hello_build(data, size);
		break;
	case 4:
		fuzz_probe(data, size);
		break;
	case 5:
		/* the receiver's two reports share a selector, so the
		 * seeds' selectors keep their meaning */
		fuzz_feedback(data, size);
		fuzz_nack(data, size);
		break;
	default:
		(void)wire_flow_hash(data, size);
		break;
	}
	return 0;
}
