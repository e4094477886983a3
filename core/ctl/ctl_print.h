/*
 * Human-readable rendering of control replies for tuntunctl: the status
 * report with one aligned table per links array, and the plugin list. Kept
 * out of tuntunctl's main so it can be unit-tested into a memory stream.
 * Every printer is tolerant: a missing or mistyped field prints as "-".
 */
#ifndef TTT_CTL_PRINT_H
#define TTT_CTL_PRINT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* "512 B", "146.5 KiB", "1.2 MiB", ... (binary units, one decimal). */
void ctl_print_fmt_bytes(char *buf, size_t n, double bytes);
/* "45s", "12m05s", "3h02m", "2d04h". */
void ctl_print_fmt_duration(char *buf, size_t n, double seconds);

/* Human output fits this many columns unless CTL_PRINT_WIDE is asked. */
#define CTL_PRINT_WIDTH 80
/* Flags: the link tables also show packet, byte and error counts (wider
 * than CTL_PRINT_WIDTH). */
#define CTL_PRINT_WIDE 1u

/* The whole `status` reply: header lines, then links (client) or one block
 * per session (server); ctl_print_status() is the 80-column form. */
void ctl_print_status(FILE *f, const json_t *status);
void ctl_print_status_opts(FILE *f, const json_t *status, unsigned flags);
/* One links array as an 80-column table, each line prefixed with `indent`
 * (notes under the table). */
void ctl_print_links(FILE *f, const json_t *links, const char *indent);
/* The `plugins` reply ({"plugins":[...]}) as a table. */
void ctl_print_plugins(FILE *f, const json_t *reply);

/*
 * For `watch`: fills "tx_bps"/"rx_bps" on links of `cur` that lack them,
 * from the byte counters' growth since `prev` (the previous status, taken
 * dt_s seconds earlier). Links are matched by name (and by session client
 * on a server). Returns how many rates it filled.
 */
int ctl_print_derive_rates(json_t *cur, const json_t *prev, double dt_s);

#endif
