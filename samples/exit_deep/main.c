/*
 * exit_deep: the program ends by calling exit(3) from ten frames deep
 * (main -> descend(1) -> ... -> descend(9) -> bail_out). None of those
 * frames ever returns; the profiler must close them when the process exits
 * and count each call exactly once. The atexit handler that prints the
 * result is an ordinary call made during exit, and is counted too. Before
 * descending, main makes some ordinary calls to warm_up.
 */
#include <stdio.h>
#include <stdlib.h>

#define EXIT_STATUS 3

static unsigned long trail;

static void print_trail(void)
{
    printf("trail %lu, exiting with %d\n", trail, EXIT_STATUS);
}

/* Ends the program when status is non-zero, as an error path would. */
static void bail_out(int status)
{
    trail = trail * 10 + 7;
    if (status != 0)
        exit(status);
}

static void descend(int depth)
{
    trail = trail * 2 + (unsigned long)depth;
    if (depth == 9)
        bail_out(EXIT_STATUS);
    else
        descend(depth + 1);
}

static unsigned long warm_up(unsigned long x)
{
    return x * 31 + 17;
}

int main(void)
{
    atexit(print_trail);
    for (int i = 0; i < 5; i++)
        trail = warm_up(trail) % 1009;
    descend(1);
    return 0;
}
