/*
 * Tunnel socket options (os/udpsock.c): after udpsock_setup() the kernel
 * must report "probe, never fragment" for the socket's family, since path
 * MTU discovery depends on it, and (as root, which may force them) buffers
 * of at least UDPSOCK_BUF_BYTES. A fresh socket is the control for both.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "os/udpsock.h"

static int getint(int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);
	assert_int_equal(getsockopt(fd, level, opt, &v, &len), 0);
	return v;
}

static void check_family(int family, int level, int opt, int probe)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ctl = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ctl < 0) {
		if (fd >= 0)
			close(fd);
		if (ctl >= 0)
			close(ctl);
		skip(); /* no such family on this machine */
	}
	assert_int_not_equal(getint(ctl, level, opt), probe);
	assert_int_equal(udpsock_setup(fd, family), 0);
	assert_int_equal(getint(fd, level, opt), probe);
	if (geteuid() == 0) {
		assert_true(getint(fd, SOL_SOCKET, SO_RCVBUF) >=
			    UDPSOCK_BUF_BYTES);
		assert_true(getint(fd, SOL_SOCKET, SO_SNDBUF) >=
			    UDPSOCK_BUF_BYTES);
		assert_true(getint(ctl, SOL_SOCKET, SO_RCVBUF) <
			    UDPSOCK_BUF_BYTES);
	}
	close(fd);
	close(ctl);
}

static void test_ipv4(void **state)
{
	check_family(AF_INET, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
}

static void test_ipv6(void **state)
{
	check_family(AF_INET6, IPPROTO_IPV6, IPV6_MTU_DISCOVER,
		     IPV6_PMTUDISC_PROBE);
}

/* A failure is reported, as -errno, not swallowed. */
static void test_bad_fd(void **state)
{
	assert_int_equal(udpsock_setup(-1, AF_INET), -EBADF);
	assert_int_equal(udpsock_setup(-1, AF_INET6), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_bad_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
