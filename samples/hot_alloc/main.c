/*
 * hot_alloc: format_line() is called 20,000 times and each call allocates
 * a line buffer, writes into it, sums it and frees it: 20,000 short-lived
 * blocks where one reused buffer would do. digest() does the real work.
 * `cprof hotspots` finds format_line (rule hot_alloc: reuse one buffer)
 * and digest (hot_self).
 */
#include <stdio.h>
#include <stdlib.h>

#define LINES 20000U

__attribute__((noinline)) static unsigned format_line(unsigned i)
{
    char *buf = malloc(64);
    if (!buf)
        return 0;
    int n = snprintf(buf, 64, "line %u of %u", i, LINES);
    unsigned sum = 0;
    for (int k = 0; k < n; k++)
        sum += (unsigned char)buf[k];
    free(buf);
    return sum;
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
    unsigned long sum = 0;
    for (unsigned i = 0; i < LINES; i++)
        sum += format_line(i);
    sum ^= digest(40000000UL);
    printf("checksum %lu\n", sum & 0xffff);
    return 0;
}
