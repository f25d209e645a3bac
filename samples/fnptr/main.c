/*
 * fnptr: calls made only through function pointers. A dispatch table of
 * four operations is walked by an opcode stream, and an insertion sort
 * calls its comparator through a pointer. The sort is our own, not libc's
 * qsort, so the comparator count depends only on the data: the program
 * counts the comparisons itself and prints the number, which must equal
 * what cprof reports for compare_desc.
 */
#include <stdio.h>

#define N_VALUES 120
#define N_OPS 1000

static unsigned long comparisons;

static long op_add(long a, long b)
{
    return a + b;
}

static long op_sub(long a, long b)
{
    return a - b;
}

static long op_mul(long a, long b)
{
    return (a * b) % 1000003;
}

static long op_xor(long a, long b)
{
    return a ^ b;
}

static long (*const op_table[4])(long, long) = {op_add, op_sub, op_mul, op_xor};

/* Orders descending. */
static int compare_desc(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    comparisons++;
    return (x < y) - (x > y);
}

static void insertion_sort(long *v, int n, int (*cmp)(const void *, const void *))
{
    for (int i = 1; i < n; i++) {
        long key = v[i];
        int j = i - 1;
        while (j >= 0 && cmp(&v[j], &key) > 0) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = key;
    }
}

int main(void)
{
    long values[N_VALUES];
    unsigned seed = 12345;
    for (int i = 0; i < N_VALUES; i++) {
        seed = seed * 1103515245u + 12345u;
        values[i] = (long)((seed >> 16) % 1000);
    }
    long acc = 7;
    for (int i = 0; i < N_OPS; i++)
        acc = op_table[i % 7 % 4](acc, i + 1);
    insertion_sort(values, N_VALUES, compare_desc);
    printf("acc = %ld, largest = %ld, smallest = %ld, comparisons = %lu\n", acc,
           values[0], values[N_VALUES - 1], comparisons);
    return 0;
}
