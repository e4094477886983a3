/*
 * Config loader tests: the shipped examples load with every field where the
 * daemon expects it, defaults hold, and every class of bad input is refused
 * with FILE:LINE:COL: KEY: message naming the right line, because an error
 * that points at the wrong place is nearly as bad as none.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/config.h"
#include "base/log.h"
#include "wire/wire.h"

#include <arpa/inet.h>

/* Repo root: $TTT_SRCDIR, else derived from this file's path (make passes
 * tests/unit/test_config.c relative to the root, so that gives "."). */
static void src_path(char *out, size_t len, const char *rel)
{
	const char *env = getenv("TTT_SRCDIR");
	const char *me = __FILE__;
	const char *tail = "tests/unit/test_config.c";
	size_t mlen = strlen(me), tlen = strlen(tail);

	if (env && *env) {
		snprintf(out, len, "%s/%s", env, rel);
	} else if (mlen > tlen && strcmp(me + mlen - tlen, tail) == 0) {
		snprintf(out, len, "%.*s%s", (int)(mlen - tlen), me, rel);
	} else {
		snprintf(out, len, "./%s", rel);
	}
}

#define NF(t) (sizeof(t) / sizeof((t)[0]))

static struct config cfg;

static void load_file_ok(const char *rel)
{
	char path[1024];
	struct err e = {{0}};
	src_path(path, sizeof(path), rel);
	int ret = config_load(&cfg, path, &e);
	if (ret)
		print_error("%s\n", e.msg);
	assert_int_equal(ret, 0);
	assert_string_equal(cfg.path, path);
}

static void load_ok(const char *text)
{
	struct err e = {{0}};
	int ret = config_load_string(&cfg, "t.yaml", text, strlen(text), &e);
	if (ret)
		print_error("%s\n", e.msg);
	assert_int_equal(ret, 0);
}

/* Checks the whole "NAME:LINE:" prefix, then the message substring. */
static void check_msg(const char *name, const char *msg, int line,
		      const char *sub)
{
	char prefix[512];
	snprintf(prefix, sizeof(prefix), "%s:%d:", name, line);
	if (strncmp(msg, prefix, strlen(prefix)) != 0 || !strstr(msg, sub)) {
		print_error("got:  %s\nwant: %s ... %s\n", msg, prefix, sub);
		fail();
	}
}

static void load_bad(const char *text, int line, const char *sub)
{
	struct err e = {{0}};
	int ret = config_load_string(&cfg, "t.yaml", text, strlen(text), &e);
	if (ret != -EINVAL)
		print_error("text:\n%s\nret %d, msg %s\n", text, ret, e.msg);
	assert_int_equal(ret, -EINVAL);
	check_msg("t.yaml", e.msg, line, sub);
}

/* The address of a (which must be of `family`) as text, its port in *port. */
static const char *ip_port(const struct cfg_sockaddr *a, int family,
			   uint16_t *port)
{
	static char buf[INET6_ADDRSTRLEN];
	const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
	bool v4 = family == AF_INET;
	assert_int_equal(a->ss.ss_family, family);
	assert_int_equal(a->len, v4 ? sizeof(*in) : sizeof(*in6));
	*port = ntohs(v4 ? in->sin_port : in6->sin6_port);
	return inet_ntop(family,
			 v4 ? (const void *)&in->sin_addr
			    : (const void *)&in6->sin6_addr,
			 buf, sizeof(buf));
}

static const char *ip4(const struct cfg_sockaddr *a, uint16_t *port)
{
	return ip_port(a, AF_INET, port);
}

static const char *ip6(const struct cfg_sockaddr *a, uint16_t *port)
{
	return ip_port(a, AF_INET6, port);
}

static const char *pfx(const struct cfg_prefix *p)
{
	static char buf[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];
	assert_non_null(inet_ntop(p->family, &p->addr, a, sizeof(a)));
	snprintf(buf, sizeof(buf), "%s/%u", a, p->plen);
	return buf;
}

static const struct cfg_opt *opt(const struct cfg_sched *s, const char *key)
{
	for (uint32_t i = 0; i < s->n_opts; i++)
		if (strcmp(s->opts[i].key, key) == 0)
			return &s->opts[i];
	print_error("no option %s\n", key);
	fail();
	return NULL;
}

/* The reorder and control-socket defaults (the example client keeps them). */
static void assert_reorder_control_defaults(void)
{
	assert_true(cfg.reorder.enabled);
	assert_int_equal(cfg.reorder.capacity, 4096);
	assert_int_equal(cfg.reorder.min_hold_ms, 5);
	assert_int_equal(cfg.reorder.max_hold_ms, 300);
	assert_string_equal(cfg.control.socket, "/run/tuntuntun.sock");
	assert_int_equal(cfg.control.mode, 0600);
}

static void test_example_client(void **state)
{
	uint16_t port;
	(void)state;
	load_file_ok("examples/client.yaml");
	assert_int_equal(cfg.role, ROLE_CLIENT);
	assert_string_equal(ip4(&cfg.server, &port), "198.51.100.7");
	assert_int_equal(port, 5800);
	assert_string_equal(cfg.key_file, "/etc/tuntuntun/client.key");
	assert_int_equal(cfg.crypto_mode, CRYPTO_ENCRYPT);
	assert_int_equal(cfg.cipher, CFG_CIPHER_AUTO);
	assert_string_equal(cfg.tun.name, "ttt0");
	assert_string_equal(pfx(&cfg.tun.addr4), "10.77.0.2/24");
	assert_string_equal(pfx(&cfg.tun.addr6), "fd77::2/64");
	assert_int_equal(cfg.tun.mtu, 0);
	assert_int_equal(cfg.tun.offload, CFG_OFFLOAD_AUTO);
	assert_false(cfg.default_route);

	const struct cfg_sched *up = &cfg.sched[TTT_DIR_UPSTREAM];
	assert_string_equal(up->plugin, "weighted");
	assert_int_equal(up->n_opts, 2);
	assert_int_equal(opt(up, "weights.dsl")->type, TTT_OPT_INT);
	assert_int_equal(opt(up, "weights.dsl")->i, 3);
	assert_int_equal(opt(up, "weights.lte")->i, 1);
	assert_true(opt(up, "weights.lte")->line > 1);
	assert_string_equal(cfg.sched[TTT_DIR_DOWNSTREAM].plugin, "lowest-rtt");
	assert_int_equal(cfg.sched[TTT_DIR_DOWNSTREAM].n_opts, 0);

	assert_int_equal(cfg.n_links, 2);
	const struct cfg_link *dsl = &cfg.links[0], *lte = &cfg.links[1];
	assert_string_equal(dsl->name, "dsl");
	assert_string_equal(dsl->interface, "eth0");
	assert_int_equal(dsl->source.ss.ss_family, AF_UNSPEC);
	assert_string_equal(ip4(&dsl->peer, &port), "198.51.100.7");
	assert_int_equal(port, 5800);
	assert_int_equal(dsl->rate_bps, 20000000);
	assert_false(dsl->metered);
	assert_int_equal(dsl->quota_bytes, 0);
	assert_int_equal(dsl->quota_reset_day, 1);
	assert_int_equal(dsl->mtu, 0);

	assert_string_equal(lte->name, "lte");
	assert_string_equal(lte->interface, "");
	assert_string_equal(ip4(&lte->source, &port), "192.0.2.10");
	assert_int_equal(port, 0);
	assert_string_equal(ip4(&lte->peer, &port), "198.51.100.7");
	assert_int_equal(port, 5801);
	assert_int_equal(lte->rate_bps, 30000000);
	assert_true(lte->metered);
	assert_int_equal(lte->quota_bytes, 5ULL << 30);
	assert_int_equal(lte->quota_reset_day, 1);
	assert_false(lte->backup);
	assert_int_equal(lte->weight, 1);
	assert_int_equal(lte->mtu, 1500);

	assert_int_equal(cfg.probe.interval_ms, 100);
	assert_int_equal(cfg.probe.timeout_ms, 1000);
	assert_int_equal(cfg.probe.degraded_loss_ppm, 50000);
	assert_int_equal(cfg.probe.degraded_rtt_ms, 500);
	assert_int_equal(cfg.probe.loss_window, 50);
	assert_reorder_control_defaults();
	/* rekey defaults: 120 s, bytes off, 2^23 packets */
	assert_int_equal(cfg.rekey.interval_ms, 120000);
	assert_true(cfg.rekey.bytes == 0);
	assert_int_equal(cfg.rekey.packets, 8388608);
	assert_string_equal(cfg.control.group, "netdev");
	assert_string_equal(cfg.plugin_dir,
			    "/usr/local/lib/tuntuntun/plugins.d");
	assert_string_equal(cfg.state_file, "/var/lib/tuntuntun/state.json");
	assert_string_equal(cfg.user, "nobody");
	assert_int_equal(cfg.keepalive_ms, 10000);
	assert_int_equal(cfg.log_level, LOG_INFO);
}

