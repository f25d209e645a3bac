/*
 * hot_imbalance: four threads run the same worker(), but the work is cut
 * into fixed shares of 1, 1, 1 and 6 units: one thread works six times as
 * long as the others while they wait. `cprof hotspots` finds worker (rule
 * imbalance) and crunch, where the time goes (hot_self).
 *
 * main only starts and joins the threads and is not instrumented: its
 * wait in pthread_join would otherwise be most of its self time.
 */
#include <pthread.h>
#include <stdio.h>

#define N_THREADS 4
#define UNIT 3000000UL

static const unsigned long shares[N_THREADS] = {1, 1, 1, 6};
static unsigned long results[N_THREADS];

__attribute__((noinline)) static unsigned long crunch(unsigned long n)
{
    unsigned long h = 14695981039346656037UL;
    for (unsigned long i = 0; i < n; i++)
        h = (h ^ (i & 0xff)) * 1099511628211UL;
    return h;
}

static void *worker(void *arg)
{
    unsigned long id = (unsigned long)arg;
    for (unsigned long u = 0; u < shares[id]; u++)
        results[id] ^= crunch(UNIT);
    return NULL;
}

__attribute__((no_instrument_function)) int main(void)
{
    pthread_t threads[N_THREADS];
    for (unsigned long i = 0; i < N_THREADS; i++) {
        if (pthread_create(&threads[i], NULL, worker, (void *)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    unsigned long x = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(threads[i], NULL);
        x ^= results[i];
    }
    printf("checksum %lu\n", x & 0xffff);
    return 0;
}
