/* sd_notify(3) wrapper; see sdnotify.h. */
#include "os/sdnotify.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

#ifdef TTT_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

/* The last STATUS= sent: systemd keeps it, no need to repeat it. */
static char last_status[256];

static void notify(const char *what, const char *msg)
{
	/* 0: not run by systemd; < 0: could not send (debug: nothing to do). */
	int ret = sd_notify(0, msg);
	if (ret < 0)
		log_debug("systemd", "sd_notify %s: %s", what, strerror(-ret));
}

bool sdnotify_built_in(void)
{
	return true;
}

void sdnotify_ready(const char *status)
{
	char msg[300];
	snprintf(last_status, sizeof(last_status), "%s", status ? status : "");
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", last_status);
	notify("READY", msg);
}

void sdnotify_status(const char *status)
{
	char msg[300];
	if (!status ||
	    strncmp(status, last_status, sizeof(last_status) - 1) == 0)
		return;
	snprintf(last_status, sizeof(last_status), "%s", status);
	snprintf(msg, sizeof(msg), "STATUS=%s", last_status);
	notify("STATUS", msg);
}

void sdnotify_reloading(void)
{
	char msg[96];
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
		     (unsigned long long)ts.tv_nsec / 1000ull);
	notify("RELOADING", msg);
}

void sdnotify_stopping(void)
{
	notify("STOPPING", "STOPPING=1");
}

#else /* no libsystemd: nothing to tell */

bool sdnotify_built_in(void)
{
	return false;
}
void sdnotify_ready(const char *status)
{
	(void)status;
}
void sdnotify_status(const char *status)
{
	(void)status;
}
void sdnotify_reloading(void)
{
}
void sdnotify_stopping(void)
{
}
#endif
