/*
 * NSS look-ups (core/os/nss.c): entries every Linux system has (root, uid 0,
 * group root), a name that does not exist, and the buffer handed back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "os/nss.h"

static void test_passwd(void **state)
{
	struct passwd pw;
	char *buf = NULL;
	assert_int_equal(nss_passwd_by_name("root", &pw, &buf), 0);
	assert_int_equal(pw.pw_uid, 0);
	assert_string_equal(pw.pw_name, "root");
	free(buf);
	buf = NULL;
	assert_int_equal(nss_passwd_by_uid(0, &pw, &buf), 0);
	assert_string_equal(pw.pw_name, "root");
	free(buf);
	buf = NULL;
	assert_int_equal(nss_passwd_by_name("no-such-user-ttt", &pw, &buf),
			 -ENOENT);
	assert_null(buf);
	assert_int_equal(nss_passwd_by_uid(4000000000u, &pw, &buf), -ENOENT);
	assert_null(buf);
}

static void test_group(void **state)
{
	struct group gr;
	char *buf = NULL;
	assert_int_equal(nss_group_by_name("root", &gr, &buf), 0);
	assert_int_equal(gr.gr_gid, 0);
	free(buf);
	buf = NULL;
	assert_int_equal(nss_group_by_name("no-such-group-ttt", &gr, &buf),
			 -ENOENT);
	assert_null(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_passwd),
	    cmocka_unit_test(test_group),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
