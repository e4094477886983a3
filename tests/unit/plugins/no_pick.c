/* Test plugin without the required pick op. */
#include <tuntuntun/sched.h>

static const struct ttt_sched_ops ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "no_pick",
};

TTT_SCHED_PLUGIN(ops)
