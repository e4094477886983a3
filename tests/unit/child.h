/*
 * For unit tests whose body changes the process for good (drops privileges,
 * changes uid): run it in a forked child. Include after <cmocka.h>.
 */
#ifndef TTT_TEST_CHILD_H
#define TTT_TEST_CHILD_H

#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a child and returns its exit status: fn's return value, 0 for
 * a pass, else the number of the check that failed. Buffered output is
 * flushed first so the child does not print it again. */
static inline int run_in_child(int (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#endif
