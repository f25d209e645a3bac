/*
 * inline: small `static inline` helpers called from several call sites in
 * a loop. At -O2 the compiler inlines every one of them, yet cprof reports
 * the same counts as at -O0, because clang inserts the entry/exit hooks
 * before it inlines: what is counted is the calls written in the source.
 *
 * Per iteration of the 1000-iteration loop: square is called at three call
 * sites, clamp at two, mix at one (and mix calls square once more).
 */
#include <stdio.h>

static inline unsigned square(unsigned x)
{
    return x * x;
}

static inline unsigned clamp(unsigned x, unsigned lo, unsigned hi)
{
    if (x < lo)
        return lo;
    if (x > hi)
        return hi;
    return x;
}

static inline unsigned mix(unsigned a, unsigned b)
{
    return (a ^ (b << 3)) + square(b);
}

int main(void)
{
    unsigned acc = 1;
    for (unsigned i = 0; i < 1000; i++) {
        unsigned a = square(i);
        unsigned b = square(acc & 0xff);
        acc = mix(acc, clamp(a, 10, 5000)) + clamp(b, 0, 100) + square(i & 7);
    }
    printf("checksum: %u\n", acc);
    return 0;
}
