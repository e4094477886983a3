/*
 * Dropping root (privdrop.c), for real: each case forks a child that calls
 * privdrop_to_user() and then inspects itself through the kernel's own
 * account, /proc/self/status (uids, gids, groups, every capability set,
 * NoNewPrivs), and tries to get root back. The parent only reads the
 * child's verdict, so the test process itself stays root. Needs root
 * (skipped otherwise). Fails if any capability beyond CAP_NET_ADMIN and
 * CAP_NET_RAW survives, a uid/gid/group is left at root, root can be
 * regained, or a refused call stops saying why.
 */
#include <errno.h>
#include <linux/capability.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"

#include "os/plugin_trust.h"
#include "os/privdrop.h"

#define KEPT ((1ull << CAP_NET_ADMIN) | (1ull << CAP_NET_RAW))

static uid_t nobody_uid;
static gid_t nobody_gid;

/* The value after "key:" in /proc/self/status, copied into out. */
static int status_field(const char *key, char *out, size_t outlen)
{
	char line[512];
	size_t klen = strlen(key);
	int ret = -ENOENT;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		const char *v = line + klen + 1;
		v += strspn(v, " \t");
		int n = (int)strcspn(v, "\n");
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--; /* "Groups:" ends with a space */
		snprintf(out, outlen, "%.*s", n, v);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static int status_hex(const char *key, unsigned long long *v)
{
	char buf[64], *end;
	int ret = status_field(key, buf, sizeof(buf));

	if (ret < 0)
		return ret;
	*v = strtoull(buf, &end, 16);
	return *end ? -EINVAL : 0;
}

/* "Uid:"/"Gid:" lines hold real, effective, saved and filesystem ids. */
static bool all_ids_are(const char *key, unsigned id)
{
	char buf[128];
	unsigned a[4];

	if (status_field(key, buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%u %u %u %u", &a[0], &a[1], &a[2], &a[3]) != 4)
		return false;
	for (int i = 0; i < 4; i++)
		if (a[i] != id)
			return false;
	return true;
}

/*
 * The child after a successful drop. Exit code: 0 = all good, otherwise
 * the number of the first check that failed (reported by the parent).
 */
static int child_drop(void)
{
	struct err e = {{0}};
	unsigned long long v;
	char buf[128];

	if (privdrop_done())
		return 1;
	if (privdrop_to_user("nobody", &e) != 0) {
		fprintf(stderr, "privdrop_to_user: %s\n", e.msg);
		return 2;
	}
	if (!privdrop_done())
		return 3;
	if (getuid() != nobody_uid || geteuid() != nobody_uid)
		return 4;
	if (getgid() != nobody_gid || getegid() != nobody_gid)
		return 5;
	if (!all_ids_are("Uid", nobody_uid) || !all_ids_are("Gid", nobody_gid))
		return 6;
	/* Only its own group is left: no supplementary root group. */
	snprintf(buf, sizeof(buf), "%u", (unsigned)nobody_gid);
	char groups[128];
	if (status_field("Groups", groups, sizeof(groups)) < 0 ||
	    strcmp(groups, buf) != 0)
		return 7;
	if (status_hex("CapEff", &v) < 0 || v != KEPT)
		return 8;
	if (status_hex("CapPrm", &v) < 0 || v != KEPT)
		return 9;
	if (status_hex("CapBnd", &v) < 0 || v != KEPT)
		return 10;
	if (status_hex("CapInh", &v) < 0 || v != 0)
		return 11;
	if (status_hex("CapAmb", &v) < 0 || v != 0)
		return 12;
	if (status_field("NoNewPrivs", buf, sizeof(buf)) < 0 ||
	    strcmp(buf, "1") != 0)
		return 13;
	/* Root does not come back by any door. */
	if (setuid(0) == 0 || seteuid(0) == 0 || setresuid(0, 0, 0) == 0)
		return 14;
	if (setgid(0) == 0 || setresgid(0, 0, 0) == 0)
		return 15;
	/* Reading what only root may (CAP_DAC_OVERRIDE is gone). */
	if (access("/etc/shadow", R_OK) == 0)
		return 17;
	/* The plugin trust rule keeps applying after the drop. */
	if (!plugin_trust_enforced())
		return 18;
	/* A second call as the same user is a no-op that succeeds. */
	if (privdrop_to_user("nobody", &e) != 0)
		return 19;
	return 0;
}

static void need_root(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || !pw)
		skip();
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
}

static void test_drop_to_nobody(void **state)
{
	(void)state;
	need_root();
	assert_int_equal(run_in_child(child_drop), 0);
	/* The parent was never touched. */
	assert_int_equal(geteuid(), 0);
	assert_false(privdrop_done());
}

static void test_empty_user_is_noop(void **state)
{
	struct err e = {{0}};

	(void)state;
	assert_int_equal(privdrop_to_user("", &e), 0);
	assert_int_equal(privdrop_to_user(NULL, &e), 0);
	assert_false(privdrop_done());
}

static void test_refuses_root(void **state)
{
	struct err e = {{0}};

	(void)state;
	need_root();
	assert_int_equal(privdrop_to_user("root", &e), -EINVAL);
	assert_non_null(strstr(e.msg, "root"));
	assert_non_null(strstr(e.msg, "unprivileged"));
	assert_false(privdrop_done());
	assert_int_equal(geteuid(), 0);
}

static void test_unknown_user(void **state)
{
	struct err e = {{0}};

	(void)state;
	assert_int_equal(privdrop_to_user("ttt-no-such-user-for-this-test", &e),
			 -ENOENT);
	assert_non_null(strstr(e.msg, "\"ttt-no-such-user-for-this-test\""));
	assert_non_null(strstr(e.msg, "no such user"));
	assert_false(privdrop_done());
}

/* Not root and not the requested user: refused with the reason. */
static int child_not_root(void)
{
	struct err e = {{0}};

	if (setresgid(nobody_gid, nobody_gid, nobody_gid) < 0 ||
	    setresuid(nobody_uid, nobody_uid, nobody_uid) < 0)
		return 10;
	if (privdrop_to_user("root", &e) != -EPERM)
		return 1;
	if (!strstr(e.msg, "needs the daemon started as root"))
		return 2;
	if (privdrop_done())
		return 3;
	/* Started as that user already: nothing to do. */
	if (privdrop_to_user("nobody", &e) != 0 || privdrop_done())
		return 4;
	return 0;
}

static void test_not_root(void **state)
{
	(void)state;
	need_root();
	assert_int_equal(run_in_child(child_not_root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drop_to_nobody),
	    cmocka_unit_test(test_empty_user_is_noop),
	    cmocka_unit_test(test_refuses_root),
	    cmocka_unit_test(test_unknown_user),
	    cmocka_unit_test(test_not_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
