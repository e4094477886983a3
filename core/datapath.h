/* Packet-path helpers shared by the datapath, client and server. */
#ifndef TTT_DATAPATH_H
#define TTT_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "base/err.h"
#include "wire/wire.h"
#include "link/addr.h"
#include "link/mss.h"
#include "link/txbatch.h"

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
	union {
		char buf[CMSG_SPACE(sizeof(int))]; /* UDP_GRO segment size */
		struct cmsghdr align;
	} cmsg[RX_BATCH];
	uint32_t buf_size; /* per slot: 64 KiB with UDP GRO (tunio.c) */
	uint8_t *buf;	   /* RX_BATCH * buf_size bytes */
};

/*
 * Transmit batch: the packets one tun wakeup read, each sealed in its own
 * slot, queued per path in send order and sent with one sendmmsg per path
 * (runs of equal-sized datagrams as one UDP GSO message). All slots belong to
 * one session; the batch is empty again when datapath_tun_cb returns.
 */
#define TX_BATCH 64
#define TX_NONE	 0xffff

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

int datapath_init(struct daemon *d, struct err *e);
void datapath_free(struct daemon *d);

#endif
