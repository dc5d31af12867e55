/*
 * ratelimit.c: failure counters in fixed windows, per key, in a bounded
 * set-associative table.
 *
 * A key's window opens with its first failure and lasts window seconds;
 * while it holds limit failures the key is refused until it closes.  So
 * a key gets at most limit failures per window, plus the attempts that
 * were already under way when the limit was reached (at most one per
 * handler thread: the check and the count are separate, so that a busy
 * client's successful requests never wait for each other).
 *
 * Memory is bounded: a key hashes (FNV-1a with a random per-table seed,
 * so that keys cannot be chosen to collide without knowing it) to a
 * bucket of RATELIMIT_WAYS slots.  A new key takes a free or closed slot,
 * else the slot whose window opened first.  Flooding a bucket with new
 * keys can thus evict a counter early; that matters for source
 * addresses, which an attacker can vary, and not for clients, which only
 * the administrator creates: the per-client limit is the bound that
 * holds (docs/codes.md).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "certsvc/ratelimit.h"

#define RATELIMIT_WAYS 4

struct ratelimit_slot {
	uint8_t key[RATELIMIT_KEY_MAX];
	uint8_t len; /* 0: free */
	unsigned count;
	int64_t start; /* when the window opened */
};

struct ratelimit {
	pthread_mutex_t mu;
	unsigned limit, window;
	uint64_t seed;
	size_t nbuckets;
	struct ratelimit_slot *slots; /* nbuckets * RATELIMIT_WAYS */
};

enum cs_rc
ratelimit_new(unsigned limit, unsigned window, size_t slots,
    struct ratelimit **out, struct cs_err *err)
{
	struct ratelimit *rl;

	*out = NULL;
	if (limit == 0 || window == 0 || slots == 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "a rate limit needs a limit, a window and slots");
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rl->limit = limit;
	rl->window = window;
	rl->nbuckets = (slots + RATELIMIT_WAYS - 1) / RATELIMIT_WAYS;
	rl->slots = calloc(rl->nbuckets * RATELIMIT_WAYS, sizeof(*rl->slots));
	if (rl->slots == NULL) {
		free(rl);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	if (RAND_bytes((unsigned char *)&rl->seed, sizeof(rl->seed)) != 1) {
		free(rl->slots);
		free(rl);
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot seed rate limit");
	}
	if (pthread_mutex_init(&rl->mu, NULL) != 0) {
		free(rl->slots);
		free(rl);
		return cs_err_set(err, CS_ERR_NOMEM, "cannot create a mutex");
	}
	*out = rl;
	return CS_OK;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->slots);
	free(rl);
}

static struct ratelimit_slot *
bucket_of(const struct ratelimit *rl, const uint8_t *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ rl->seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return rl->slots + (h % rl->nbuckets) * RATELIMIT_WAYS;
}

/* The slot of key in b, or NULL. */
static struct ratelimit_slot *
slot_find(struct ratelimit_slot *b, const uint8_t *key, size_t len)
{
	int i;

	for (i = 0; i < RATELIMIT_WAYS; i++)
		if (b[i].len == len && memcmp(b[i].key, key, len) == 0)
			return &b[i];
	return NULL;
}

static bool
slot_open(
    const struct ratelimit *rl, const struct ratelimit_slot *s, int64_t now)
{
	return s->len > 0 && now >= s->start && now - s->start < rl->window;
}

unsigned
ratelimit_check(struct ratelimit *rl, const void *key, size_t len, int64_t now)
{
	struct ratelimit_slot *s;
	unsigned wait = 0;

	if (rl == NULL)
		return 0;
	if (len > RATELIMIT_KEY_MAX)
		len = RATELIMIT_KEY_MAX;
	pthread_mutex_lock(&rl->mu);
	s = slot_find(bucket_of(rl, key, len), key, len);
	if (s != NULL && slot_open(rl, s, now) && s->count >= rl->limit)
		wait = (unsigned)(s->start + rl->window - now);
	pthread_mutex_unlock(&rl->mu);
	return wait;
}

void
ratelimit_fail(struct ratelimit *rl, const void *key, size_t len, int64_t now)
{
	struct ratelimit_slot *b, *s;
	int i;

	if (rl == NULL || len == 0)
		return;
	if (len > RATELIMIT_KEY_MAX)
		len = RATELIMIT_KEY_MAX;
	pthread_mutex_lock(&rl->mu);
	b = bucket_of(rl, key, len);
	s = slot_find(b, key, len);
	if (s == NULL) {
		/* A free or closed slot, else the oldest window. */
		s = &b[0];
		for (i = 0; i < RATELIMIT_WAYS; i++) {
			if (!slot_open(rl, &b[i], now)) {
				s = &b[i];
				break;
			}
			if (b[i].start < s->start)
				s = &b[i];
		}
		memcpy(s->key, key, len);
		s->len = (uint8_t)len;
		s->count = 0;
		s->start = now;
	}
	if (!slot_open(rl, s, now)) {
		s->count = 0;
		s->start = now;
	}
	s->count++;
	pthread_mutex_unlock(&rl->mu);
}
