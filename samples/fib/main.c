/*
 * fib: the naive doubly recursive Fibonacci function. fib(n) makes
 * 2*F(n+1)-1 calls in all, so fib(25) is called 242785 times: a deep,
 * heavily recursive profile whose exact count is known in closed form.
 * Shows exact call counts and cProfile-style inclusive time for recursion
 * (the total time of fib counts the outermost activation only).
 */
#include <stdio.h>

static long fib(int n)
{
    if (n < 2)
        return n;
    return fib(n - 1) + fib(n - 2);
}

int main(void)
{
    printf("fib(25) = %ld\n", fib(25));
    return 0;
}
