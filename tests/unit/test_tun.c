/*
 * tun tests against the real kernel, each in a forked child inside a fresh
 * network namespace so the host never sees the devices (needs root; CI is
 * root; skipped otherwise). The echo test proves the framing end to end:
 * a raw IPv4 ICMP echo request written to the fd (no packet-info header,
 * IFF_NO_PI) is answered by the kernel and the reply is read back.
 *
 *   netns:  [ this test ] --fd--> ttt0 10.9.0.1/24 --> kernel ICMP
 *           writes 10.9.0.2 -> 10.9.0.1 echo, reads 10.9.0.1 -> 10.9.0.2
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "os/netif.h"
#include "os/tun.h"

#include "netns_child.h"

static void test_bad_name_local(void **state)
{
	struct err e = {{0}};
	char name[IFNAMSIZ];

	/* No room for the terminator: refused before opening anything. */
	memset(name, 'x', sizeof(name));
	assert_int_equal(tun_open(name, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "15"));
	assert_int_equal(tun_open(NULL, &e), -EINVAL);
	assert_int_equal(tun_close(-1), -EBADF);
}

static int body_bad_name_kernel(void)
{
	struct err e = {{0}};
	char slash[IFNAMSIZ] = "ttt/0", dots[IFNAMSIZ] = "..";

	CHECK(tun_open(slash, &e) == -EINVAL);
	CHECK(strstr(e.msg, "ttt/0") != NULL);
	CHECK(tun_open(dots, &e) == -EINVAL);
	CHECK(netif_index("ttt/0") == -EINVAL);
	return 0;
}

static void test_bad_name_kernel(void **state)
{
	in_netns(body_bad_name_kernel);
}

static int body_open_close(void)
{
	struct err e = {{0}};
	char a[IFNAMSIZ] = "ttt%d", b[IFNAMSIZ] = "ttt%d", c[IFNAMSIZ] = "up0";
	char d[IFNAMSIZ] = "";
	char buf[64];
	int fa, fb, fc, fd;

	OK(fa = tun_open(a, &e));
	OK(fb = tun_open(b, &e));
	CHECK(strcmp(a, "ttt0") == 0 && strcmp(b, "ttt1") == 0);
	OK(fc = tun_open(c, &e));
	CHECK(strcmp(c, "up0") == 0);
	OK(fd = tun_open(d, &e));
	CHECK(strncmp(d, "tun", 3) == 0); /* the kernel's own pattern */
	CHECK(netif_index("ttt0") > 0 && netif_index("ttt1") > 0);

	int fl = fcntl(fa, F_GETFL), fdf = fcntl(fa, F_GETFD);
	CHECK(fl >= 0 && (fl & O_NONBLOCK));
	CHECK(fdf >= 0 && (fdf & FD_CLOEXEC));
	/* Nothing queued: a non-blocking read says so at once. */
	CHECK(read(fa, buf, sizeof(buf)) < 0 && errno == EAGAIN);

	/* The name is taken while the first fd holds it. */
	char again[IFNAMSIZ] = "ttt0";
	CHECK(tun_open(again, &e) == -EBUSY);
	CHECK(strstr(e.msg, "ttt0") != NULL);

	/* Non-persistent: closing the fd removes the interface. */
	OK(tun_close(fa));
	CHECK(netif_index("ttt0") == -ENODEV);
	CHECK(netif_index("ttt1") > 0);
	OK(tun_close(fb));
	OK(tun_close(fc));
	OK(tun_close(fd));
	CHECK(netif_index("ttt1") == -ENODEV && netif_index("up0") == -ENODEV);
	return 0;
}

static void test_open_close(void **state)
{
	in_netns(body_open_close);
}

/* RFC 1071 Internet checksum. */
static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

#define ECHO_ID	     0x7474
#define ECHO_PAYLOAD "tuntuntun echo payload"

/* An IPv4 echo request 10.9.0.2 -> 10.9.0.1; returns its length. */
static size_t build_echo(uint8_t *pkt)
{
	struct iphdr *ip = (struct iphdr *)pkt;
	struct icmphdr *icmp = (struct icmphdr *)(pkt + sizeof(*ip));
	size_t plen = sizeof(ECHO_PAYLOAD);
	size_t len = sizeof(*ip) + sizeof(*icmp) + plen;

	memset(pkt, 0, len);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)len);
	ip->id = htons(1);
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	inet_pton(AF_INET, "10.9.0.2", &ip->saddr);
	inet_pton(AF_INET, "10.9.0.1", &ip->daddr);
	ip->check = csum(ip, sizeof(*ip));
	icmp->type = ICMP_ECHO;
	icmp->un.echo.id = htons(ECHO_ID);
	icmp->un.echo.sequence = htons(1);
	memcpy(pkt + sizeof(*ip) + sizeof(*icmp), ECHO_PAYLOAD, plen);
	icmp->checksum = csum(icmp, sizeof(*icmp) + plen);
	return len;
}

