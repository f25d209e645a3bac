/*
 * fork: calls split across two processes. The parent calls f() 30 times,
 * then forks; the child calls g() 20 times and f() 10 times and exits;
 * the parent waits for it, then calls h() 40 times. Each process writes its
 * own .cprof file, and the merged report counts every call exactly once:
 * f 40, g 20, h 40, child_main 1, and main 1 (the child inherits main's
 * frame from the parent but did not call it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long f(unsigned long x)
{
    return (x * 7 + 3) % 10007;
}

static unsigned long g(unsigned long x)
{
    return (x * 13 + 5) % 10009;
}

static unsigned long h(unsigned long x)
{
    return (x * 17 + 11) % 10037;
}

/* The child's whole life: it never returns. */
static void child_main(unsigned long x)
{
    for (int i = 0; i < 20; i++)
        x = g(x);
    for (int i = 0; i < 10; i++)
        x = f(x);
    printf("child: %lu\n", x);
    exit(0);
}

int main(void)
{
    unsigned long x = 1;
    for (int i = 0; i < 30; i++)
        x = f(x);
    fflush(stdout); /* so the child does not inherit and repeat buffered output */
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0)
        child_main(x);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "fork: child failed\n");
        return 1;
    }
    for (int i = 0; i < 40; i++)
        x = h(x);
    printf("parent: %lu\n", x);
    return 0;
}
