/*
 * The Makefile builds ttt-linkemu from the tests/emu sources alone, without
 * libttt, so the project's logger (core/base/log.c, found through -Icore) is
 * compiled in here rather than copied: the emulator logs exactly like the
 * daemon.
 */
#include "base/log.c"
