/*
 * hot_wait: nap() sleeps 2 ms thirty times and compute() works for about
 * as long, so both take half of the wall time, but only compute() uses
 * the CPU. Recorded with CPU time (CPROF_CPU=1), `cprof hotspots` tells
 * them apart: nap is waiting (rule waiting), compute is computing
 * (hot_self).
 */
#include <stdio.h>
#include <time.h>

#define ROUNDS 30

__attribute__((noinline)) static void nap(void)
{
    struct timespec t = {0, 2000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

__attribute__((noinline)) static unsigned long compute(unsigned long n)
{
    unsigned long h = 14695981039346656037UL;
    for (unsigned long i = 0; i < n; i++)
        h = (h ^ (i & 0xff)) * 1099511628211UL;
    return h;
}

int main(void)
{
    unsigned long h = 0;
    for (int r = 0; r < ROUNDS; r++) {
        nap();
        h ^= compute(1000000UL);
    }
    printf("checksum %lu\n", h & 0xffff);
    return 0;
}
