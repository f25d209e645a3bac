/*
 * cputime: CPU time beside wall time (record with CPROF_CPU=1). sleeper()
 * sleeps 50 ms, three times: about 150 ms of wall time and almost no CPU
 * time. compute() computes, three times, for about as long: its CPU time
 * is its wall time, less what the machine gave other programs meanwhile.
 * waiter() waits on a condition variable until another thread, holder(),
 * which takes the mutex once waiter() waits and holds it while it sleeps
 * 150 ms, lets it go: at least 150 ms of wall time, almost no CPU time. `cprof report`
 * then shows each function's CPU time
 * ("cpu") and time off the CPU ("wait") beside its wall time.
 *
 * With CPUTIME_SELF=1 in the environment the program also prints to
 * stderr the CPU and wall time it measured itself around each function's
 * calls (clock_gettime), which tests compare with what cprof recorded.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CALLS 3
#define NAP_MS 50
#define COMPUTE_STEPS 40000000ul

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t waiting_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t released_cond = PTHREAD_COND_INITIALIZER;
static int waiting, released;

/* Time measured by the program itself: [0] CPU, [1] wall, in ns. */
struct self_time {
    unsigned long long ns[2];
};

static unsigned long long clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static void nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

__attribute__((noinline)) static void sleeper(void)
{
    nap_ms(NAP_MS);
}

__attribute__((noinline)) static unsigned long compute(unsigned long seed)
{
    unsigned long x = seed;
    for (unsigned long i = 0; i < COMPUTE_STEPS; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul + (x >> 29);
    return x;
}

__attribute__((noinline)) static void waiter(void)
{
    pthread_mutex_lock(&lock);
    waiting = 1;
    pthread_cond_signal(&waiting_cond);
    while (!released)
        pthread_cond_wait(&released_cond, &lock);
    pthread_mutex_unlock(&lock);
}

static void *holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!waiting)
        pthread_cond_wait(&waiting_cond, &lock);
    nap_ms(CALLS * NAP_MS); /* holding the lock: waiter() cannot go on */
    released = 1;
    pthread_cond_signal(&released_cond);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void measure(struct self_time *t, int start)
{
    unsigned long long cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    unsigned long long wall = clock_ns(CLOCK_MONOTONIC);
    t->ns[0] += start ? -cpu : cpu;
    t->ns[1] += start ? -wall : wall;
}

static void print_self(const char *name, const struct self_time *t)
{
    fprintf(stderr, "self %s cpu_ns %llu wall_ns %llu\n", name, t->ns[0], t->ns[1]);
}

int main(void)
{
    struct self_time w = {{0}}, s = {{0}}, c = {{0}};
    pthread_t th;
    if (pthread_create(&th, NULL, holder, NULL) != 0)
        return 1;
    measure(&w, 1);
    waiter();
    measure(&w, 0);
    pthread_join(th, NULL);
    unsigned long sum = 0;
    for (int i = 0; i < CALLS; i++) {
        measure(&s, 1);
        sleeper();
        measure(&s, 0);
        measure(&c, 1);
        sum += compute((unsigned long)i);
        measure(&c, 0);
    }
    printf("%d naps, %d computations (checksum %lu), one wait\n", CALLS, CALLS,
           sum % 1000003);
    if (getenv("CPUTIME_SELF")) {
        print_self("waiter", &w);
        print_self("sleeper", &s);
        print_self("compute", &c);
    }
    return 0;
}