static void test_example_server(void **state)
{
	uint16_t port;
	(void)state;
	load_file_ok("examples/server.yaml");
	assert_int_equal(cfg.role, ROLE_SERVER);
	assert_string_equal(ip6(&cfg.listen, &port), "::");
	assert_int_equal(port, 5800);
	assert_int_equal(cfg.crypto_mode, CRYPTO_ENCRYPT);
	assert_string_equal(pfx(&cfg.tun.addr4), "10.77.0.1/24");
	assert_string_equal(pfx(&cfg.tun.addr6), "fd77::1/64");
	assert_string_equal(cfg.sched[TTT_DIR_DOWNSTREAM].plugin, "roundrobin");
	assert_int_equal(cfg.n_links, 0);
	assert_int_equal(cfg.n_clients, 1);
	assert_string_equal(cfg.clients[0].name, "laptop");
	assert_string_equal(cfg.clients[0].key_file,
			    "/etc/tuntuntun/laptop.key");
	assert_string_equal(pfx(&cfg.clients[0].addr4), "10.77.0.2/32");
	assert_string_equal(pfx(&cfg.clients[0].addr6), "fd77::2/128");
	assert_int_equal(cfg.server.ss.ss_family, AF_UNSPEC);
}

static const char minimal_client[] = "role: client\n"
				     "server: { address: 198.51.100.7 }\n"
				     "key: /k\n"
				     "tun: { address: 10.77.0.2/24 }\n"
				     "links: [ { name: dsl } ]\n";

static void test_defaults(void **state)
{
	uint16_t port;
	(void)state;
	load_ok(minimal_client);
	assert_string_equal(cfg.path, "t.yaml");
	assert_int_equal(cfg.crypto_mode, CRYPTO_ENCRYPT);
	assert_string_equal(ip4(&cfg.server, &port), "198.51.100.7");
	assert_int_equal(port, 5800);
	assert_string_equal(ip4(&cfg.listen, &port), "0.0.0.0");
	assert_int_equal(port, 5800);
	assert_string_equal(cfg.tun.name, "ttt0");
	assert_int_equal(cfg.tun.addr6.family, 0);
	assert_int_equal(cfg.tun.mtu, 0);
	for (int d = 0; d < 2; d++) {
		assert_string_equal(cfg.sched[d].plugin, "earliest-arrival");
		assert_int_equal(cfg.sched[d].n_opts, 0);
	}
	assert_int_equal(cfg.n_links, 1);
	assert_string_equal(ip4(&cfg.links[0].peer, &port), "198.51.100.7");
	assert_int_equal(port, 5800);
	assert_int_equal(cfg.links[0].rate_bps, 0);
	assert_int_equal(cfg.links[0].weight, 0);
	assert_int_equal(cfg.links[0].quota_reset_day, 1);
	assert_int_equal(cfg.probe.interval_ms, 100);
	assert_int_equal(cfg.probe.timeout_ms, 1000);
	assert_int_equal(cfg.probe.degraded_loss_ppm, 50000);
	assert_int_equal(cfg.probe.degraded_rtt_ms, 0);
	assert_int_equal(cfg.probe.loss_window, 50);
	assert_reorder_control_defaults();
	assert_string_equal(cfg.control.group, "");
	assert_string_equal(cfg.plugin_dir, "");
	assert_string_equal(cfg.state_file, "");
	assert_string_equal(cfg.user, "");
	assert_false(cfg.default_route);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.keepalive_ms, 10000);

	/* config_defaults alone gives the same. */
	struct config d;
	config_defaults(&d);
	assert_int_equal(d.reorder.capacity, 4096);
	assert_string_equal(d.sched[1].plugin, "earliest-arrival");
	assert_true(d.recovery.enabled);
	assert_int_equal(d.recovery.budget_pct, 10);
	assert_int_equal(d.recovery.store_packets, 2048);
	assert_int_equal(d.recovery.max_wait_ms, 200);
	assert_false(d.recovery.copy_ahead);
}

static void test_ipv6(void **state)
{
	uint16_t port;
	(void)state;
	load_ok("role: client\n"
		"server: { address: \"2001:db8::7\", port: 6000 }\n"
		"key: /k\n"
		"tun: { address: 10.77.0.2/30, address6: \"fd77::2/64\" }\n"
		"links:\n"
		"  - { name: a, source: \"[2001:db8:1::10]:4000\" }\n"
		"  - { name: b, source: \"2001:db8:2::10\", peer: "
		"\"[2001:db8::8]:6001\" }\n"
		"  - { name: c, peer: \"[2001:db8::9]\" }\n");
	assert_string_equal(ip6(&cfg.server, &port), "2001:db8::7");
	assert_int_equal(port, 6000);
	assert_string_equal(ip6(&cfg.links[0].source, &port), "2001:db8:1::10");
	assert_int_equal(port, 4000);
	assert_string_equal(ip6(&cfg.links[0].peer, &port), "2001:db8::7");
	assert_int_equal(port, 6000);
	assert_string_equal(ip6(&cfg.links[1].source, &port), "2001:db8:2::10");
	assert_int_equal(port, 0);
	assert_string_equal(ip6(&cfg.links[1].peer, &port), "2001:db8::8");
	assert_int_equal(port, 6001);
	/* A peer without a port takes the server's. */
	assert_string_equal(ip6(&cfg.links[2].peer, &port), "2001:db8::9");
	assert_int_equal(port, 6000);
	assert_string_equal(pfx(&cfg.tun.addr4), "10.77.0.2/30");

	load_ok(
	    "role: server\n"
	    "listen: { address: \"::1\" }\n"
	    "tun: { address6: \"fd77::1/64\" }\n"
	    "clients: [ { name: p, key: /k, address6: \"fd77::2/128\" } ]\n");
	assert_string_equal(ip6(&cfg.listen, &port), "::1");
	assert_int_equal(port, 5800);
	assert_int_equal(cfg.clients[0].addr4.family, 0);
	assert_string_equal(pfx(&cfg.clients[0].addr6), "fd77::2/128");
}

/* Role may come last; keys are accepted in any order. */
static void test_role_last_and_values(void **state)
{
	(void)state;
	load_ok("links:\n"
		"  - name: x-1_Y\n"
		"    rate: 1.5gbit\n"
		"    quota: 500MB\n"
		"    quota_reset_day: 28\n"
		"    metered: yes\n"
		"    backup: on\n"
		"    weight: 65535\n"
		"    mtu: auto\n"
		"tun: { address: 10.77.0.2/24, mtu: 1400, offload: off }\n"
		"key: \"relative/key\"\n"
		"crypto: none\n"
		"cipher: chacha20-poly1305\n"
		"default_route: true\n"
		"probe: { interval: 1s, timeout: 2s, degraded_loss: 0.5%, "
		"loss_window: 1 }\n"
		"reorder: { enabled: false, capacity: 16, min_hold: 0ms, "
		"max_hold: 10s }\n"
		"control: { socket: \"\", mode: 660, group: tun.users }\n"
		"keepalive: 0\n"
		"log: { level: debug }\n"
		"rekey: { interval: 1s, bytes: 64GiB, packets: 0 }\n"
		"server: { address: 192.0.2.1 }\n"
		"role: client\n");
	assert_int_equal(cfg.rekey.interval_ms, 1000);
	assert_true(cfg.rekey.bytes == 64ULL << 30);
	assert_int_equal(cfg.rekey.packets, 0);
	assert_int_equal(cfg.role, ROLE_CLIENT);
	assert_string_equal(cfg.links[0].name, "x-1_Y");
	assert_int_equal(cfg.links[0].rate_bps, 1500000000ULL);
	assert_int_equal(cfg.links[0].quota_bytes, 500000000ULL);
	assert_int_equal(cfg.links[0].quota_reset_day, 28);
	assert_true(cfg.links[0].metered);
	assert_true(cfg.links[0].backup);
	assert_int_equal(cfg.links[0].weight, 65535);
	assert_int_equal(cfg.tun.mtu, 1400);
	assert_int_equal(cfg.tun.offload, CFG_OFFLOAD_OFF);
	assert_string_equal(cfg.key_file, "relative/key");
	assert_int_equal(cfg.crypto_mode, CRYPTO_NONE);
	assert_int_equal(cfg.cipher, CFG_CIPHER_CHACHA20);
	assert_true(cfg.default_route);
	assert_int_equal(cfg.probe.degraded_loss_ppm, 5000);
	assert_int_equal(cfg.probe.loss_window, 1);
	assert_false(cfg.reorder.enabled);
	assert_int_equal(cfg.reorder.capacity, 16);
	assert_int_equal(cfg.reorder.min_hold_ms, 0);
	assert_int_equal(cfg.reorder.max_hold_ms, 10000);
	assert_string_equal(cfg.control.socket, "");
	assert_int_equal(cfg.control.mode, 0660);
	assert_string_equal(cfg.control.group, "tun.users");
	assert_int_equal(cfg.keepalive_ms, 0);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
}

