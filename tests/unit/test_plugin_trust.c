/*
 * The plugin trust rule (plugin_trust.c) on real files: a root daemon loads
 * only root-owned plugins nobody else can write, from directories that are
 * root-owned and not writable by others all the way up (sticky root-owned
 * directories excepted), following symlinks to where the file really is.
 * Files and directories are made in a fresh directory under /run (or /tmp)
 * with the owners and modes under test; needs root (skipped otherwise).
 * Each test fails if a file the rule refuses is accepted, or the reverse,
 * or the message stops naming the culprit and the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"

#include "os/plugin_trust.h"

static char base[PATH_MAX];
static bool usable; /* root, nobody exists, / and /tmp pass the rule */
static uid_t nobody_uid;
static gid_t nobody_gid;

/* base/rel, in a static buffer per slot so a test can hold a few. */
static const char *P(int slot, const char *rel)
{
	static char buf[4][PATH_MAX];
	int n = snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", base, rel);
	assert_true(n > 0 && (size_t)n < sizeof(buf[slot]));
	return buf[slot];
}

static void mk_dir(const char *rel, mode_t mode, uid_t uid)
{
	const char *p = P(3, rel);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(chown(p, uid, 0), 0);
	assert_int_equal(chmod(p, mode), 0); /* after chown: keeps S_ISVTX */
}

