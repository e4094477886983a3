/* Test plugin that forgets TTT_SCHED_PLUGIN: no entry symbol to find. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tuntuntun/sched.h>

__attribute__((visibility("default"))) int not_the_entry(void);
__attribute__((visibility("default"))) int not_the_entry(void)
{
	return 42;
}