struct bad_file {
	const char *file;
	int line;
	const char *msg;
};

static const struct bad_file bad_files[] = {
    {"bad-empty.yaml", 1, "empty configuration"},
    {"bad-comments-only.yaml", 1, "empty configuration"},
    {"bad-syntax.yaml", 3,
     "YAML syntax error: did not find expected ',' "
     "or '}' (while parsing a flow mapping at line 2)"},
    {"bad-multidoc.yaml", 4, "a second YAML document starts here"},
    {"bad-rate.yaml", 9,
     "links[1].rate: expected a rate like 20mbit or 1.5gbit, got \"fast\""},
    {"bad-unknown-key.yaml", 6,
     "tun.adress: unknown key; expected one of name, address, address6, "
     "mtu"},
    {"bad-dup-link.yaml", 8,
     "links[2]: duplicate link name \"dsl\" (also links[0])"},
    {"bad-dup-client.yaml", 5,
     "clients[2]: duplicate client name \"laptop\" (also clients[0])"},
    {"bad-port.yaml", 4,
     "server.port: expected a port number from 1 to 65535, got \"0\""},
    {"bad-role-key.yaml", 5,
     "default_route: only valid with role: client (this file has role: "
     "server)"},
    {"bad-capacity.yaml", 8,
     "reorder.capacity: expected a power of two from 16 to 65536, got "
     "\"1000\""},
    {"bad-probe-timeout.yaml", 6,
     "probe.timeout: expected at least 2 probe intervals (2 x 200ms), got "
     "\"300ms\""},
    {"bad-no-links.yaml", 5, "links: a client needs at least one link"},
    {"bad-type-seq.yaml", 3, "server: expected a mapping of keys, got a list"},
};

static void test_bad_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		char rel[256], path[1024], name[1100];
		struct err e = {{0}};
		snprintf(rel, sizeof(rel), "tests/unit/configs/%s",
			 bad_files[i].file);
		src_path(path, sizeof(path), rel);
		int ret = config_load(&cfg, path, &e);
		if (ret != -EINVAL)
			print_error("%s: ret %d %s\n", path, ret, e.msg);
		assert_int_equal(ret, -EINVAL);
		snprintf(name, sizeof(name), "%s", path);
		check_msg(name, e.msg, bad_files[i].line, bad_files[i].msg);
	}
}

/* Client prefix with the rest appended: errors land on line 6 or later. */
#define CLIENT_HEAD                                                            \
	"role: client\n"                                                       \
	"server: { address: 198.51.100.7 }\n"                                  \
	"key: /k\n"                                                            \
	"tun: { address: 10.77.0.2/24, address6: \"fd77::2/64\" }\n"           \
	"links: [ { name: dsl } ]\n"

#define SERVER_HEAD                                                            \
	"role: server\n"                                                       \
	"tun: { address: 10.77.0.1/24 }\n"                                     \
	"clients:\n"                                                           \
	"  - { name: laptop, key: /k1, address: 10.77.0.2 }\n"

struct bad_text {
	const char *text;
	int line;
	const char *msg;
};