static void mk_file(const char *rel, mode_t mode, uid_t uid)
{
	const char *p = P(3, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(chown(p, uid, 0), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static void mk_link(const char *target_rel, const char *rel)
{
	assert_int_equal(symlink(P(2, target_rel), P(3, rel)), 0);
}

/* What the plugin loader does: open, fstat, check the opened object. */
static int check_file(const char *rel, struct err *e)
{
	const char *p = P(0, rel);
	struct stat st;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	int rc;

	memset(e, 0, sizeof(*e));
	if (fd < 0)
		return -errno;
	assert_int_equal(fstat(fd, &st), 0);
	rc = plugin_trust_check(p, &st, e);
	assert_int_equal(close(fd), 0);
	return rc;
}

static int check_dir(const char *rel, struct err *e)
{
	memset(e, 0, sizeof(*e));
	return plugin_trust_check_dir(P(0, rel), e);
}

#define assert_msg_has(e, s)                                                   \
	do {                                                                   \
		if (!strstr((e)->msg, (s)))                                    \
			fail_msg("message \"%s\" lacks \"%s\"", (e)->msg,      \
				 (s));                                         \
	} while (0)

static int rm_cb(const char *path, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -errno : 0;
}

static int setup(void **state)
{
	struct err e;
	struct passwd *pw = getpwnam("nobody");

	(void)state;
	usable = false;
	base[0] = '\0';
	if (geteuid() != 0 || !pw)
		return 0; /* each test skips */
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
	/* Prefer a parent that is not sticky, so the sticky exception is
	 * exercised only where test_sticky_dirs means to (under /tmp a
	 * broken exception would just make every test skip). */
	static const char *const parents[] = {"/run", "/tmp"};
	for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
		snprintf(base, sizeof(base), "%s/ttt-trust-XXXXXX", parents[i]);
		if (!mkdtemp(base))
			continue;
		if (chmod(base, 0755) < 0)
			return -1;
		/* The machine's own directories above must pass. */
		if (plugin_trust_check_dir(base, &e) == 0) {
			usable = true;
			break;
		}
		fprintf(stderr, "not using %s: %s\n", parents[i], e.msg);
		if (rmdir(base) < 0)
			return -1;
	}
	if (!usable)
		base[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (base[0] &&
	    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -1;
	base[0] = '\0';
	return 0;
}

static void need_root(void)
{
	if (!usable)
		skip();
}

static void test_enforced_as_root(void **state)
{
	(void)state;
	need_root();
	assert_true(plugin_trust_enforced());
}

/* root 0755 directory, root file without group/other write: loads. */
static void test_good_file(void **state)
{
	struct err e;

	(void)state;
	need_root();
	mk_dir("ok", 0755, 0);
	mk_file("ok/a.so", 0644, 0);
	mk_file("ok/b.so", 0755, 0);
	mk_file("ok/c.so", 0400, 0);
	assert_int_equal(check_dir("ok", &e), 0);
	assert_int_equal(check_file("ok/a.so", &e), 0);
	assert_int_equal(check_file("ok/b.so", &e), 0);
	assert_int_equal(check_file("ok/c.so", &e), 0);
}

static void test_file_not_root(void **state)
{
	struct err e;

	(void)state;
	need_root();
	mk_dir("ok", 0755, 0);
	mk_file("ok/user.so", 0644, nobody_uid);
	assert_int_equal(check_file("ok/user.so", &e), -EPERM);
	assert_msg_has(&e, P(1, "ok/user.so"));
	assert_msg_has(&e, "refusing to load");
	assert_msg_has(&e, "is not owned by root");
	char uid[32];
	snprintf(uid, sizeof(uid), "uid %d", (int)nobody_uid);
	assert_msg_has(&e, uid);
}

/* Group or world write on the file, whatever else is set. */
static void test_file_writable(void **state)
{
	static const mode_t bad[] = {0666, 0664, 0646, 0620, 0602, 0777};
	struct err e;
	char name[32], mode[32];

	(void)state;
	need_root();
	mk_dir("ok", 0755, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "ok/w%04o.so", (unsigned)bad[i]);
		mk_file(name, bad[i], 0);
		assert_int_equal(check_file(name, &e), -EPERM);
		assert_msg_has(&e, "is writable by group or others");
		snprintf(mode, sizeof(mode), "mode %04o", (unsigned)bad[i]);
		assert_msg_has(&e, mode);
	}
}

/* A writable directory: refused as a directory and for every file in it,
 * and the message names the directory. */
static void test_dir_writable(void **state)
{
	static const mode_t bad[] = {0775, 0757, 0777};
	struct err e;
	char dir[32], file[48], mode[32];

	(void)state;
	need_root();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(dir, sizeof(dir), "d%04o", (unsigned)bad[i]);
		snprintf(file, sizeof(file), "%s/p.so", dir);
		mk_dir(dir, bad[i], 0);
		mk_file(file, 0644, 0);
		assert_int_equal(check_dir(dir, &e), -EPERM);
		assert_msg_has(&e, "refusing plugins under");
		assert_msg_has(&e, "is writable by group or others");
		snprintf(mode, sizeof(mode), "mode %04o", (unsigned)bad[i]);
		assert_msg_has(&e, mode);
		assert_int_equal(check_file(file, &e), -EPERM);
		assert_msg_has(&e, P(1, dir));
	}
}

static void test_dir_not_root(void **state)
{
	struct err e;

	(void)state;
	need_root();
	mk_dir("mine", 0755, nobody_uid);
	mk_file("mine/p.so", 0644, 0);
	assert_int_equal(check_dir("mine", &e), -EPERM);
	assert_msg_has(&e, "is not owned by root");
	assert_int_equal(check_file("mine/p.so", &e), -EPERM);
	assert_msg_has(&e, "is not owned by root");
}

/* Sticky and root-owned (like /tmp): others cannot rename or remove root's
 * entries, so it may be world-writable. Sticky but owned by someone else:
 * that owner can, so no. */
static void test_sticky_dirs(void **state)
{
	struct err e;

	(void)state;
	need_root();
	mk_dir("tmpish", 01777, 0);
	mk_dir("tmpish/ok", 0755, 0);
	mk_file("tmpish/ok/p.so", 0644, 0);
	assert_int_equal(check_dir("tmpish", &e), 0);
	assert_int_equal(check_file("tmpish/ok/p.so", &e), 0);

	mk_dir("usersticky", 01777, nobody_uid);
	mk_dir("usersticky/ok", 0755, 0);
	mk_file("usersticky/ok/p.so", 0644, 0);
	assert_int_equal(check_dir("usersticky/ok", &e), -EPERM);
	assert_msg_has(&e, P(1, "usersticky"));
	assert_msg_has(&e, "is not owned by root");
	assert_int_equal(check_file("usersticky/ok/p.so", &e), -EPERM);

	/* A sticky bit on a plugin file means nothing. */
	mk_dir("ok", 0755, 0);
	mk_file("ok/sticky.so", 01666, 0);
	assert_int_equal(check_file("ok/sticky.so", &e), -EPERM);
	assert_msg_has(&e, "is writable by group or others");
}

/* Every directory above counts, not only the one holding the file. */
static void test_ancestor_writable(void **state)
{
	struct err e;

	(void)state;
	need_root();
	mk_dir("open", 0777, 0);
	mk_dir("open/a", 0755, 0);
	mk_dir("open/a/b", 0755, 0);
	mk_file("open/a/b/p.so", 0644, 0);
	assert_int_equal(check_dir("open/a/b", &e), -EPERM);
	assert_msg_has(&e, P(1, "open/a/b")); /* what was asked */
	assert_msg_has(&e, P(1, "open "));    /* the culprit */
	assert_int_equal(check_file("open/a/b/p.so", &e), -EPERM);
	assert_msg_has(&e, P(1, "open "));
}

/* Symlinks are followed to where the file really lives: a link in a good
 * directory to a file in a bad one is refused, naming the bad one; a
 * directory link to a bad directory too. */
static void test_symlinks(void **state)
{
	struct err e;

	(void)state;
	need_root();
	mk_dir("ok", 0755, 0);
	mk_dir("bad", 0777, 0);
	mk_file("bad/p.so", 0644, 0);
	mk_file("ok/real.so", 0644, 0);
	mk_link("bad/p.so", "ok/link.so");
	mk_link("ok/real.so", "ok/good-link.so");
	mk_link("bad", "ok/dirlink");

	assert_int_equal(check_file("ok/link.so", &e), -EPERM);
	assert_msg_has(&e, P(1, "bad "));
	assert_int_equal(check_file("ok/good-link.so", &e), 0);
	assert_int_equal(check_dir("ok/dirlink", &e), -EPERM);
	assert_msg_has(&e, P(1, "bad "));
	assert_int_equal(check_file("ok/dirlink/p.so", &e), -EPERM);

	/* A link to a user's file: the opened object is what is judged. */
	mk_file("ok/user.so", 0644, nobody_uid);
	mk_link("ok/user.so", "ok/to-user.so");
	assert_int_equal(check_file("ok/to-user.so", &e), -EPERM);
	assert_msg_has(&e, "is not owned by root");
}

static void test_missing(void **state)
{
	struct err e;

	(void)state;
	need_root();
	assert_int_equal(check_dir("nonexistent", &e), -ENOENT);
	assert_msg_has(&e, P(1, "nonexistent"));
}

/* An ordinary user's daemon may load its own files: not enforced. */
static int child_plain_user(void)
{
	struct err e;
	struct stat st;
	const char *p = P(0, "bad/user.so");

	if (setgroups(0, NULL) < 0 ||
	    setresgid(nobody_gid, nobody_gid, nobody_gid) < 0 ||
	    setresuid(nobody_uid, nobody_uid, nobody_uid) < 0)
		return 10;
	if (plugin_trust_enforced())
		return 1;
	if (stat(p, &st) < 0)
		return 11;
	if (plugin_trust_check(p, &st, &e) != 0)
		return 2;
	if (plugin_trust_check_dir(P(0, "bad"), &e) != 0)
		return 3;
	return 0;
}

/* Only the effective uid dropped: the real uid is still root, which can
 * come back, so the rule still holds. */
static int child_euid_only(void)
{
	struct err e;
	struct stat st;
	const char *p = P(0, "bad/user.so");

	if (setresuid(0, nobody_uid, 0) < 0)
		return 10;
	if (!plugin_trust_enforced())
		return 1;
	if (stat(p, &st) < 0)
		return 11;
	if (plugin_trust_check(p, &st, &e) != -EPERM)
		return 2;
	if (plugin_trust_check_dir(P(0, "bad"), &e) != -EPERM)
		return 3;
	return 0;
}

static void test_enforcement_rule(void **state)
{
	(void)state;
	need_root();
	mk_dir("bad", 0777, 0);
	mk_file("bad/user.so", 0666, nobody_uid);
	assert_int_equal(run_in_child(child_plain_user), 0);
	assert_int_equal(run_in_child(child_euid_only), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_enforced_as_root, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_not_root, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_file_writable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_dir_writable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_not_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sticky_dirs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ancestor_writable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enforcement_rule, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
