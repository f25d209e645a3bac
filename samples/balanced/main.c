/*
 * balanced: a program with nothing worth flagging. Three threads do the
 * same work in equal shares; the work is spread over ten steps of about a
 * microsecond each, none of them taking much more than a tenth of the
 * time; nothing is allocated in the loop and nothing leaks; every call of
 * a step takes about as long as the others. `cprof hotspots` must find
 * nothing here.
 *
 * main only starts and joins the threads and is not instrumented: its
 * wait in pthread_join would otherwise be most of its self time.
 */
#include <pthread.h>
#include <stdio.h>

#define N_THREADS 3
#define ROUNDS 2000
#define STEP_WORK 1000

static unsigned long results[N_THREADS];

#define STEP(name, mul)                                                                  \
    __attribute__((noinline)) static unsigned long name(unsigned long x)                 \
    {                                                                                    \
        for (int i = 0; i < STEP_WORK; i++)                                              \
            x = (x ^ (unsigned long)(i & 0xff)) * (mul);                                 \
        return x;                                                                        \
    }
STEP(step_a, 6364136223846793005UL)
STEP(step_b, 2862933555777941757UL)
STEP(step_c, 3202034522624059733UL)
STEP(step_d, 3935559000370003845UL)
STEP(step_e, 2806196910506780709UL)
STEP(step_f, 1181783497276652981UL)
STEP(step_g, 1442695040888963407UL)
STEP(step_h, 1099511628211UL)
STEP(step_i, 14029467366897019727UL)
STEP(step_j, 1609587929392839161UL)

static void *worker(void *arg)
{
    unsigned long id = (unsigned long)arg, x = id;
    for (int r = 0; r < ROUNDS; r++) {
        x = step_e(step_d(step_c(step_b(step_a(x)))));
        x = step_j(step_i(step_h(step_g(step_f(x)))));
    }
    results[id] = x;
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
