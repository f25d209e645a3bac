/*
 * mutual: is_even and is_odd call each other, one step down at a time.
 * is_even(k) makes a chain of k+1 calls that alternates between the two
 * functions, starting with is_even: k/2+1 calls of is_even and (k+1)/2 of
 * is_odd. Over k = 0..199 that is 10100 and 10000 calls. Shows exact counts
 * and per-function inclusive time through mutual recursion.
 */
#include <stdio.h>

static int is_odd(unsigned n);

static int is_even(unsigned n)
{
    return n == 0 ? 1 : is_odd(n - 1);
}

static int is_odd(unsigned n)
{
    return n == 0 ? 0 : is_even(n - 1);
}

int main(void)
{
    unsigned evens = 0;
    for (unsigned k = 0; k < 200; k++)
        evens += (unsigned)is_even(k);
    printf("even numbers below 200: %u\n", evens);
    return 0;
}
