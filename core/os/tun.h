/*
 * The tun device: the daemon's one door to the host's IP stack. Opened
 * non-persistent so the kernel removes the interface when the daemon's fd
 * closes (also on a crash), never leaving a stale ttt0 behind.
 */
#ifndef TTT_TUN_H
#define TTT_TUN_H

#include <net/if.h>

#include "base/err.h"

/*
 * Opens /dev/net/tun as IFF_TUN|IFF_NO_PI (one queue), non-blocking and
 * close-on-exec. `name` is in/out: a name ("ttt0"), a pattern ("ttt%d") or ""
 * (kernel picks "tun%d"); on success it holds the real name. Returns the fd
 * or -errno (-EINVAL bad name, -EPERM not allowed, -EBUSY name taken by a
 * device that is not a free tun) with a message naming the interface.
 */
int tun_open(char name[IFNAMSIZ], struct err *e);

/*
 * As tun_open, with offloads: when `want` (TUN_F_* bits) is not 0 and the
 * kernel has IFF_VNET_HDR, the device is opened with it (10-byte
 * little-endian virtio_net_hdr before every packet, both ways) and
 * TUNSETOFFLOAD asks for `want`, then for `want` without the USO bits
 * (kernels before 6.2), then for checksum and TSO alone. *got receives what
 * was granted; 0 means the device is a plain one, exactly as tun_open
 * makes (a refusal falls back to it, never fails the open).
 */
int tun_open_offload(char name[IFNAMSIZ], unsigned want, unsigned *got,
		     struct err *e);

/* Closes the fd; the kernel deletes the interface and its routes. */
int tun_close(int fd);

#endif
