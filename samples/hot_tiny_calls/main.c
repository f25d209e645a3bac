/*
 * hot_tiny_calls: add_mod() is called a million times and does almost
 * nothing each time, so its time is mostly the cost of the call: `cprof
 * hotspots` finds it (rule tiny_calls: make it static inline or batch the
 * work). The loop in main that calls it pays the rest of each call's cost,
 * which makes main hot_self as well.
 */
#include <stdio.h>

#define CALLS 1000000U

__attribute__((noinline)) unsigned add_mod(unsigned a, unsigned b)
{
    return (a + b) % 1000003U;
}

int main(void)
{
    unsigned s = 0;
    for (unsigned i = 0; i < CALLS; i++)
        s = add_mod(s, i);
    printf("sum %u\n", s);
    return 0;
}