static const struct bad_text bad_texts[] = {
    /* document shape */
    {"- role: client\n", 1,
     "expected a mapping of keys at the top level, got a list"},
    {"role: router\n", 1,
     "role: expected one of client, server, got \"router\""},
    {"\n\ntun: { name: x }\n", 3,
     "role: missing; expected `role: client` or `role: server`"},
    {CLIENT_HEAD "key: /other\n", 6,
     "key: duplicate key (first given at line 3)"},
    {CLIENT_HEAD "probe: { interval: 1s, interval: 2s }\n", 6,
     "probe.interval: duplicate key (first given at line 6)"},
    {CLIENT_HEAD "colour: blue\n", 6,
     "colour: unknown key; expected one of "
     "role, server, key, crypto, cipher, tun"},
    {CLIENT_HEAD "reorder: { enabled: true, hold: 5ms }\n", 6,
     "reorder.hold: unknown key; expected one of enabled, capacity, "
     "min_hold, max_hold"},
    {CLIENT_HEAD "? [a, b]\n: c\n", 6, "keys must be plain words, got a list"},
    /* rekey: at least a second, sizes, a client's business */
    {CLIENT_HEAD "rekey: { interval: 500ms }\n", 6, "rekey.interval"},
    {CLIENT_HEAD "rekey: { bytes: lots }\n", 6, "rekey.bytes"},
    {CLIENT_HEAD "rekey: { packets: -1 }\n", 6, "rekey.packets"},
    {CLIENT_HEAD "rekey: { every: 2m }\n", 6,
     "rekey.every: unknown key; expected one of interval, bytes, packets"},
    {SERVER_HEAD "rekey: { interval: 2m }\n", 5,
     "rekey: only valid with role: client"},
    {CLIENT_HEAD "probe: &p { interval: 100ms }\nreorder: *p\n", 7,
     "7:10: YAML aliases (*name) are not supported; write the value out"},
    {CLIENT_HEAD "probe: &p [ *p ]\n", 6,
     "6:13: YAML aliases (*name) are not supported"},
    {CLIENT_HEAD
     "scheduler:\n  upstream:\n    plugin: x\n    a: "
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]]]]]]]]]]]]]]\n",
     9, "9:37: nested deeper than 32 levels"},
    {CLIENT_HEAD "user: \"a\\0b\"\n", 6, "value contains a NUL character"},
    {CLIENT_HEAD "\xff\xfe: 1\n", 6,
     "YAML syntax error: invalid leading "
     "UTF-8 octet"},
    {"role: client\nkey: \"unterminated\n", 3,
     "YAML syntax error: found "
     "unexpected end of stream"},
    /* types */
    {CLIENT_HEAD "probe: 100ms\n", 6,
     "probe: expected a mapping of keys, got \"100ms\""},
    {CLIENT_HEAD "log:\n", 6,
     "log: expected a mapping of keys, got an "
     "empty value"},
    {CLIENT_HEAD "user: [a]\n", 6, "user: expected a user or group name"},
    /* addresses, prefixes, ports */
    {"role: client\nserver: { address: 300.1.2.3 }\n", 2,
     "server.address: expected an IPv4 or IPv6 address or a host name, "
     "got \"300.1.2.3\""},
    {"role: client\nserver: { address: -vpn.example.com }\n", 2,
     "server.address: expected an IPv4 or IPv6 address or a host name"},
    {"role: client\nserver: { address: vpn..example.com }\n", 2,
     "server.address: expected an IPv4 or IPv6 address or a host name"},
    {"role: client\nserver: { address: vpn_1.example.com }\n", 2,
     "server.address: expected an IPv4 or IPv6 address or a host name"},
    {"role: client\nserver: { address: \"vpn.example.com.\" }\n", 2,
     "server.address: expected an IPv4 or IPv6 address or a host name"},
    {"role: client\nserver: { address: \"\" }\n", 2, "server.address:"},
    {"role: client\nserver: { address: vpn.example.com }\nkey: /k\n"
     "tun: { address: 10.77.0.2/24 }\nlinks: [ { name: dsl } ]\n"
     "default_route: true\n",
     6, "default_route: needs server.address as an IP address"},
    {"role: client\nserver: { port: 5800 }\n", 2,
     "server.address: missing; expected the server's IPv4 or IPv6 "
     "address"},
    {"role: client\nserver: { address: 1.2.3.4, port: 65536 }\n", 2,
     "server.port: expected a port number from 1 to 65535, got \"65536\""},
    {"role: client\nserver: { address: 1.2.3.4, port: http }\n", 2,
     "server.port: expected a port number from 1 to 65535, got \"http\""},
    {"role: client\nserver: { address: 1.2.3.4, port: -1 }\n", 2,
     "server.port: expected a port number from 1 to 65535, got \"-1\""},
    {"role: client\ntun: { address: 10.77.0.2/33 }\n", 2,
     "tun.address: expected an IPv4 address with a prefix length like "
     "10.77.0.2/24, got \"10.77.0.2/33\""},
    {"role: client\ntun: { address: 10.77.0.2 }\n", 2,
     "tun.address: expected an IPv4 address with a prefix length"},
    {"role: client\ntun: { address: 10.77.0.2/ }\n", 2,
     "tun.address: expected an IPv4 address with a prefix length"},
    {"role: client\ntun: { address6: 10.77.0.2/24 }\n", 2,
     "tun.address6: expected an IPv6 address with a prefix length like "
     "fd77::2/64"},
    {"role: client\ntun: { address6: \"fd77::2/129\" }\n", 2,
     "tun.address6: expected an IPv6 address with a prefix length"},
    {CLIENT_HEAD "links2: 1\n", 6, "links2: unknown key"},
    {"role: client\nlinks: [ { name: a, peer: \"1.2.3.4:0\" } ]\n", 2,
     "links[0].peer: expected an address with an optional port like "
     "192.0.2.10:5801 or [2001:db8::1]:5801, got \"1.2.3.4:0\""},
    {"role: client\nlinks: [ { name: a, peer: \"[1.2.3.4]:80\" } ]\n", 2,
     "links[0].peer: expected an address with an optional port"},
    {"role: client\nlinks: [ { name: a, source: \"[::1]x\" } ]\n", 2,
     "links[0].source: expected an address with an optional port"},
    {"role: client\nserver: { address: 1.2.3.4 }\nkey: /k\n"
     "tun: { address: 10.77.0.2/24 }\n"
     "links:\n  - name: a\n    source: \"2001:db8::1\"\n",
     7, "links[0].source: an IPv6 source cannot reach the IPv4 peer"},
    /* names and counts */
    {"role: client\nlinks:\n  - { name: a234567890123456789012345678901x "
     "}\n",
     3, "links[0].name: expected a name of 1 to 31 letters"},
    {"role: client\nlinks:\n  - { name: \"ds l\" }\n", 3,
     "links[0].name: expected a name of 1 to 31 letters, digits, '-' or "
     "'_' starting with a letter or digit, got \"ds l\""},
    {"role: client\nlinks:\n  - { name: -dsl }\n", 3,
     "links[0].name: expected a name"},
    {"role: client\nlinks:\n  - { interface: eth0 }\n", 3,
     "links[0].name: missing; expected a unique link name"},
    {"role: client\nlinks:\n  - { name: a, interface: "
     "abcdefghijklmnopq }\n",
     3, "links[0].interface: expected an interface name of 1 to 15"},
    {"role: client\nlinks:\n  - { name: a, interface: \"eth/0\" }\n", 3,
     "links[0].interface: expected an interface name"},
    {"role: client\nlinks: [ {name: l0}, {name: l1}, {name: l2}, {name: "
     "l3},\n {name: l4}, {name: l5}, {name: l6}, {name: l7}, {name: l8}, "
     "{name: l9},\n {name: l10}, {name: l11}, {name: l12}, {name: l13},\n"
     " {name: l14}, {name: l15}, {name: l16} ]\n",
     5, "links[16]: too many links (at most 16)"},
    {"role: client\nlinks: { name: dsl }\n", 2,
     "links: expected a list of links, got a mapping"},
    /* required fields */
    {"role: client\nkey: /k\ntun: { address: 10.77.0.2/24 }\n"
     "links: [ { name: a } ]\n",
     1, "server: missing; expected server: { address: ..., port: ... }"},
    {"role: client\nserver: { address: 1.2.3.4 }\n"
     "tun: { address: 10.77.0.2/24 }\nlinks: [ { name: a } ]\n",
     1, "key: missing; expected the path of this client's key file"},
    {"role: client\nserver: { address: 1.2.3.4 }\nkey: /k\n"
     "tun: { name: t0 }\nlinks: [ { name: a } ]\n",
     4, "tun.address: missing; expected the client's inner IPv4 prefix"},
    {"role: client\nserver: { address: 1.2.3.4 }\nkey: /k\n"
     "links: [ { name: a } ]\n",
     1, "tun.address: missing"},
    {"role: client\nserver: { address: 1.2.3.4 }\nkey: /k\n"
     "tun: { address: 10.77.0.2/24 }\n",
     1, "links: a client needs at least one link"},
    {"role: client\nkey: \"\"\n", 2, "key: expected a non-empty string"},
    {"role: server\ntun: { address: 10.77.0.1/24 }\n", 1,
     "clients: a server needs at least one client"},
    {"role: server\nclients: []\n", 2,
     "clients: a server needs at least one client"},
    /* server side */
    {SERVER_HEAD "  - { name: phone, key: /k2, address: 10.77.0.2 }\n", 5,
     "clients[1]: address \"10.77.0.2\" is also clients[0]'s"},
    {SERVER_HEAD "  - { name: phone, address: 10.77.0.3 }\n", 5,
     "clients[1].key: missing"},
    {SERVER_HEAD "  - { name: phone, key: /k2 }\n", 5,
     "clients[1].address: missing; expected the client's inner IPv4 "
     "`address` and/or IPv6 `address6`"},
    {SERVER_HEAD "  - { name: phone, key: /k2, address: 10.77.0.1 }\n", 5,
     "clients[1].address: \"10.77.0.1\" is the server's own tun address"},
    {SERVER_HEAD "key: /k\n", 5, "key: only valid with role: client"},
    {SERVER_HEAD "server: { address: 1.2.3.4 }\n", 5,
     "server: only valid with role: client"},
    {SERVER_HEAD "scheduler: { upstream: { plugin: weighted } }\n", 5,
     "scheduler.upstream: only valid with role: client"},
    {SERVER_HEAD "links:\n  - { name: dsl }\n", 6,
     "links[0]: a server has no links"},
    {CLIENT_HEAD "clients: []\n", 6,
     "clients: only valid with role: "
     "server (this file has role: client)"},
    {CLIENT_HEAD "listen: { port: 1 }\n", 6,
     "listen: only valid with role: server"},
    /* units and ranges */
    {CLIENT_HEAD "keepalive: 10\n", 6,
     "keepalive: expected a duration like 100ms or 1.5s (units us, ms, "
     "s, m) from 0ms to 3600s, got \"10\""},
    {CLIENT_HEAD "probe: { interval: 1500us }\n", 6,
     "probe.interval: expected a duration"},
    {CLIENT_HEAD "probe: { interval: 0ms }\n", 6,
     "probe.interval: expected a duration like 100ms or 1.5s (units us, "
     "ms, s, m) from 1ms to 60s, got \"0ms\""},
    {CLIENT_HEAD "probe: { interval: 600ms }\n", 6,
     "probe.interval: \"600ms\" leaves the default timeout of 1000ms "
     "shorter than 2 intervals"},
    {CLIENT_HEAD "probe: { degraded_loss: 150% }\n", 6,
     "probe.degraded_loss: expected a percentage like 5% or 0.5%, at most "
     "100%, got \"150%\""},
    {CLIENT_HEAD "probe: { degraded_loss: 5 }\n", 6,
     "probe.degraded_loss: expected a percentage"},
    {CLIENT_HEAD "probe: { loss_window: 0 }\n", 6,
     "probe.loss_window: expected an integer from 1 to 10000, got \"0\""},
    {CLIENT_HEAD "reorder: { capacity: 131072 }\n", 6,
     "reorder.capacity: expected an integer from 16 to 65536, got "
     "\"131072\""},
    {CLIENT_HEAD "reorder: { min_hold: 50ms, max_hold: 20ms }\n", 6,
     "reorder.min_hold: min_hold (50ms) must not exceed max_hold (20ms)"},
    {CLIENT_HEAD "recovery: { store_packets: 1000 }\n", 6,
     "recovery.store_packets: expected a power of two from 16 to 65536, "
     "got \"1000\""},
    {CLIENT_HEAD "recovery: { store_packets: 8 }\n", 6,
     "recovery.store_packets: expected an integer from 16 to 65536"},
    {CLIENT_HEAD "recovery: { budget: 101 }\n", 6,
     "recovery.budget: expected an integer from 0 to 100, got \"101\""},
    {CLIENT_HEAD "recovery: { max_wait: 0ms }\n", 6,
     "recovery.max_wait: expected a duration"},
    {CLIENT_HEAD "recovery: { enabled: sometimes }\n", 6,
     "recovery.enabled: expected true or false"},
    {CLIENT_HEAD "recovery: { fec: true }\n", 6, "recovery.fec: unknown key"},
    {"role: client\nlinks:\n  - { name: a, quota: 5 parsecs }\n", 3,
     "links[0].quota: expected a size like 5GiB or 500MB, got \"5 "
     "parsecs\""},
    {"role: client\nlinks:\n  - { name: a, quota: 99999999TiB }\n", 3,
     "links[0].quota: expected a size"},
    {"role: client\nlinks:\n  - { name: a, rate: 20MBps }\n", 3,
     "links[0].rate: expected a rate like 20mbit or 1.5gbit, got "
     "\"20MBps\""},
    {"role: client\nlinks:\n  - { name: a, metered: maybe }\n", 3,
     "links[0].metered: expected true or false, got \"maybe\""},
    {"role: client\nlinks:\n  - { name: a, quota_reset_day: 31 }\n", 3,
     "links[0].quota_reset_day: expected an integer from 1 to 28, got "
     "\"31\""},
    {"role: client\nlinks:\n  - { name: a, mtu: 100 }\n", 3,
     "links[0].mtu: expected auto or an MTU from 576 to 65535, got "
     "\"100\""},
    {"role: client\ntun: { address6: \"fd::1/64\", mtu: 1000 }\n", 2,
     "tun.mtu: expected at least 1280 with an IPv6 address, got \"1000\""},
    {"role: client\ntun: { offload: on }\n", 2,
     "tun.offload: expected one of auto, off, got \"on\""},
    {CLIENT_HEAD "crypto: aes\n", 6,
     "crypto: expected one of encrypt, auth, none, got \"aes\""},
    {CLIENT_HEAD "cipher: aes\n", 6,
     "cipher: expected one of auto, aes-256-gcm, chacha20-poly1305, got "
     "\"aes\""},
    {CLIENT_HEAD "log: { level: loud }\n", 6,
     "log.level: expected one of error, warning, warn, notice, info, "
     "debug, got \"loud\""},
    {CLIENT_HEAD "control: { mode: \"0999\" }\n", 6,
     "control.mode: expected an octal file mode like \"0600\", got "
     "\"0999\""},
    {CLIENT_HEAD "control: { mode: \"07777\" }\n", 6,
     "control.mode: expected an octal file mode"},
    {CLIENT_HEAD "control: { socket: "
		 "/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		 "sock }\n",
     6, "control.socket: expected a string of at most 107 bytes"},
    {CLIENT_HEAD "plugin_dir: \"a\\tb\"\n", 6,
     "plugin_dir: expected a string of at most 255 bytes, got "
     "\"a\\x09b\""},
    {CLIENT_HEAD "flow_queue: { flows: 1000 }\n", 6,
     "flow_queue.flows: expected a power of two from 16 to 65536, got "
     "\"1000\""},
    {CLIENT_HEAD "flow_queue: { flows: 8 }\n", 6,
     "flow_queue.flows: expected an integer from 16 to 65536, got \"8\""},
    {CLIENT_HEAD "flow_queue: { quantum: 100 }\n", 6,
     "flow_queue.quantum: expected a size from 256 to 64KiB, got "
     "\"100\""},
    {CLIENT_HEAD "flow_queue: { interactive: games }\n", 6,
     "flow_queue.interactive: expected one of auto, dscp, off, got "
     "\"games\""},
    {CLIENT_HEAD "flow_queue: { duplicate: all }\n", 6,
     "flow_queue.duplicate: expected one of none, interactive, dscp, got "
     "\"all\""},
    {CLIENT_HEAD "flow_queue: { interactive_dscp: \"ef,cs8\" }\n", 6,
     "flow_queue.interactive_dscp: expected DSCP names (ef, cs0-cs7, "
     "af11-af43, va, le) or numbers 0-63 separated by commas, got "
     "\"ef,cs8\""},
    {CLIENT_HEAD "flow_queue: { interactive_dscp: \"64\" }\n", 6,
     "flow_queue.interactive_dscp: expected DSCP names"},
    {CLIENT_HEAD "flow_queue: { sparse_rate: 1kbit }\n", 6,
     "flow_queue.sparse_rate: expected at least 8kbit, got \"1kbit\""},
    {CLIENT_HEAD "flow_queue: { sparse_burst: 2MiB }\n", 6,
     "flow_queue.sparse_burst: expected a size from 64 bytes to 1MiB, got "
     "\"2MiB\""},
    {CLIENT_HEAD "flow_queue: { enabled: sometimes }\n", 6,
     "flow_queue.enabled: expected true or false, got \"sometimes\""},
    {CLIENT_HEAD "flow_queue: { bands: 3 }\n", 6,
     "flow_queue.bands: unknown key; expected one of enabled, flows, "
     "quantum, interactive, interactive_dscp, sparse_rate, sparse_burst, "
     "duplicate"},
    /* scheduler and plugin options */
    {CLIENT_HEAD "scheduler: { upstream: { weights: { dsl: 1 } } }\n", 6,
     "scheduler.upstream.plugin: missing; expected the scheduler "
     "plugin's name"},
    {CLIENT_HEAD "scheduler: { upstream: { plugin: Weighted } }\n", 6,
     "scheduler.upstream.plugin: expected a plugin name of 1 to 31 "
     "lowercase letters, digits, '-' or '_', got \"Weighted\""},
    {CLIENT_HEAD "scheduler:\n  upstream:\n    plugin: weighted\n"
		 "    order: [dsl, lte]\n",
     9, "scheduler.upstream.order: plugin options cannot be lists"},
    {CLIENT_HEAD "scheduler: { downstream: { plugin: a, \"x=y\": 1 } }\n", 6,
     "scheduler.downstream.x=y: expected an option name of letters"},
    {CLIENT_HEAD "scheduler: { downstream: [ roundrobin ] }\n", 6,
     "scheduler.downstream: expected a mapping like { plugin: roundrobin "
     "}, got a list"},
    /* http: loopback by default; anything else needs credentials */
    {CLIENT_HEAD "http: { listen: 0.0.0.0 }\n", 6,
     "http.listen: \"0.0.0.0\" is not a loopback address: set http.token"},
    {CLIENT_HEAD "http:\n  listen: \"[2001:db8::1]:80\"\n", 7,
     "http.listen: \"[2001:db8::1]:80\" is not a loopback address"},
    {CLIENT_HEAD "http: { token: short }\n", 6,
     "http.token: expected a non-empty string of at most 255 bytes"},
    {CLIENT_HEAD "http: { token: aaaaaaaaaaaaaaaa, token_file: /t }\n", 6,
     "http.token_file: give either token or token_file, not both"},
    {CLIENT_HEAD "http: { user: admin }\n", 6,
     "http.password: missing; expected a password"},
    {CLIENT_HEAD "http: { password: 12345678 }\n", 6,
     "http.user: missing; expected the basic-auth user name"},
    {CLIENT_HEAD "http: { listen: 127.0.0.1:0 }\n", 6,
     "http.listen: expected an address with an optional port"},
    {CLIENT_HEAD "http: { port: 80 }\n", 6,
     "http.port: unknown key; expected one of enabled, listen, token"},
    {CLIENT_HEAD "scheduler: { sideways: { plugin: a } }\n", 6,
     "scheduler.sideways: unknown key; expected one of upstream, "
     "downstream"},
    /* hooks */
    {CLIENT_HEAD "hooks: { link_up: notify-send up }\n", 6,
     "hooks.link_up: \"notify-send\" is not an absolute path; hooks run "
     "without a shell or PATH"},
    {CLIENT_HEAD "hooks: { link_down: \"/bin/echo 'oops\" }\n", 6,
     "hooks.link_down: unclosed ' in word 2"},
    {CLIENT_HEAD "hooks: { session_up: \"  \" }\n", 6,
     "hooks.session_up: empty command"},
    {SERVER_HEAD "hooks: { session_down: \"/bin/x a\\\\\" }\n", 5,
     "hooks.session_down: trailing backslash"},
    {CLIENT_HEAD "hooks: { link_sideways: /bin/true }\n", 6,
     "hooks.link_sideways: unknown key; expected one of link_up, "
     "link_down, session_up, session_down, timeout, max_running"},
    {CLIENT_HEAD "hooks: { timeout: 10 }\n", 6, "hooks.timeout:"},
    {CLIENT_HEAD "hooks: { timeout: 50ms }\n", 6, "hooks.timeout:"},
    {CLIENT_HEAD "hooks: { max_running: 0 }\n", 6, "hooks.max_running:"},
    {CLIENT_HEAD "hooks: { max_running: 65 }\n", 6, "hooks.max_running:"},
    {CLIENT_HEAD "hooks: [ /bin/true ]\n", 6, "hooks: expected a mapping"},
    {CLIENT_HEAD "hooks: { link_up: [ /bin/true ] }\n", 6, "hooks.link_up:"},
};

