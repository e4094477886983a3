/*
 * The tun device. IFF_NO_PI so each read or write is exactly one IP packet
 * (the version nibble tells v4 from v6), one queue because the daemon is
 * single-threaded, non-blocking because it lives in an event loop.
 */
#include "os/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int tun_open(char name[IFNAMSIZ], struct err *e)
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
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
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
