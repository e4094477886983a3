/* Packet-path helpers shared by the datapath, client and server. */
#ifndef TTT_DATAPATH_H
#define TTT_DATAPATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

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