/* flow_queue: defaults and every key taking a good value. */
static void test_flow_queue_values(void **state)
{
	(void)state;
	struct config fc;
	struct err e = {0};
	config_defaults(&fc);
	assert_true(fc.flow_queue.enabled);
	assert_int_equal(fc.flow_queue.flows, 1024);
	assert_true(fc.flow_queue.dscp_mask == ((1ull << 46) | (1ull << 40) |
						(1ull << 48) | (1ull << 56)));
	static const char txt[] = CLIENT_HEAD
	    "flow_queue: { enabled: false, flows: 64, quantum: 300, "
	    "interactive: dscp, interactive_dscp: \"ef, af41, 8\", "
	    "sparse_rate: 2mbit, sparse_burst: 6000, "
	    "duplicate: interactive }\n";
	int ret = config_load_string(&fc, "t.yaml", txt, strlen(txt), &e);
	assert_int_equal(ret, 0);
	assert_false(fc.flow_queue.enabled);
	assert_int_equal(fc.flow_queue.flows, 64);
	assert_int_equal(fc.flow_queue.quantum, 300);
	assert_int_equal(fc.flow_queue.interactive, CFG_INTERACTIVE_DSCP);
	assert_true(fc.flow_queue.dscp_mask ==
		    ((1ull << 46) | (1ull << 34) | (1ull << 8)));
	assert_int_equal(fc.flow_queue.sparse_rate_bps, 2000000);
	assert_int_equal(fc.flow_queue.sparse_burst, 6000);
	assert_int_equal(fc.flow_queue.duplicate, CFG_DUP_INTERACTIVE);
}

