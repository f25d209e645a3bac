/*
 * hot_tiny_calls: add_mod() is called 400,000 times and does almost
 * nothing each time, so its time is mostly the cost of the call; digest()
 * does the real work in a few long calls. `cprof hotspots` finds add_mod
 * (rule tiny_calls: make it static inline or batch the work) and digest
 * (hot_self).
 */
#include <stdio.h>

#define CALLS 400000U

__attribute__((noinline)) unsigned add_mod(unsigned a, unsigned b)
{
    return (a + b) % 1000003U;
}

__attribute__((noinline)) static unsigned long digest(unsigned long n)
{
    unsigned long h = 14695981039346656037UL;
    for (unsigned long i = 0; i < n; i++)
        h = (h ^ (i & 0xff)) * 1099511628211UL;
    return h;
}

int main(void)
{
    unsigned s = 0;
    unsigned long h = 0;
    for (unsigned i = 0; i < CALLS; i++)
        s = add_mod(s, i);
    for (int r = 0; r < 4; r++)
        h ^= digest(10000000UL);
    printf("sum %u, digest %lu\n", s, h & 0xffff);
    return 0;
}