/* Whether pkt is the kernel's answer to build_echo(). */
static bool is_echo_reply(const uint8_t *pkt, size_t n)
{
	const struct iphdr *ip = (const struct iphdr *)pkt;
	struct in_addr src, dst;

	/* With a packet-info header the first byte would be flags, not
	 * the IP version. */
	if (n < sizeof(*ip) || ip->version != 4 || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_ICMP || ntohs(ip->tot_len) != n)
		return false;
	const struct icmphdr *icmp = (const struct icmphdr *)(pkt + 20);
	size_t plen = sizeof(ECHO_PAYLOAD);
	if (n != 20 + sizeof(*icmp) + plen || icmp->type != ICMP_ECHOREPLY ||
	    ntohs(icmp->un.echo.id) != ECHO_ID)
		return false;
	inet_pton(AF_INET, "10.9.0.1", &src);
	inet_pton(AF_INET, "10.9.0.2", &dst);
	return ip->saddr == src.s_addr && ip->daddr == dst.s_addr &&
	       csum(ip, sizeof(*ip)) == 0 &&
	       csum(icmp, sizeof(*icmp) + plen) == 0 &&
	       memcmp(pkt + 20 + sizeof(*icmp), ECHO_PAYLOAD, plen) == 0;
}

static int body_echo(void)
{
	struct err e = {{0}};
	char name[IFNAMSIZ] = "ttt0";
	struct cfg_prefix a = {.family = AF_INET, .plen = 24};
	uint8_t pkt[256], in[2048];
	int fd;

	CHECK(inet_pton(AF_INET, "10.9.0.1", &a.addr.v4) == 1);
	OK(fd = tun_open(name, &e));
	OK(netif_set_up(name, true, &e));
	OK(netif_addr_add(name, &a, &e));

	size_t len = build_echo(pkt);
	CHECK(write(fd, pkt, len) == (ssize_t)len);
	/* Other packets (IPv6 router solicitations) may come first. */
	bool got = false;
	for (int tries = 0; tries < 50 && !got; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		CHECK(poll(&p, 1, 100) >= 0);
		for (;;) {
			ssize_t n = read(fd, in, sizeof(in));
			if (n < 0) {
				CHECK(errno == EAGAIN);
				break;
			}
			if (is_echo_reply(in, (size_t)n))
				got = true;
		}
	}
	CHECK(got);
	OK(tun_close(fd));
	return 0;
}

static void test_echo(void **state)
{
	in_netns(body_echo);
}

/* With offloads the kernel grants checksum and TSO on this kernel, and
 * every read and write carries the 10-byte virtio header: the same echo
 * with a zero header in front comes back with one in front. */
static int body_echo_vnet(void)
{
	struct err e = {{0}};
	char name[IFNAMSIZ] = "ttt0";
	struct cfg_prefix a = {.family = AF_INET, .plen = 24};
	uint8_t vh[10] = {0}, pkt[256] __attribute__((aligned(8)));
	static uint8_t in[70000] __attribute__((aligned(8)));
	unsigned got_f = 0;
	int fd;

	CHECK(inet_pton(AF_INET, "10.9.0.1", &a.addr.v4) == 1);
	OK(fd = tun_open_offload(name, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
				 &got_f, &e));
	CHECK(got_f == (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6));
	OK(netif_set_up(name, true, &e));
	OK(netif_addr_add(name, &a, &e));

	size_t len = build_echo(pkt);
	struct iovec out[2] = {{vh, 10}, {pkt, len}};
	CHECK(writev(fd, out, 2) == (ssize_t)(10 + len));
	bool got = false;
	for (int tries = 0; tries < 50 && !got; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		CHECK(poll(&p, 1, 100) >= 0);
		for (;;) {
			struct iovec iov[2] = {{vh, 10}, {in, sizeof(in)}};
			ssize_t n = readv(fd, iov, 2);
			if (n < 0) {
				CHECK(errno == EAGAIN);
				break;
			}
			if (n > 10 && vh[1] == 0 /* no GSO */ &&
			    is_echo_reply(in, (size_t)n - 10))
				got = true;
		}
	}
	CHECK(got);
	OK(tun_close(fd));
	/* nothing asked: a plain device, as tun_open makes */
	OK(fd = tun_open_offload(name, 0, &got_f, &e));
	CHECK(got_f == 0);
	OK(tun_close(fd));
	return 0;
}

static void test_echo_vnet(void **state)
{
	in_netns(body_echo_vnet);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_name_local),
	    cmocka_unit_test(test_bad_name_kernel),
	    cmocka_unit_test(test_open_close),
	    cmocka_unit_test(test_echo),
	    cmocka_unit_test(test_echo_vnet),
	};
	log_init("test_tun", LOG_WARNING, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