/* `recovery:` is read into the config as written. */
static void test_recovery_section(void **state)
{
	(void)state;
	load_ok(CLIENT_HEAD "recovery: { enabled: false, budget: 5, "
			    "store_packets: 512, max_wait: 1s, "
			    "copy_ahead: true }\n");
	assert_false(cfg.recovery.enabled);
	assert_true(cfg.recovery.copy_ahead);
	assert_int_equal(cfg.recovery.budget_pct, 5);
	assert_int_equal(cfg.recovery.store_packets, 512);
	assert_int_equal(cfg.recovery.max_wait_ms, 1000);
}

/* hooks: defaults, and a full section kept as written (split at use). */
static void test_hooks(void **state)
{
	(void)state;
	load_ok(CLIENT_HEAD);
	for (int i = 0; i < CFG_HOOK_NEVENTS; i++)
		assert_string_equal(cfg.hooks.cmd[i], "");
	assert_int_equal(cfg.hooks.timeout_ms, 10000);
	assert_int_equal(cfg.hooks.max_running, 4);
	load_ok(CLIENT_HEAD "hooks:\n"
			    "  link_up: \"/usr/local/bin/led 'green on'\"\n"
			    "  link_down: /usr/local/bin/led red\n"
			    "  session_up: /bin/true\n"
			    "  session_down: /bin/false\n"
			    "  timeout: 2s\n"
			    "  max_running: 8\n");
	assert_string_equal(cfg.hooks.cmd[CFG_HOOK_LINK_UP],
			    "/usr/local/bin/led 'green on'");
	assert_string_equal(cfg.hooks.cmd[CFG_HOOK_SESSION_DOWN], "/bin/false");
	assert_int_equal(cfg.hooks.timeout_ms, 2000);
	assert_int_equal(cfg.hooks.max_running, 8);
}

/* server.address as a host name: kept for the resolver, links without
 * their own peer follow it, links with one keep theirs. */
static void test_server_host_name(void **state)
{
	(void)state;
	load_ok("role: client\n"
		"server: { address: vpn-1.Example.com, port: 6000 }\n"
		"key: /k\n"
		"tun: { address: 10.77.0.2/24 }\n"
		"links:\n"
		"  - { name: dsl }\n"
		"  - { name: lte, peer: \"192.0.2.9\" }\n");
	assert_string_equal(cfg.server_host, "vpn-1.Example.com");
	assert_int_equal(cfg.server_port, 6000);
	assert_int_equal(cfg.server.len, 0);
	assert_true(cfg.links[0].peer_is_server);
	assert_false(cfg.links[1].peer_is_server);
	assert_int_equal(cfg.links[1].peer.ss.ss_family, AF_INET);
	/* the port of a peer without one is server.port */
	assert_int_equal(
	    ntohs(((struct sockaddr_in *)&cfg.links[1].peer.ss)->sin_port),
	    6000);
	/* an IP address is still an address, and clears any name */
	load_ok(CLIENT_HEAD);
	assert_string_equal(cfg.server_host, "");
	assert_int_equal(cfg.server.ss.ss_family, AF_INET);
	assert_true(cfg.links[0].peer_is_server);
}

static void test_bad_texts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_texts) / sizeof(bad_texts[0]); i++)
		load_bad(bad_texts[i].text, bad_texts[i].line,
			 bad_texts[i].msg);
}

static const char *http_listen(uint16_t *port)
{
	static char buf[INET6_ADDRSTRLEN];
	const struct sockaddr_storage *ss = &cfg.http.listen.ss;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		*port = ntohs(in6->sin6_port);
		return inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
	}
	return ip4(&cfg.http.listen, port);
}

/* http: off without the section; on with it, 127.0.0.1:9580 unless told;
 * a non-loopback address is fine once there are credentials. */
static void test_http(void **state)
{
	uint16_t port;
	(void)state;
	load_ok(CLIENT_HEAD);
	assert_false(cfg.http.enabled);
	load_ok(CLIENT_HEAD "http: {}\n");
	assert_true(cfg.http.enabled);
	assert_string_equal(http_listen(&port), "127.0.0.1");
	assert_int_equal(port, 9580);
	load_ok(CLIENT_HEAD "http: { listen: \"[::1]:9000\" }\n");
	assert_string_equal(http_listen(&port), "::1");
	assert_int_equal(port, 9000);
	load_ok(CLIENT_HEAD "http: { listen: 127.0.0.2 }\n");
	assert_string_equal(http_listen(&port), "127.0.0.2");
	assert_int_equal(port, 9580);
	load_ok(CLIENT_HEAD
		"http: { listen: 0.0.0.0:9100, token: 0123456789abcdef }\n");
	assert_string_equal(cfg.http.token, "0123456789abcdef");
	assert_string_equal(http_listen(&port), "0.0.0.0");
	assert_int_equal(port, 9100);
	load_ok(CLIENT_HEAD "http: { listen: 10.0.0.1, token_file: /t }\n");
	assert_string_equal(cfg.http.token_file, "/t");
	load_ok(CLIENT_HEAD "http: { listen: 10.0.0.1, user: admin, "
			    "password_file: /p }\n");
	assert_string_equal(cfg.http.user, "admin");
	assert_string_equal(cfg.http.password_file, "/p");
	/* Off needs no credentials, wherever it would listen. */
	load_ok(CLIENT_HEAD "http: { enabled: false, listen: 0.0.0.0 }\n");
	assert_false(cfg.http.enabled);
	load_ok(SERVER_HEAD "http: { listen: 127.0.0.1:9581 }\n");
	assert_true(cfg.http.enabled);
}

