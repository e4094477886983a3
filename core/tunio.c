/*
 * The tun's two ends with offloads (the packet path's first and last
 * stage). Reading: with IFF_VNET_HDR and TUNSETOFFLOAD the kernel hands
 * over TCP/UDP super-packets of up to 64 KiB; tunio_read() gives the
 * datapath one MTU-sized packet per call, cutting a super-packet into its
 * segments (link/gso.c) one call at a time, so scheduling, sealing, the
 * flow buckets and the reorder buffer see exactly the packets they would
 * without offloads (the wire format does not change). Writing: inner
 * packets go through the coalescer (link/gro.c) and consecutive segments
 * of a TCP flow leave in one writev as a super-packet; tunio_flush() ends
 * every batch, so nothing is held when control returns to the event loop.
 * Also here: UDP GRO on the link sockets, so one recvmmsg slot can carry a
 * whole GSO train from the peer.
 *
 * Everything is chosen once at start (tunio_init, tunio_open) and logged;
 * `tun: { offload: off }` or TTT_OFFLOAD=0 forces today's plain path, and
 * any refusal by the kernel falls back to it.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"
#include "daemon.h"
#include "link/gro.h"
#include "link/gso.h"
#include "os/tun.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define TUNIO_WANT                                                             \
	(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 |   \
	 TUN_F_USO6)
/* A super-packet: 64 KiB of IP packet, with room to spare. */
#define TUNIO_MAX_PKT 65600

struct tunio {
	bool want;	     /* offloads allowed (config, environment) */
	const char *why_off; /* what forced them off */
	unsigned flags;	     /* TUN_F_* granted; 0: plain tun */
	bool udp_gro;	     /* UDP_GRO works on this kernel */
	uint8_t vh[VNET_HDR_LEN];
	/* the super-packet being handed out segment by segment */
	struct gso_plan plan;
	uint32_t next;
	uint8_t *big; /* TUNIO_MAX_PKT bytes */
	struct gro gro;
	/* counters */
	uint64_t gso_reads, gso_segs, bad_vnet;
};

static void tun_emit(void *arg, void *owner, const struct iovec *iov,
		     int iovcnt, void *const *cookie, uint32_t nseg)
{
	struct daemon *d = arg;
	struct session *s = owner;
	if (d->tun_fd < 0) /* torn down: nothing to write to */
		;
	else if (writev(d->tun_fd, iov, iovcnt) >= 0)
		d->tun_tx_packets += nseg;
	else
		s->tun_write_errors += nseg;
	for (uint32_t i = 0; i < nseg; i++)
		if (cookie[i])
			session_buf_put(cookie[i]);
}

/* Whether this kernel takes UDP_GRO, tried on a throwaway socket. */
static bool udp_gro_works(void)
{
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	close(fd);
	return ok;
}

int tunio_init(struct daemon *d, struct err *e)
{
	struct tunio *t = calloc(1, sizeof(*t));
	if (!t)
		return err_set(e, -ENOMEM, "out of memory for the tun");
	d->tio = t;
	const char *env = getenv("TTT_OFFLOAD");
	t->want = true;
	if (d->cfg.tun.offload == CFG_OFFLOAD_OFF) {
		t->want = false;
		t->why_off = "tun.offload: off";
	} else if (env && (!strcmp(env, "0") || !strcmp(env, "off"))) {
		t->want = false;
		t->why_off = "TTT_OFFLOAD=0";
	}
	if (t->want) {
		t->big = aligned_alloc(64, TUNIO_MAX_PKT);
		if (!t->big)
			return err_set(e, -ENOMEM, "out of memory for the tun");
		t->udp_gro = udp_gro_works();
	}
	gro_init(&t->gro, tun_emit, d);
	return 0;
}

void tunio_free(struct daemon *d)
{
	if (!d->tio)
		return;
	free(d->tio->big);
	free(d->tio);
	d->tio = NULL;
}

bool tunio_udp_gro(const struct daemon *d)
{
	return d->tio && d->tio->udp_gro;
}

