/* Packet-path helpers shared by the datapath, client and server. */
#ifndef TTT_DATAPATH_H
#define TTT_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "err.h"
#include "wire.h"

#define RX_BATCH 32
/* A flow-bucket predecessor further back than this is not waited for. */
#define DATAPATH_MAX_GAP (1u << 20)

struct daemon;
struct session;
struct path;

/* Preallocated recvmmsg batch. */
struct rxbatch {
	struct mmsghdr msg[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage from[RX_BATCH];
	uint8_t *buf; /* RX_BATCH * buf_size bytes */
};

/*
 * Transmit batch: the packets one tun wakeup read, each sealed in its own
 * slot, queued per path in send order and sent with one sendmmsg per path
 * (runs of equal-sized datagrams as one UDP GSO message). All slots belong to
 * one session; the batch is empty again when datapath_tun_cb returns.
 */
#define TX_BATCH 64
/* UDP GSO limits: UDP_MAX_SEGMENTS of older kernels, and a total that stays
 * under the 64 KiB IP datagram with headers. */
#define TX_GSO_SEGS  64
#define TX_GSO_BYTES 65000
#define TX_NONE	     0xffff

struct txslot {
	uint8_t *buf;	 /* buf_size bytes: header, data header, inner, tag */
	uint32_t len;	 /* sealed datagram length */
	uint16_t path;	 /* index in the session's paths */
	uint16_t next;	 /* next slot queued on the same path, or TX_NONE */
	uint16_t bucket; /* flow bucket */
	bool sent;
	uint64_t seq;
	uint64_t prev; /* bucket_last before this packet was queued */
};

struct txbatch {
	struct session *sess; /* owner of the queued slots (NULL: empty) */
	uint32_t n;	      /* slots queued */
	uint16_t head[CFG_MAX_LINKS], tail[CFG_MAX_LINKS];
	bool gso; /* UDP GSO usable; cleared for good on a refusal */
	struct txslot slot[TX_BATCH];
	/* scratch for one path's sends */
	uint32_t lens[TX_BATCH];
	uint16_t order[TX_BATCH];
	uint16_t count[TX_BATCH];
	struct mmsghdr msg[TX_BATCH];
	struct iovec iov[TX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cmsg[TX_BATCH];
	uint8_t *mem; /* TX_BATCH * buf_size bytes behind the slots */
};

/* txbatch.c: cuts n datagram lengths (one path, send order) into sends of
 * at most max_segs datagrams and max_bytes bytes, each a run of equal
 * lengths optionally ended by one shorter datagram, i.e. what one UDP GSO
 * message can carry. Writes the datagram count of each send to count[]
 * (room for n) and returns the number of sends. */
uint32_t txbatch_group(const uint32_t *len, uint32_t n, uint32_t max_segs,
		       uint32_t max_bytes, uint16_t *count);

int datapath_init(struct daemon *d, struct err *e);
void datapath_free(struct daemon *d);

/* mss.c: lowers the MSS option of a TCP SYN so that segments fit the tun
 * MTU (IPv4 and IPv6), fixing the checksum incrementally. */
void mss_clamp(uint8_t *pkt, size_t len, uint32_t mtu);

/* addr.c */
const char *sockaddr_str(const struct sockaddr_storage *ss, char *buf,
			 size_t len);
int sockaddr_equal(const struct sockaddr_storage *a,
		   const struct sockaddr_storage *b);

/* peerctl.c: in-session control messages between client and server */
void peerctl_on_message(struct session *s, struct path *p, const uint8_t *body,
			size_t len, uint64_t now);
int peerctl_send_link_info(struct session *s, uint64_t now);

#endif
