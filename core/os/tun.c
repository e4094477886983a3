/*
 * The tun device. IFF_NO_PI so each read or write is exactly one IP packet
 * (the version nibble tells v4 from v6), one queue because the daemon is
 * single-threaded, non-blocking because it lives in an event loop. With
 * offloads (tun_open_offload) each read or write starts with a virtio_net_hdr
 * and may carry a TCP/UDP super-packet (core/tunio.c handles both ends).
 */
#include "os/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

static int tun_create(char name[IFNAMSIZ], short flags, struct err *e);

int tun_open(char name[IFNAMSIZ], struct err *e)
{
	return tun_create(name, 0, e);
}

/* Sets up the virtio header and asks for offloads; returns what the kernel
 * granted (0: none, the caller reopens a plain device). */
static unsigned tun_offloads(int fd, unsigned want)
{
	int sz = 10, le = 1;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 ||
	    ioctl(fd, TUNSETVNETLE, &le) < 0)
		return 0;
	const unsigned tries[] = {
	    want,
	    want & ~(unsigned)(TUN_F_USO4 | TUN_F_USO6),
	    want & (unsigned)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6),
	};
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		if (tries[i] &&
		    ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0)
			return tries[i];
	return 0;
}

int tun_open_offload(char name[IFNAMSIZ], unsigned want, unsigned *got,
		     struct err *e)
{
	char keep[IFNAMSIZ];
	unsigned int features = 0;
	int fd;

	*got = 0;
	if (!want || !name)
		return tun_create(name, 0, e);
	memcpy(keep, name, IFNAMSIZ);
	fd = tun_create(name, IFF_VNET_HDR, e);
	if (fd < 0) /* no IFF_VNET_HDR here: a plain device */
		return fd == -EINVAL ? tun_create(name, 0, e) : fd;
	if (ioctl(fd, TUNGETFEATURES, &features) == 0 &&
	    (features & IFF_VNET_HDR) && (*got = tun_offloads(fd, want)))
		return fd;
	*got = 0;
	close(fd);
	memcpy(name, keep, IFNAMSIZ);
	return tun_create(name, 0, e);
}

static int tun_create(char name[IFNAMSIZ], short flags, struct err *e)
{
	struct ifreq ifr;
	int fd, r;

	if (!name || strnlen(name, IFNAMSIZ) >= IFNAMSIZ)
		return err_set(e, -EINVAL,
			       "tun: bad interface name: expected at most %d "
			       "characters",
			       IFNAMSIZ - 1);
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int er = errno;
		return err_set(e, -er, "tun: open /dev/net/tun for %s: %s%s",
			       name[0] ? name : "a tun device", strerror(er),
			       er == EACCES || er == EPERM
				   ? " (run as root, or with CAP_NET_ADMIN)"
				   : "");
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | flags);
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		return err_set(
		    e, r, "tun: create interface \"%s\": %s%s", name,
		    strerror(-r),
		    r == -EPERM ? " (run as root, or with CAP_NET_ADMIN)" : "");
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	return fd;
}

int tun_close(int fd)
{
	if (fd < 0)
		return -EBADF;
	return close(fd) < 0 ? -errno : 0;
}
