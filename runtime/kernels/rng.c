/* rng.c — the seeded generator (xoshiro256** seeded by splitmix64), uniform
 * doubles, unbiased bounded integers, Fisher–Yates shuffling, PyTorch's
 * default uniform initialisation, and training-mode dropout. All state lives
 * in the caller's nnr_rng. */
#include <stddef.h>
#include <stdint.h>

#include "../nnr.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nnr_rng_seed(nnr_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t nnr_rng_next(nnr_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nnr_rng_uniform(nnr_rng *r)
{
    return (double)(nnr_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Rejection: draws below 2^64 mod n are rejected, the rest taken mod n.
 * n == 0 returns 0 without drawing. */
uint64_t nnr_rng_below(nnr_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = nnr_rng_next(r);
        if (x >= threshold) return x % n;
    }
}

void nnr_rng_shuffle(nnr_rng *r, int32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)nnr_rng_below(r, (uint64_t)i);
        int32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

void nnr_init_uniform(nnr_rng *r, float *p, size_t len, float bound)
{
    const double b = bound;
    for (size_t i = 0; i < len; i++) p[i] = (float)((2.0 * nnr_rng_uniform(r) - 1.0) * b);
}

/* One uniform draw per element when 0 < p < 1; p <= 0 keeps everything and
 * p >= 1 drops everything, neither drawing. */
void nnr_dropout_f32(nnr_rng *r, float p, size_t len, const float *x, float *y,
                     float *mask)
{
    if (p <= 0.0f || p >= 1.0f) {
        float m = p <= 0.0f ? 1.0f : 0.0f;
        for (size_t i = 0; i < len; i++) {
            if (mask) mask[i] = m;
            y[i] = x[i] * m;
        }
        return;
    }
    const float scale = 1.0f / (float)(1.0 - (double)p);
    const double dp = p;
    for (size_t i = 0; i < len; i++) {
        float m = nnr_rng_uniform(r) < dp ? 0.0f : scale;
        if (mask) mask[i] = m;
        y[i] = x[i] * m;
    }
}