static void test_too_many_plugin_options(void **state)
{
	char text[4096];
	size_t o;
	(void)state;
	o = (size_t)snprintf(text, sizeof(text),
			     CLIENT_HEAD "scheduler:\n  upstream:\n"
					 "    plugin: weighted\n");
	for (int i = 0; i < CFG_MAX_OPTS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "    k%d: %d\n", i, i);
	load_ok(text);
	assert_int_equal(cfg.sched[0].n_opts, CFG_MAX_OPTS);
	snprintf(text + o, sizeof(text) - o, "    one_more: 1\n");
	load_bad(text, 9 + CFG_MAX_OPTS,
		 "scheduler.upstream.one_more: too many plugin options (at "
		 "most 32)");
}

static void test_plugin_options(void **state)
{
	(void)state;
	load_ok(CLIENT_HEAD "scheduler:\n"
			    "  upstream:\n"
			    "    plugin: metered-overflow\n"
			    "    weights: { dsl: 3, lte: 1 }\n"
			    "    deep: { a: { b: { c: -7 } } }\n"
			    "    ratio: 0.25\n"
			    "    sticky: off\n"
			    "    mode: fast\n"
			    "    version: \"1.0\"\n"
			    "    quoted_int: '12'\n"
			    "    empty:\n");
	const struct cfg_sched *s = &cfg.sched[TTT_DIR_UPSTREAM];
	assert_string_equal(s->plugin, "metered-overflow");
	assert_int_equal(s->n_opts, 9);
	assert_int_equal(opt(s, "weights.dsl")->i, 3);
	assert_int_equal(opt(s, "weights.dsl")->line, 9);
	assert_int_equal(opt(s, "weights.lte")->i, 1);
	assert_int_equal(opt(s, "deep.a.b.c")->type, TTT_OPT_INT);
	assert_int_equal(opt(s, "deep.a.b.c")->i, -7);
	assert_int_equal(opt(s, "ratio")->type, TTT_OPT_FLOAT);
	assert_true(opt(s, "ratio")->d == 0.25);
	assert_int_equal(opt(s, "sticky")->type, TTT_OPT_BOOL);
	assert_int_equal(opt(s, "sticky")->b, 0);
	assert_int_equal(opt(s, "mode")->type, TTT_OPT_STRING);
	assert_string_equal(opt(s, "mode")->str, "fast");
	/* Quoting in YAML means "this is a string". */
	assert_int_equal(opt(s, "version")->type, TTT_OPT_STRING);
	assert_string_equal(opt(s, "version")->str, "1.0");
	assert_int_equal(opt(s, "quoted_int")->type, TTT_OPT_STRING);
	assert_int_equal(opt(s, "empty")->type, TTT_OPT_STRING);
	assert_string_equal(opt(s, "empty")->str, "");
	assert_int_equal(opt(s, "empty")->line, 16);
	assert_int_equal(cfg.sched[TTT_DIR_DOWNSTREAM].n_opts, 0);

	/* An option name that flattens to more than 63 bytes is refused. */
	load_bad(CLIENT_HEAD
		 "scheduler:\n  upstream:\n    plugin: x\n"
		 "    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:\n"
		 "      bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb: "
		 "1\n",
		 10, "option name longer than 63 bytes");
	/* A value longer than cfg_opt.str holds is refused, not cut. */
	char text[1024];
	char longv[200];
	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	snprintf(text, sizeof(text),
		 CLIENT_HEAD "scheduler: { upstream: { plugin: x, k: %s } }\n",
		 longv);
	load_bad(text, 6,
		 "scheduler.upstream.k: expected a value of at most 127 "
		 "bytes");
}

static void test_opt_set(void **state)
{
	struct cfg_opt o;
	(void)state;
	assert_int_equal(config_opt_set(&o, "w", "42", 7), 0);
	assert_int_equal(o.type, TTT_OPT_INT);
	assert_int_equal(o.i, 42);
	assert_true(o.d == 42.0);
	assert_int_equal(o.line, 7);
	assert_string_equal(o.key, "w");
	assert_string_equal(o.str, "42");
	assert_int_equal(config_opt_set(&o, "w", "-9223372036854775808", 1), 0);
	assert_int_equal(o.type, TTT_OPT_INT);
	assert_true(o.i == INT64_MIN);
	/* Past int64: still a number, as a float. */
	assert_int_equal(config_opt_set(&o, "w", "9223372036854775808", 1), 0);
	assert_int_equal(o.type, TTT_OPT_FLOAT);
	assert_int_equal(config_opt_set(&o, "b", "Yes", 1), 0);
	assert_int_equal(o.type, TTT_OPT_BOOL);
	assert_int_equal(o.b, 1);
	assert_int_equal(config_opt_set(&o, "b", "off", 1), 0);
	assert_int_equal(o.type, TTT_OPT_BOOL);
	assert_int_equal(o.b, 0);
	assert_int_equal(config_opt_set(&o, "f", "-1.5e3", 1), 0);
	assert_int_equal(o.type, TTT_OPT_FLOAT);
	assert_true(o.d == -1500.0);
	assert_int_equal(config_opt_set(&o, "f", ".5", 1), 0);
	assert_int_equal(o.type, TTT_OPT_FLOAT);
	/* Things strtod would take that are not config numbers. */
	const char *strings[] = {"nan",	  "inf",    "0x10", "1e", "1.2.3",
				 "1e999", "20mbit", "",	    "+",  "-."};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		assert_int_equal(config_opt_set(&o, "s", strings[i], 1), 0);
		if (o.type != TTT_OPT_STRING)
			print_error("%s classified as %u\n", strings[i],
				    o.type);
		assert_int_equal(o.type, TTT_OPT_STRING);
		assert_string_equal(o.str, strings[i]);
	}
	char big[200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(config_opt_set(&o, "k", big, 1), -ENAMETOOLONG);
	assert_int_equal(config_opt_set(&o, big, "1", 1), -ENAMETOOLONG);
	assert_int_equal(config_opt_set(&o, "", "1", 1), -EINVAL);
	assert_int_equal(config_opt_set(&o, NULL, "1", 1), -EINVAL);
	assert_int_equal(config_opt_set(&o, "k", NULL, 1), -EINVAL);
}

/* A unit parser seen as string -> uint64_t, so one table check serves
 * rates, sizes and durations: each good string gives its value, each bad
 * one -EINVAL. */
typedef int (*parse_u64_fn)(const char *s, uint64_t *out);
struct parse_case {
	const char *s;
	uint64_t want;
};

static void check_parser(const char *what, parse_u64_fn parse,
			 const struct parse_case *good, size_t n_good,
			 const char *const *bad, size_t n_bad)
{
	uint64_t v;
	for (size_t i = 0; i < n_good; i++) {
		v = 1;
		assert_int_equal(parse(good[i].s, &v), 0);
		if (v != good[i].want)
			print_error("%s %s: %llu\n", what, good[i].s,
				    (unsigned long long)v);
		assert_true(v == good[i].want);
	}
	for (size_t i = 0; i < n_bad; i++) {
		if (parse(bad[i], &v) != -EINVAL)
			print_error("%s %s accepted\n", what, bad[i]);
		assert_int_equal(parse(bad[i], &v), -EINVAL);
	}
}

static int parse_duration_u64(const char *s, uint64_t *out)
{
	uint32_t ms = 1;
	int ret = config_parse_duration_ms(s, &ms);
	*out = ms;
	return ret;
}

