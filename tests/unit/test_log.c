/*
 * log.c's three outputs: a time-stamped line on a terminal or file; a
 * "<N>"-prefixed line without time stamp when $JOURNAL_STREAM names the
 * very file stderr is (as systemd sets it for a service); and the level
 * filter. stderr is pointed at a temporary file for each case, and the
 * cases differ only in $JOURNAL_STREAM, so each is the others' control.
 */
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"

static char path[] = "/tmp/ttt-log.XXXXXX";
static int saved = -1;

/* stderr -> a fresh temporary file; returns its "dev:ino". */
static const char *capture(void)
{
	static char id[64];
	struct stat st;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	snprintf(id, sizeof(id), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	return id;
}

/* Restores stderr and returns what was written (static buffer). */
static const char *captured(void)
{
	static char buf[4096];
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	strcpy(path, "/tmp/ttt-log.XXXXXX");
	return buf;
}

static void assert_matches(const char *text, const char *re)
{
	regex_t r;
	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NEWLINE), 0);
	int m = regexec(&r, text, 0, NULL, 0);
	regfree(&r);
	if (m != 0)
		fail_msg("\"%s\" does not match /%s/", text, re);
}

static void test_plain(void **state)
{
	(void)state;
	capture();
	unsetenv("JOURNAL_STREAM");
	log_init("t", LOG_INFO, 0);
	log_warn("link", "lte: %s", "down");
	const char *out = captured();
	assert_matches(out, "^[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} warning "
			    "link: lte: down\n$");
}

static void test_journal(void **state)
{
	(void)state;
	setenv("JOURNAL_STREAM", capture(), 1);
	log_init("t", LOG_DEBUG, 0);
	log_err("config", "bad");
	log_warn("link", "lte: down");
	log_notice("session", "up");
	log_info("tun", "ttt0 up");
	log_debug("sched", "pick");
	const char *out = captured();
	assert_string_equal(out, "<3>error config: bad\n"
				 "<4>warning link: lte: down\n"
				 "<5>notice session: up\n"
				 "<6>info tun: ttt0 up\n"
				 "<7>debug sched: pick\n");
	unsetenv("JOURNAL_STREAM");
}

/* A unit whose stderr was redirected elsewhere: JOURNAL_STREAM is set but
 * names another file, so the lines keep their time stamps. */
static void test_journal_other_file(void **state)
{
	(void)state;
	capture();
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_init("t", LOG_INFO, 0);
	log_notice("daemon", "started");
	const char *out = captured();
	assert_matches(out, "^[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} notice "
			    "daemon: started\n$");
	setenv("JOURNAL_STREAM", "garbage", 1);
	capture();
	log_init("t", LOG_INFO, 0);
	log_notice("daemon", "started");
	assert_matches(captured(), "^[0-9]{2}:[0-9]{2}");
	unsetenv("JOURNAL_STREAM");
}

static void test_level_filter(void **state)
{
	(void)state;
	setenv("JOURNAL_STREAM", capture(), 1);
	log_init("t", LOG_WARNING, 0);
	log_info("tun", "hidden");
	log_debug("tun", "hidden");
	log_warn("tun", "shown");
	assert_string_equal(captured(), "<4>warning tun: shown\n");
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(log_level_from_name("warn"), LOG_WARNING);
	assert_int_equal(log_level_from_name("notice"), LOG_NOTICE);
	assert_int_equal(log_level_from_name("loud"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_journal),
	    cmocka_unit_test(test_journal_other_file),
	    cmocka_unit_test(test_level_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
