/*
 * For unit tests that change kernel network state: run the body in a forked
 * child inside a fresh network namespace, so the host is never touched and
 * everything the body made vanishes with the child. Include after
 * <cmocka.h>. CHECK/OK report the failing line from inside the child; OK
 * expects a `struct err e` in scope.
 */
#ifndef TTT_TEST_NETNS_CHILD_H
#define TTT_TEST_NETNS_CHILD_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			return 1;                                              \
		}                                                              \
	} while (0)

#define OK(expr)                                                               \
	do {                                                                   \
		int r_ = (expr);                                               \
		if (r_ < 0) {                                                  \
			fprintf(stderr, "%s:%d: %s = %d: %s\n", __FILE__,      \
				__LINE__, #expr, r_, e.msg);                   \
			return 1;                                              \
		}                                                              \
	} while (0)

/* Runs body in a forked child in a new network namespace (root only;
 * skipped otherwise) and asserts that it returned 0. */
static inline void in_netns(int (*body)(void))
{
	if (geteuid() != 0)
		skip();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0) {
			perror("unshare(CLONE_NEWNET)");
			exit(2);
		}
		exit(body() ? 1 : 0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

#endif
