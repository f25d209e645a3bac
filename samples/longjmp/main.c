/*
 * longjmp: leaving five frames at once. Each round, attempt() sets a jump
 * buffer and calls a five-deep chain level1 -> ... -> level5; level5 jumps
 * back with longjmp, so none of the five frames returns normally. After
 * 100 rounds main goes on with ordinary calls (finish, which calls
 * level_after), so the profiler must have closed the skipped frames to
 * give those calls the right parent. Each of the 100 level calls is still
 * counted exactly once.
 */
#include <setjmp.h>
#include <stdio.h>

#define ROUNDS 100

static jmp_buf escape;
static unsigned long depth_sum;

static void level5(int round)
{
    depth_sum += 5;
    longjmp(escape, round + 1);
}

static void level4(int round)
{
    depth_sum += 4;
    level5(round);
}

static void level3(int round)
{
    depth_sum += 3;
    level4(round);
}

static void level2(int round)
{
    depth_sum += 2;
    level3(round);
}

static void level1(int round)
{
    depth_sum += 1;
    level2(round);
}

/* Returns the value longjmp delivered for this round. */
static int attempt(int round)
{
    int got = setjmp(escape);
    if (got == 0)
        level1(round);
    return got;
}

static unsigned long level_after(unsigned long x)
{
    return x * 3 + 1;
}

static unsigned long finish(unsigned long total)
{
    for (int i = 0; i < 10; i++)
        total = level_after(total) % 1000003;
    return total;
}

int main(void)
{
    unsigned long total = 0;
    for (int round = 0; round < ROUNDS; round++)
        total += (unsigned long)attempt(round);
    printf("jumps delivered %lu, depth sum %lu, after %lu\n", total, depth_sum,
           finish(total));
    return 0;
}