static void test_parse_rate(void **state)
{
	uint64_t v;
	(void)state;
	static const struct parse_case good[] = {
	    {"20mbit", 20000000},
	    {"1.5gbit", 1500000000},
	    {"100kbit", 100000},
	    {"100k", 100000},
	    {"8bit", 8},
	    {"8bps", 8},
	    {"2Mbps", 2000000},
	    {"3G", 3000000000ULL},
	    {"0.001kbit", 1},
	    {"0", 0},
	    {"10 mbit", 10000000},
	    {"18446744073bit", 18446744073ULL},
	    {"18446744073709551615bit", UINT64_MAX},
	};
	static const char *const bad[] = {"fast",     "",
					  "20",	      "20mb",
					  "20MBps",   "1.5",
					  "-1mbit",   "1.mbit",
					  ".5mbit",   "0.5bit",
					  "1e3mbit",  "20 mbit ",
					  "20mbit/s", "1.0000000000000000001g"};
	check_parser("rate", config_parse_rate, good, NF(good), bad, NF(bad));
	assert_int_equal(config_parse_rate(NULL, &v), -EINVAL);
	/* Overflow: 2^64 bit/s and beyond, however it is written. */
	assert_int_equal(config_parse_rate("18446744073709551616bit", &v),
			 -ERANGE);
	assert_int_equal(config_parse_rate("18446744074gbit", &v), -ERANGE);
	assert_int_equal(
	    config_parse_rate("99999999999999999999999999999999999999g", &v),
	    -ERANGE);
}

static void test_parse_size(void **state)
{
	uint64_t v;
	(void)state;
	static const struct parse_case good[] = {
	    {"5GiB", 5ULL << 30},
	    {"500MB", 500000000},
	    {"1KiB", 1024},
	    {"1kB", 1000},
	    {"1.5KiB", 1536},
	    {"2TiB", 2ULL << 40},
	    {"3TB", 3000000000000},
	    {"4096", 4096},
	    {"7B", 7},
	    {"16777215TiB", 16777215ULL << 40},
	};
	static const char *const bad[] = {"5gib", "5 parsecs", "",
					  "GiB",  "-5GiB",     "1.1B",
					  "5Gb",  "5K",	       "0x10"};
	check_parser("size", config_parse_size, good, NF(good), bad, NF(bad));
	assert_int_equal(config_parse_size("16777216TiB", &v), -ERANGE);
	assert_int_equal(config_parse_size("18446744073709551616", &v),
			 -ERANGE);
}

static void test_parse_duration(void **state)
{
	uint32_t v;
	(void)state;
	static const struct parse_case good[] = {
	    {"100ms", 100},	 {"1s", 1000},
	    {"1.5s", 1500},	 {"2m", 120000},
	    {"2500000us", 2500}, {"0", 0},
	    {"0.001s", 1},	 {"4294967295ms", UINT32_MAX},
	};
	static const char *const bad[] = {"10", "1.5ms", "500us", "1h",	  "s",
					  "",	"-1s",	 "1sec",  "1e3ms"};
	check_parser("duration", parse_duration_u64, good, NF(good), bad,
		     NF(bad));
	assert_int_equal(config_parse_duration_ms("4294967296ms", &v), -ERANGE);
	assert_int_equal(config_parse_duration_ms("99999999999999m", &v),
			 -ERANGE);
	assert_int_equal(
	    config_parse_duration_ms("999999999999999999999999s", &v), -ERANGE);
}

static void test_parse_percent(void **state)
{
	uint32_t v;
	(void)state;
	assert_int_equal(config_parse_percent_ppm("5%", &v), 0);
	assert_int_equal(v, 50000);
	assert_int_equal(config_parse_percent_ppm("0.5%", &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(config_parse_percent_ppm("100%", &v), 0);
	assert_int_equal(v, 1000000);
	assert_int_equal(config_parse_percent_ppm("0.0001%", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(config_parse_percent_ppm("100.0001%", &v), -ERANGE);
	assert_int_equal(config_parse_percent_ppm("0.00001%", &v), -EINVAL);
	assert_int_equal(config_parse_percent_ppm("5", &v), -EINVAL);
	assert_int_equal(config_parse_percent_ppm("%", &v), -EINVAL);
	assert_int_equal(config_parse_percent_ppm("five%", &v), -EINVAL);
}

/* What a reload compares (plugin, then each option's key and written value,
 * in order) and what a swap stores. */
static void test_sched_equal_set(void **state)
{
	struct cfg_sched a, b;
	struct cfg_opt o[2];
	memset(&a, 0, sizeof(a));
	assert_int_equal(config_opt_set(&o[0], "weights.dsl", "3", 1), 0);
	assert_int_equal(config_opt_set(&o[1], "weights.lte", "1", 2), 0);
	config_sched_set(&a, "weighted", o, 2);
	assert_string_equal(a.plugin, "weighted");
	assert_int_equal(a.n_opts, 2);
	assert_string_equal(a.opts[1].key, "weights.lte");
	assert_int_equal(a.opts[0].i, 3);
	b = a;
	assert_true(config_sched_equal(&a, &b));
	/* the line an option came from is not part of the choice */
	b.opts[0].line = 40;
	assert_true(config_sched_equal(&a, &b));
	b = a;
	snprintf(b.plugin, sizeof(b.plugin), "lowest-rtt");
	assert_false(config_sched_equal(&a, &b));
	b = a;
	b.n_opts = 1;
	assert_false(config_sched_equal(&a, &b));
	b = a;
	snprintf(b.opts[1].str, sizeof(b.opts[1].str), "2");
	assert_false(config_sched_equal(&a, &b));
	b = a;
	snprintf(b.opts[0].key, sizeof(b.opts[0].key), "weights.wifi");
	assert_false(config_sched_equal(&a, &b));
	/* "3" and "03" are the same number but not the same text: a reload
	 * passes them on, and the plugin decides. */
	b = a;
	snprintf(b.opts[0].str, sizeof(b.opts[0].str), "03");
	assert_false(config_sched_equal(&a, &b));
	config_sched_set(&b, "roundrobin", NULL, 0);
	assert_string_equal(b.plugin, "roundrobin");
	assert_int_equal(b.n_opts, 0);
}

static void test_io_errors(void **state)
{
	struct err e = {{0}};
	char path[1024];
	(void)state;
	assert_int_equal(config_load(&cfg, "/nonexistent/ttt.yaml", &e),
			 -ENOENT);
	assert_string_equal(e.msg,
			    "/nonexistent/ttt.yaml: No such file or directory");
	src_path(path, sizeof(path), "tests/unit/configs");
	assert_int_equal(config_load(&cfg, path, &e), -EISDIR);
	assert_non_null(strstr(e.msg, "Is a directory"));
	/* NULL err is allowed: the code still says what went wrong. */
	assert_int_equal(config_load_string(&cfg, "x", "role: x\n", 8, NULL),
			 -EINVAL);
	assert_int_equal(config_load_string(&cfg, "x", NULL, 3, &e), -EINVAL);
	/* Not NUL-terminated: only len bytes are read. */
	const char text[] = CLIENT_HEAD "garbage: [";
	assert_int_equal(
	    config_load_string(&cfg, "x", text, strlen(CLIENT_HEAD), &e), 0);
}

/* A huge file is refused after CFG_EVENTS_MAX nodes, before the document
 * is built: a SIGHUP with such a file must not hold a running daemon's
 * loop for long (#10.5). */
static void test_node_bound(void **state)
{
	size_t cap = 50000 * 16 + 64, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	len += (size_t)snprintf(text, cap, "role: client\nx:\n");
	for (int i = 0; i < 50000; i++)
		len += (size_t)snprintf(text + len, cap - len, "  k%d: v\n", i);
	struct config *big = malloc(sizeof(*big));
	assert_non_null(big);
	struct err e = {{0}};
	assert_int_equal(config_load_string(big, "big.yaml", text, len, &e),
			 -EFBIG);
	assert_non_null(strstr(e.msg, "big.yaml:"));
	assert_non_null(strstr(e.msg, "more than 16384 YAML nodes"));
	free(big);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_client),
	    cmocka_unit_test(test_example_server),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_http),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_role_last_and_values),
	    cmocka_unit_test(test_hooks),
	    cmocka_unit_test(test_server_host_name),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_bad_texts),
	    cmocka_unit_test(test_flow_queue_values),
	    cmocka_unit_test(test_recovery_section),
	    cmocka_unit_test(test_too_many_plugin_options),
	    cmocka_unit_test(test_plugin_options),
	    cmocka_unit_test(test_opt_set),
	    cmocka_unit_test(test_parse_rate),
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_percent),
	    cmocka_unit_test(test_sched_equal_set),
	    cmocka_unit_test(test_io_errors),
	    cmocka_unit_test(test_node_bound),
	};
	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
