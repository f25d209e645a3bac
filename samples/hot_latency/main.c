/*
 * hot_latency: handle() serves 1,000 requests; 980 take the fast path
 * (a few microseconds of work) and every 50th the slow path (a 5 ms wait),
 * so handle's median call is fast and its 99th percentile 5 ms: the slow
 * 2% are what to look at. `cprof hotspots` finds handle (rule latency) and
 * slow_path, where the time goes (hot_self).
 */
#include <stdio.h>
#include <time.h>

#define REQUESTS 1000

__attribute__((noinline)) static unsigned long fast_path(unsigned long x)
{
    for (int i = 0; i < 2000; i++)
        x = (x ^ (unsigned long)(i & 0xff)) * 6364136223846793005UL;
    return x;
}

__attribute__((noinline)) static unsigned long slow_path(unsigned long x)
{
    struct timespec t = {0, 5000000L};
    while (nanosleep(&t, &t) != 0)
        ;
    return x + 1;
}

__attribute__((noinline)) static unsigned long handle(int i, unsigned long x)
{
    return i % 50 == 49 ? slow_path(x) : fast_path(x);
}

int main(void)
{
    unsigned long x = 1;
    for (int i = 0; i < REQUESTS; i++)
        x = handle(i, x);
    printf("%d requests, checksum %lu\n", REQUESTS, x & 0xffff);
    return 0;
}
