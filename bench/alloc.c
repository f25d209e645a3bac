/*
 * The allocation benchmark's workload (bench/overhead.sh, "alloc"): one
 * instrumented function making malloc and free calls of mixed sizes, with
 * the exact number of calls known, so that the time cprof's malloc
 * interposition adds per call can be computed.
 *
 *   alloc N   N rounds of: free one of 64 live blocks picked at random,
 *             malloc a new one of 16 to 4111 bytes in its place: 2*N calls
 *             of the malloc family (the first frees are of NULL), then the
 *             64 blocks left are freed
 *
 * The blocks are touched so that the compiler cannot drop the pairs. Build
 * it plain, with -finstrument-functions and do-nothing hooks, and with
 * cprof: the difference between the last two is the interposition's cost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE 64

static char *blocks[LIVE];
static unsigned long long alloc_calls;

static unsigned long long work(long rounds)
{
    unsigned x = 2463534242u;
    unsigned long long sum = 0;
    for (long r = 0; r < rounds; r++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned slot = x & (LIVE - 1);
        size_t size = 16 + ((x >> 8) & 4095);
        if (blocks[slot])
            sum += (unsigned char)blocks[slot][0];
        free(blocks[slot]);
        blocks[slot] = malloc(size);
        if (!blocks[slot])
            exit(1);
        blocks[slot][0] = (char)size;
        alloc_calls += 2;
    }
    for (unsigned i = 0; i < LIVE; i++) {
        free(blocks[i]);
        alloc_calls++;
    }
    return sum;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "alloc") != 0) {
        fprintf(stderr, "usage: alloc alloc N\n");
        return 2;
    }
    long n = atol(argv[2]);
    unsigned long long sum = work(n);
    printf("alloc %ld = %llu, %llu allocation calls\n", n, sum, alloc_calls);
    return 0;
}
