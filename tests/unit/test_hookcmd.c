/*
 * Hook command lines split without a shell (os/hookcmd.h): words, both
 * quotes, backslashes, and every malformed line refused with a reason;
 * nothing a shell would expand is special.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "os/hookcmd.h"

static int split(const char *cmd, char **argv, char *buf, size_t bufsz,
		 struct err *e)
{
	return hookcmd_split(cmd, buf, bufsz, argv, HOOKCMD_MAX_ARGS + 1, e);
}

static void expect(const char *cmd, int n, ...)
{
	char buf[512], *argv[HOOKCMD_MAX_ARGS + 1];
	struct err e = {{0}};
	int got = split(cmd, argv, buf, sizeof(buf), &e);
	if (got != n)
		fail_msg("\"%s\": %d words, expected %d (%s)", cmd, got, n,
			 e.msg);
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(argv[i], va_arg(ap, const char *));
	va_end(ap);
	assert_null(argv[n]);
}

static void expect_bad(const char *cmd, int err, const char *why)
{
	char buf[512], *argv[HOOKCMD_MAX_ARGS + 1];
	struct err e = {{0}};
	assert_int_equal(split(cmd, argv, buf, sizeof(buf), &e), err);
	if (!strstr(e.msg, why))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", cmd, e.msg,
			 why);
}

static void test_words(void **state)
{
	expect("/bin/true", 1, "/bin/true");
	expect("  /bin/echo  a\tb   c  ", 4, "/bin/echo", "a", "b", "c");
	expect("/x 'a b' \"c d\"", 3, "/x", "a b", "c d");
	expect("/x a'b c'd", 2, "/x", "ab cd");
	expect("/x 'it''s'", 2, "/x", "its");
	expect("/x \"say \\\"hi\\\"\" \"back\\\\slash\" \"\\n\"", 4, "/x",
	       "say \"hi\"", "back\\slash", "\\n");
	expect("/x a\\ b \\'q\\'", 3, "/x", "a b", "'q'");
	expect("/x '' \"\"", 3, "/x", "", "");
	expect("/x 'a \\ b'", 2, "/x", "a \\ b"); /* literal in '' */
}

/* What a shell would expand is plain text here. */
static void test_no_shell(void **state)
{
	expect("/x $HOME ~ * ; rm -rf / | cat > f `id` $(id) &&", 15, "/x",
	       "$HOME", "~", "*", ";", "rm", "-rf", "/", "|", "cat", ">", "f",
	       "`id`", "$(id)", "&&");
}

static void test_bad(void **state)
{
	expect_bad("", -EINVAL, "empty command");
	expect_bad("   \t ", -EINVAL, "empty command");
	expect_bad("/x 'open", -EINVAL, "unclosed '");
	expect_bad("/x \"open", -EINVAL, "unclosed \"");
	expect_bad("/x \"a\\\"", -EINVAL, "unclosed \"");
	expect_bad("/x a\\", -EINVAL, "trailing backslash");
	expect_bad("notify-send up", -EINVAL, "not an absolute path");
	expect_bad("./hook.sh", -EINVAL, "not an absolute path");
	expect_bad("'' /x", -EINVAL, "not an absolute path");
	char many[512] = "/x";
	for (int i = 0; i < HOOKCMD_MAX_ARGS; i++)
		strcat(many, " a");
	expect_bad(many, -EINVAL, "more than");
	/* exactly the maximum is fine */
	many[strlen(many) - 2] = 0;
	char buf[512], *argv[HOOKCMD_MAX_ARGS + 1];
	struct err e;
	assert_int_equal(split(many, argv, buf, sizeof(buf), &e),
			 HOOKCMD_MAX_ARGS);
	/* a buffer that is too small is an error, never an overflow */
	assert_int_equal(split("/bin/echo hello", argv, buf, 8, &e), -ENOSPC);
	assert_int_equal(split("/bin/echo 'hello'", argv, buf, 12, &e),
			 -ENOSPC);
	assert_int_equal(split("/b", argv, buf, 3, &e), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_words),
	    cmocka_unit_test(test_no_shell),
	    cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
