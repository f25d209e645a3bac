/*
 * lines: a program whose line hits are known exactly, for `cprof lines`.
 * Built with `cprof-cc --cprof-lines='sum_*,classify,count_down,wait_a_bit,
 * worker'`; samples/lines/expected lists every line's hits and
 * tests/e2e/test_lines_samples.c checks them at -O0 and -O2 in each mode.
 * One statement per line, so that a line's hits are the number of times
 * control reached it (loop headers count their test each time it runs).
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static int sum_loop(int n)
{
    int s = 0;
    int i = 0;
    while (i < n) {
        s += i;
        i++;
    }
    return s;
}

static int sum_early(int n)
{
    if (n < 0)
        return -1;
    int s = 0;
    for (int i = 0; i < n; i++)
        s += i;
    return s;
}

static const char *classify(int v)
{
    switch (v % 4) {
    case 0:
        return "zero";
    case 1:
        return "one";
    default:
        break;
    }
    if (v > 10)
        return "big";
    return "other";
}

static int count_down(int n)
{
    if (n == 0)
        return 0;
    return 1 + count_down(n - 1);
}

static void nap(void)
{
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void wait_a_bit(void)
{
    int x = 1;
    nap();
    x++;
    (void)x;
}

static void *worker(void *arg)
{
    long s = 0;
    int i = 0;
    while (i < 50) {
        s += sum_loop(3);
        i++;
    }
    *(long *)arg = s;
    return NULL;
}

int main(void)
{
    long total = 0;
    total += sum_loop(10);
    total += sum_early(5);
    total += sum_early(-1);
    for (int v = 0; v < 20; v++)
        total += classify(v)[0];
    total += count_down(4);
    wait_a_bit();
    long a = 0, b = 0;
    pthread_t t1, t2;
    pthread_create(&t1, NULL, worker, &a);
    pthread_create(&t2, NULL, worker, &b);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("total %ld, threads %ld %ld\n", total, a, b);
    return 0;
}
