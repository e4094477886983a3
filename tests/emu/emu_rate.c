/*
 * The capacity of the emulated link over time, apart from the queues: which
 * rate each direction has now. Like the impairment model it reads no clock,
 * so the unit test can drive it with made-up times; the relay copies the
 * result into each direction's parameters.
 */
#include "emu.h"

/* The rate of one direction: --rate-down for to_client if given, else the
 * same as to_server. 0 = unlimited. */
uint64_t imp_rate_now(const struct imp_params *p, bool to_client)
{
	return to_client && p->rate_down_set ? p->rate_down_bps : p->rate_bps;
}
