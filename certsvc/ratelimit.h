/*
 * ratelimit.h: counting failures per key in fixed windows, in memory, for
 * the redemption of 免证办 codes (pcode.c): per verifier client and per
 * source address.
 */
#ifndef CERTSVC_RATELIMIT_H
#define CERTSVC_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "certsvc/err.h"

#define RATELIMIT_KEY_MAX 48

struct ratelimit;

/*
 * A limiter allowing limit failures per key in a window of window
 * seconds that opens with the key's first failure, remembering at most
 * slots keys (rounded up to a multiple of RATELIMIT_WAYS).  *out given
 * (ratelimit_free).
 */
enum cs_rc ratelimit_new(unsigned limit, unsigned window, size_t slots,
    struct ratelimit **out, struct cs_err *err);
void ratelimit_free(struct ratelimit *rl);

/*
 * 0 when key (len bytes, at most RATELIMIT_KEY_MAX: longer keys are cut)
 * may try at now, else the seconds until its window closes (>= 1), for
 * Retry-After.  Thread-safe.
 */
unsigned ratelimit_check(
    struct ratelimit *rl, const void *key, size_t len, int64_t now);

/* Count a failure of key at now. */
void ratelimit_fail(
    struct ratelimit *rl, const void *key, size_t len, int64_t now);

#endif
