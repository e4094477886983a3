/*
 * Cost of sealing and opening one 1400-byte DATA packet in each crypto
 * mode, so the price of `crypto: encrypt` versus `auth` and `none` is a
 * number, not a guess. Speed is measured here, never asserted in tests.
 * A hot loop: it flatters code with a long call path, which the daemon
 * runs cold between packets (docs/architecture.md, "The cost per byte").
 * Prints: "wire seal encrypt 1400B: 812 ns (13.8 Gbit/s)".
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "link/csum.h"
#include "wire/wire.h"

#define BENCH_BODY  1400
#define BENCH_ITERS 200000

static uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bench_report(const char *op, const char *mode, uint64_t ns,
			 unsigned iters)
{
	double per = (double)ns / iters;

	printf("wire %s %s %dB: %.0f ns (%.1f Gbit/s)\n", op, mode, BENCH_BODY,
	       per, BENCH_BODY * 8.0 / per);
}

/*
 * Seals BENCH_ITERS packets with increasing seq. Opening decrypts in place,
 * so a packet opens only once: batches of BENCH_BATCH distinct packets are
 * sealed untimed, then opened timed. Returns nonzero if anything failed to
 * open: a benchmark of broken crypto is worthless.
 */
#define BENCH_BATCH 512
#define BENCH_PKT   (WIRE_HDR_LEN + BENCH_BODY + WIRE_TAG_LEN)

static uint8_t bench_bufs[BENCH_BATCH][BENCH_PKT];

static int bench_mode(int mode, int cipher, const char *name)
{
	uint8_t cr[WIRE_RANDOM_LEN] = {1}, sr[WIRE_RANDOM_LEN] = {2};
	uint8_t psk[WIRE_KEY_LEN] = {3};
	static size_t lens[BENCH_BATCH];
	struct wire_keys tx, rx;
	struct wire_hdr h = {.version = WIRE_VERSION, .type = WT_DATA};
	uint8_t *body;
	size_t blen;
	uint64_t t0, seal_ns = 0, open_ns = 0, seq = 0;
	unsigned done = 0;

	wire_derive_keys(&tx, mode, psk, cr, sr, 1, 1);
	wire_derive_keys(&rx, mode, psk, cr, sr, 1, 0);
	if (wire_keys_set_cipher(&tx, cipher) ||
	    wire_keys_set_cipher(&rx, cipher))
		return 2; /* no hardware AES: nothing to measure */

	while (done < BENCH_ITERS) {
		for (unsigned i = 0; i < BENCH_BATCH; i++) {
			h.seq = seq + i;
			wire_hdr_encode(bench_bufs[i], &h);
			memset(bench_bufs[i] + WIRE_HDR_LEN, (int)i,
			       BENCH_BODY);
		}
		t0 = bench_now_ns();
		for (unsigned i = 0; i < BENCH_BATCH; i++)
			lens[i] = wire_seal(&tx, bench_bufs[i], BENCH_BODY);
		seal_ns += bench_now_ns() - t0;

		t0 = bench_now_ns();
		for (unsigned i = 0; i < BENCH_BATCH; i++) {
			struct wire_hdr rh;

			if (wire_hdr_decode(bench_bufs[i], lens[i], &rh) != 0 ||
			    wire_open(&rx, bench_bufs[i], lens[i], &rh, &body,
				      &blen) != 0)
				return 1;
		}
		open_ns += bench_now_ns() - t0;
		if (blen != BENCH_BODY || body[0] != (uint8_t)(BENCH_BATCH - 1))
			return 1;
		seq += BENCH_BATCH;
		done += BENCH_BATCH;
	}
	bench_report("seal", name, seal_ns, done);
	bench_report("open", name, open_ns, done);
	return 0;
}

/* The Internet checksum of one 1400-byte segment (link/csum.c): the
 * offload paths pay it once per segment on each side. */
static void bench_csum(void)
{
	static uint8_t b[BENCH_BODY + 64];
	uint64_t t0, s = 0;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)i;
	t0 = bench_now_ns();
	for (unsigned i = 0; i < BENCH_ITERS * 10; i++) {
		s += csum_add(s, b + (i & 7), BENCH_BODY);
		__asm__ volatile("" : "+r"(s));
	}
	double per = (double)(bench_now_ns() - t0) / (BENCH_ITERS * 10);
	printf("csum %dB: %.0f ns (%.1f GB/s)%s\n", BENCH_BODY, per,
	       BENCH_BODY / per, s ? "" : " ");
}

int main(void)
{
	static const struct {
		int mode, cipher;
		const char *name;
	} modes[] = {
	    {CRYPTO_ENCRYPT, WIRE_CIPHER_AES256GCM, "encrypt/aes-256-gcm"},
	    {CRYPTO_ENCRYPT, WIRE_CIPHER_CHACHA20, "encrypt/chacha20"},
	    {CRYPTO_AUTH, WIRE_CIPHER_AES256GCM, "auth/aes-256-gcm"},
	    {CRYPTO_AUTH, WIRE_CIPHER_CHACHA20, "auth/chacha20"},
	    {CRYPTO_NONE, WIRE_CIPHER_CHACHA20, "none"},
	};
	int rc = 0;

	if (wire_init() != 0) {
		fprintf(stderr, "bench_wire: libsodium failed to initialise\n");
		return 1;
	}
	bench_csum();
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int r =
		    bench_mode(modes[i].mode, modes[i].cipher, modes[i].name);
		if (r == 2) {
			printf("wire %s: no hardware AES here\n",
			       modes[i].name);
		} else if (r != 0) {
			fprintf(stderr, "bench_wire: %s round trip failed\n",
				modes[i].name);
			rc = 1;
		}
	}
	return rc;
}
