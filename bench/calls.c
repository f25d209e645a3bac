/*
 * The overhead benchmark's workloads: call-heavy code whose exact number of
 * instrumented calls is known, so that time added per call can be computed.
 *   calls fib N   naive recursive Fibonacci: 2*F(N+1)-1 calls of fib, + main
 *   calls mix N   N rounds of a small realistic mix: a hash, a table lookup,
 *                 a comparator called back from libc's qsort
 *   calls chain N N calls of a function calling a leaf twice, each leaf a
 *                 chain of 24 dependent multiplications (about 10 ns): calls
 *                 with a body, where overhead compensation can be checked
 *                 against the plain build (bench/overhead.sh)
 *   calls mix-threads N
 *                 mix N in each of 2 threads at once (+ 1 call of the
 *                 thread function each): the profiler's per-thread cost
 *                 when two threads call at the same time
 * Prints the CPU and wall time of the workload (a line "time: ...", for the
 * compensation table of bench/overhead.sh), then the number of instrumented
 * calls it made (counted by the program itself, so every build does the
 * same work). The counter and the mix's
 * data are thread-local, so that the threads of mix-threads share no
 * cache line the program itself writes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static __thread unsigned long long calls;

static long fib(int n)
{
    calls++;
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static unsigned hash(unsigned x)
{
    calls++;
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    return x;
}

#define SLOTS 4096
static __thread unsigned table[SLOTS];

static int lookup(unsigned key)
{
    calls++;
    unsigned h = hash(key) & (SLOTS - 1);
    if (table[h] == key)
        return 1;
    table[h] = key;
    return 0;
}

static int compare(const void *a, const void *b)
{
    calls++;
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

static long mix(int rounds)
{
    static __thread unsigned items[256];
    long hits = 0;
    for (int r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < 256; i++) {
            items[i] = hash(i * 2654435761u + (unsigned)r);
            hits += lookup(items[i] % 1000);
        }
        qsort(items, 256, sizeof items[0], compare);
    }
    return hits;
}

static unsigned chain_leaf(unsigned x)
{
    calls++;
    for (int i = 0; i < 24; i++) {
        x = x * 2654435761u + (unsigned)i;
        __asm__ volatile("" : "+r"(x)); /* one multiplication after another */
    }
    return x;
}

static unsigned chain_mid(unsigned x)
{
    calls++;
    return chain_leaf(x) ^ chain_leaf(x + 1u);
}

static long long clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct mix_thread {
    pthread_t thread;
    int rounds;
    long result;
    unsigned long long calls;
};

static void *mix_thread(void *arg)
{
    calls++;
    struct mix_thread *t = arg;
    t->result = mix(t->rounds);
    t->calls = calls;
    return NULL;
}

int main(int argc, char **argv)
{
    calls++; /* main itself */
    if (argc != 3) {
        fprintf(stderr, "usage: calls fib|mix|chain|mix-threads N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    long result;
    unsigned long long total = 0;
    long long cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID),
              wall0 = clock_ns(CLOCK_MONOTONIC);
    if (strcmp(argv[1], "fib") == 0) {
        result = fib(n);
    } else if (strcmp(argv[1], "chain") == 0) {
        unsigned acc = 0;
        for (int i = 0; i < n; i++)
            acc += chain_mid((unsigned)i);
        result = acc;
    } else if (strcmp(argv[1], "mix-threads") == 0) {
        struct mix_thread t[2];
        result = 0;
        for (int i = 0; i < 2; i++) {
            t[i].rounds = n;
            if (pthread_create(&t[i].thread, NULL, mix_thread, &t[i]) != 0) {
                fprintf(stderr, "calls: cannot create a thread\n");
                return 1;
            }
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i].thread, NULL);
            result += t[i].result;
            total += t[i].calls;
        }
    } else {
        result = mix(n);
    }
    long long cpu1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID),
              wall1 = clock_ns(CLOCK_MONOTONIC);
    total += calls;
    printf("time: cpu %lld ns, wall %lld ns\n", cpu1 - cpu0, wall1 - wall0);
    printf("%s %d = %ld, %llu calls\n", argv[1], n, result, total);
    return 0;
}
