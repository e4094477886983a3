/*
 * What the one-shot modes' event loops share (echo, sink, generator):
 * SIGINT and SIGTERM end the loop, so the mode still prints its report.
 */
#include "emu.h"

#include <signal.h>

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

void emu_stop_start(struct ev_loop *loop, struct emu_stop *st)
{
	ev_signal_init(&st->sint, stop_cb, SIGINT);
	ev_signal_start(loop, &st->sint);
	ev_signal_init(&st->sterm, stop_cb, SIGTERM);
	ev_signal_start(loop, &st->sterm);
}

void emu_stop_stop(struct ev_loop *loop, struct emu_stop *st)
{
	ev_signal_stop(loop, &st->sint);
	ev_signal_stop(loop, &st->sterm);
}
