/*
 * hot_self: crunch() takes nearly all of the run's self time, almost all
 * of it on the one line of its inner loop; prepare() does a tenth as much.
 * Built with --cprof-lines=crunch, `cprof hotspots` names crunch (rule
 * hot_self) and its hot line; nothing else.
 */
#include <stdio.h>

#define ROUNDS 20
#define WORK 200000UL

__attribute__((noinline)) static unsigned long prepare(unsigned long n)
{
    unsigned long x = n;
    for (unsigned long i = 0; i < n; i++)
        x = x * 2862933555777941757UL + 3037000493UL;
    return x;
}

__attribute__((noinline)) static unsigned long crunch(unsigned long n)
{
    unsigned long h = 1469598103934665603UL;
    for (unsigned long i = 0; i < n; i++)
        h = (h ^ (i & 0xff)) * 1099511628211UL;
    return h;
}

int main(void)
{
    unsigned long x = 0;
    for (int r = 0; r < ROUNDS; r++) {
        x ^= prepare(WORK / 10);
        x ^= crunch(WORK);
    }
    printf("checksum %lu\n", x & 0xffff);
    return 0;
}
