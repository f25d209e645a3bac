/*
 * latency: requests with a known latency distribution. request() is called
 * 100 times; 90 of its calls wait about 1 ms (fast_request) and 10 wait
 * about 10 ms (slow_request), every tenth call. So request's median and
 * 90th percentile time per call are about 1 ms and its 99th percentile
 * about 10 ms, while its mean (total/call, 1.9 ms) describes no call at
 * all: what `cprof report --percentiles` shows.
 */
#include <stdio.h>
#include <time.h>

static void wait_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

__attribute__((noinline)) static void fast_request(void)
{
    wait_ms(1);
}

__attribute__((noinline)) static void slow_request(void)
{
    wait_ms(10);
}

__attribute__((noinline)) static void request(int i)
{
    if (i % 10 == 9)
        slow_request();
    else
        fast_request();
}

int main(void)
{
    for (int i = 0; i < 100; i++)
        request(i);
    printf("100 requests\n");
    return 0;
}
