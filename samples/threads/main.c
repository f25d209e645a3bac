/*
 * threads: four pthreads run the same worker. Each worker calls work()
 * 2500 times, and every work() call takes a lock and calls the shared
 * helper record() once; each worker also calls record() once at its end.
 * The workers wait at a barrier so that they really run at the same
 * time. cprof keeps one calling-context tree per thread and sums the
 * counts over threads: work 10000, record 10004, worker 4.
 */
#include <pthread.h>
#include <stdio.h>

#define N_THREADS 4
#define WORK_PER_THREAD 2500

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_line;
static unsigned long shared_total;

/* Adds value to the shared total; the caller holds lock. */
static void record(unsigned long value)
{
    shared_total += value;
}

static unsigned long work(unsigned long seed)
{
    unsigned long x = seed * 2654435761u % 1000003;
    pthread_mutex_lock(&lock);
    record(x & 0xff);
    pthread_mutex_unlock(&lock);
    return x;
}

static void *worker(void *arg)
{
    unsigned long id = (unsigned long)arg, local = 0;
    pthread_barrier_wait(&start_line);
    for (unsigned long i = 0; i < WORK_PER_THREAD; i++)
        local ^= work(id * WORK_PER_THREAD + i);
    pthread_mutex_lock(&lock);
    record(local & 1);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    pthread_t threads[N_THREADS];
    pthread_barrier_init(&start_line, NULL, N_THREADS);
    for (unsigned long i = 0; i < N_THREADS; i++) {
        if (pthread_create(&threads[i], NULL, worker, (void *)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(threads[i], NULL);
    printf("shared total: %lu\n", shared_total);
    return 0;
}
