/*
 * The server's log of HELLOs that failed, per source, so a person sees why
 * a client cannot connect (wrong key, tampered packet, replay) without a
 * flood being able to fill the log: at most one line per source per
 * HELLO_FAILLOG_INTERVAL_NS, carrying the count of each reason since the
 * last line. A fixed table allocated once (like hello_limit.c): a source
 * that does not fit takes the slot of the one heard longest ago. A source
 * is an IPv4 address, or an IPv6 /64 (the port is not part of it: a client
 * retries from several links and ports). The clock is passed in.
 */
#ifndef TTT_HELLO_FAILLOG_H
#define TTT_HELLO_FAILLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HELLO_FAILLOG_SLOTS	  64
#define HELLO_FAILLOG_INTERVAL_NS (10ull * 1000000000ull)

enum hello_fail {
	HF_MALFORMED = 0, /* too short or not a HELLO */
	HF_UNKNOWN_KEY,	  /* key id matches no configured client */
	HF_BAD_MAC,	  /* key id known, MAC does not verify */
	HF_OLD_TIMESTAMP, /* not newer than the last accepted for the key */
	HF_RATE_LIMITED,  /* over the source's HELLO budget */
	HF_NREASONS,
};

struct hello_faillog;

/* One line's worth: counts per reason since the previous line. */
struct hello_fail_report {
	uint64_t count[HF_NREASONS];
	uint64_t total;
	uint64_t since_ns; /* first failure counted in this report */
};

/* NULL when out of memory. */
struct hello_faillog *hello_faillog_new(void);
void hello_faillog_free(struct hello_faillog *fl);

/*
 * Counts one failure of `from` at now_ns. Returns true when a line is due
 * (the source's first failure, or the first after the interval since its
 * last line), with *out holding the counts since that last line, this one
 * included; the counts then start again from zero.
 */
bool hello_faillog_note(struct hello_faillog *fl,
			const struct sockaddr_storage *from,
			enum hello_fail why, uint64_t now_ns,
			struct hello_fail_report *out);

/* "unknown key id", "bad MAC", ... */
const char *hello_fail_name(enum hello_fail why);

/* "unknown key id (3), bad MAC (1)" into buf; returns buf. */
const char *hello_fail_report_str(const struct hello_fail_report *r, char *buf,
				  size_t n);

#endif
