/*
 * steady: profile only the steady state of a long-running program.
 *
 * A toy request server warms up first (builds its lookup table, serves
 * 2000 warm-up requests that fill its cache), then serves 5000 requests in
 * its steady state. Only the steady state matters: main stops recording
 * before the warm-up and starts it again after, and marks the steady
 * phase as a region. cprof_flush() writes the file once the steady phase
 * is done (a daemon would flush this way while it runs on).
 *
 * Counted: main 1 (entered while recording was on), the region "steady"
 * 1, handle 5000, parse 5000, lookup 5000, respond 5000, key_request 5000,
 * miss 500 (every tenth request asks for a key the warm-up never saw). Nothing of the
 * warm-up: build_table, warm_up and their 2000 handle calls are left out.
 *
 * It builds with plain cc too: <cprof.h>'s calls then do nothing.
 */
#if defined(__has_include)
#if __has_include(<cprof.h>)
#include <cprof.h>
#else
#include "../../include/cprof.h" /* the source tree, not installed */
#endif
#else
#include "../../include/cprof.h"
#endif
#include <stdio.h>

#define TABLE 4096
#define WARM_REQUESTS 2000
#define STEADY_REQUESTS 5000

static unsigned table[TABLE];
static unsigned char cached[TABLE];

__attribute__((noinline)) static unsigned parse(unsigned request)
{
    return request % TABLE;
}

__attribute__((noinline)) static unsigned miss(unsigned key)
{
    cached[key] = 1;
    return table[key] ^ 0x5a5a5a5au;
}

__attribute__((noinline)) static unsigned lookup(unsigned key)
{
    return cached[key] ? table[key] : miss(key);
}

__attribute__((noinline)) static unsigned respond(unsigned value)
{
    return value % 1000003u;
}

__attribute__((noinline)) static unsigned handle(unsigned request)
{
    return respond(lookup(parse(request)));
}

__attribute__((noinline)) static void build_table(void)
{
    for (unsigned i = 0; i < TABLE; i++)
        table[i] = i * 40503u + 17u;
}

__attribute__((noinline)) static unsigned warm_up(void)
{
    unsigned sum = 0;
    build_table();
    for (unsigned i = 0; i < WARM_REQUESTS; i++)
        sum += handle(i);
    return sum;
}

/* Every tenth request asks for a key of its own, never seen before; the
 * others for keys the warm-up cached. */
static unsigned key_request(unsigned i)
{
    return i % 10 == 9 ? WARM_REQUESTS + i / 10 : i % WARM_REQUESTS;
}

int main(void)
{
    cprof_stop();
    unsigned warm = warm_up();
    cprof_start();
    unsigned sum = 0;
    CPROF_REGION("steady")
    {
        for (unsigned i = 0; i < STEADY_REQUESTS; i++)
            sum += handle(key_request(i));
    }
    cprof_flush();
    printf("warm-up %u, steady %u\n", warm, sum);
    return 0;
}
