/*
 * heap: a program whose allocations are known exactly, for `cprof heap`.
 * samples/heap/expected-heap lists what each function allocates and frees
 * and what stays allocated at exit; tests/e2e/test_samples.c checks it at
 * -O0 and -O2 in each mode. The program prints with write(2) and a stack
 * buffer, so that stdio's own buffer allocation does not land in a function
 * under test; main itself is not checked (pthread_create allocates in it).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept[4];
/* every block passes through here, so that the optimizer cannot prove a
 * malloc and its free unused and remove both */
static void *volatile sink;

/* 10 calls: 10 blocks of 64 bytes */
static char *make_buffer(size_t n)
{
    char *p = malloc(n);
    sink = p;
    return p;
}

/* 10 calls: frees make_buffer's blocks */
static void release(void *p)
{
    free(p);
}

/* malloc 100, grow to 1000, shrink to 10, free: 3 allocations of
 * 100 + 1000 + 10 bytes and 3 frees of the same (a realloc frees the old
 * block and allocates the new one) */
static size_t grow_and_shrink(void)
{
    char *p = malloc(100);
    sink = p;
    memset(p, 1, 100);
    p = realloc(p, 1000);
    sink = p;
    p[999] = 2;
    p = realloc(p, 10);
    sink = p;
    size_t sum = (size_t)p[0] + (size_t)p[9];
    free(p);
    return sum;
}

/* calloc(25, 4): 100 zeroed bytes, kept: left allocated at exit */
static int zeroed(void)
{
    int *a = calloc(25, sizeof *a);
    kept[0] = a;
    return a[24];
}

/* 64-byte and 128-byte aligned blocks of 256 and 512 bytes, both freed */
static int aligned(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, 256) != 0)
        return -1;
    void *q = aligned_alloc(128, 512);
    sink = p;
    sink = q;
    int ok = ((unsigned long)p % 64 == 0) + ((unsigned long)q % 128 == 0);
    free(p);
    free(q);
    return ok;
}

/* strdup allocates strlen + 1 = 9 bytes through malloc; main frees it */
static char *copy_name(const char *name)
{
    char *copy = strdup(name);
    sink = copy;
    return copy;
}

/* 4096 bytes, kept: left allocated at exit */
static void leak_page(void)
{
    kept[1] = malloc(4096);
}

/* frees the 2048-byte block main allocated, in another thread */
static void *worker(void *block)
{
    free(block);
    return NULL;
}

int main(void)
{
    for (int i = 0; i < 10; i++)
        release(make_buffer(64));
    size_t sum = grow_and_shrink();
    int z = zeroed();
    int ok = aligned();
    char *name = copy_name("profiler");
    size_t len = strlen(name);
    free(name);
    leak_page();
    pthread_t t;
    pthread_create(&t, NULL, worker, malloc(2048));
    pthread_join(t, NULL);
    char out[128];
    int n = snprintf(out, sizeof out, "sum %zu, zero %d, aligned %d, name %zu\n", sum, z,
                     ok, len);
    if (write(1, out, (size_t)n) != n)
        return 1;
    return 0;
}