int tunio_open(struct daemon *d, struct err *e)
{
	struct tunio *t = d->tio;
	int fd = tun_open_offload(d->tun_name, t->want ? TUNIO_WANT : 0,
				  &t->flags, e);
	if (fd < 0)
		return fd;
	d->tun_fd = fd;
	if (!t->want) {
		log_info("tun", "offloads off (%s)", t->why_off);
	} else if (!t->flags) {
		log_notice("tun", "offloads off: the kernel refused "
				  "IFF_VNET_HDR/TUNSETOFFLOAD (plain tun)");
	} else {
		log_info("tun", "offloads on:%s%s%s%s%s; UDP GRO %s",
			 t->flags & TUN_F_CSUM ? " csum" : "",
			 t->flags & TUN_F_TSO4 ? " tso4" : "",
			 t->flags & TUN_F_TSO6 ? " tso6" : "",
			 t->flags & TUN_F_TSO_ECN ? " tso-ecn" : "",
			 t->flags & TUN_F_USO4 ? " uso" : "",
			 t->udp_gro ? "on" : "off (not in this kernel)");
	}
	return fd;
}

int tunio_socket_setup(struct daemon *d, int fd)
{
	int one = 1;
	if (!tunio_udp_gro(d))
		return 0;
	if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0) {
		log_debug("datapath", "UDP_GRO: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

bool tunio_pending(const struct daemon *d)
{
	return d->tio && d->tio->next < d->tio->plan.nseg;
}

ssize_t tunio_read(struct daemon *d, uint8_t *out, size_t room)
{
	struct tunio *t = d->tio;
	if (!t || !t->flags) /* plain tun (or none set up) */
		return read(d->tun_fd, out, room);
	for (;;) {
		if (t->next < t->plan.nseg)
			return (ssize_t)gso_segment(&t->plan, t->big, t->next++,
						    out);
		/* The packet lands in the caller's slot; only a
		 * super-packet spills over into big, which then takes the
		 * whole of it. */
		if (room >= TUNIO_MAX_PKT)
			room = TUNIO_MAX_PKT - 1;
		struct iovec iov[3] = {{t->vh, VNET_HDR_LEN},
				       {out, room},
				       {t->big + room, TUNIO_MAX_PKT - room}};
		ssize_t n = readv(d->tun_fd, iov, 3);
		if (n < 0)
			return n;
		if (n <= VNET_HDR_LEN) {
			t->bad_vnet++;
			continue;
		}
		size_t len = (size_t)n - VNET_HDR_LEN;
		struct vnet_hdr vh;
		struct gso_plan p;
		vnet_hdr_decode(t->vh, &vh);
		if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE && len <= room) {
			if (!(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
				return (ssize_t)len;
			if (gso_plan(&vh, out, len, room, &p) < 0) {
				t->bad_vnet++;
				continue;
			}
			gso_csum_complete(&p, out);
			return (ssize_t)len;
		}
		memcpy(t->big, out, len < room ? len : room);
		if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE ||
		    gso_plan(&vh, t->big, len, room, &t->plan) < 0) {
			/* too big to send, or a header we cannot honour */
			t->bad_vnet++;
			t->plan.nseg = 0;
			continue;
		}
		t->next = 0;
		t->gso_reads++;
		t->gso_segs += t->plan.nseg;
	}
}

void tunio_write(struct daemon *d, struct session *s, const uint8_t *pkt,
		 size_t len, struct pktbuf *b)
{
	struct tunio *t = d->tio;
	if (!t || !t->flags) {	   /* plain tun (or none set up) */
		if (d->tun_fd < 0) /* torn down: nothing to write to */
			;
		else if (write(d->tun_fd, pkt, len) >= 0)
			d->tun_tx_packets++;
		else
			s->tun_write_errors++;
		if (b)
			session_buf_put(b);
		return;
	}
	gro_add(&t->gro, pkt, len, s, b);
}

void tunio_flush(struct daemon *d)
{
	if (d->tio && d->tio->gro.held)
		gro_flush(&d->tio->gro);
}

json_t *tunio_status(const struct daemon *d)
{
	const struct tunio *t = d->tio;
	if (!t)
		return json_null();
	return json_pack(
	    "{s:b,s:b,s:b,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "on",
	    t->flags != 0, "tso", (t->flags & TUN_F_TSO4) != 0, "uso",
	    (t->flags & TUN_F_USO4) != 0, "csum", (t->flags & TUN_F_CSUM) != 0,
	    "udp_gro", t->udp_gro, "gso_reads", (json_int_t)t->gso_reads,
	    "gso_segments", (json_int_t)t->gso_segs, "gro_writes",
	    (json_int_t)t->gro.supers, "gro_segments",
	    (json_int_t)t->gro.merged, "bad_vnet", (json_int_t)t->bad_vnet,
	    "gro_bad_csum", (json_int_t)t->gro.bad_csum);
}
