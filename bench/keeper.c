/*
 * The keeper's cost (docs/runtime.md, "The keeper"): run as a subreaper,
 * so that the keepers of the programs it starts become its children and
 * their CPU time is counted with the programs'.
 *
 *   keeper start N PROG   runs PROG (no arguments) N times, one after the
 *                         other, and prints the CPU time (user + sys) and
 *                         wall time per run, keepers included
 *   keeper fork N         this program itself forks N children one after
 *                         the other (each calls leaf() and exits), and
 *                         prints the same per fork; built with cprof-cc
 *                         it measures the runtime's fork handling
 *
 * Compare CPROF_KEEPER=0 with the default, side by side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile long sink;

__attribute__((noinline)) void leaf(long i)
{
    sink += i;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_of(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void reap_all(void)
{
    while (wait(NULL) > 0)
        ;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    double t0 = now(), c0 = cpu_of(RUSAGE_SELF) + cpu_of(RUSAGE_CHILDREN);
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (!strcmp(argv[1], "start")) {
                execl(argv[3], argv[3], (char *)NULL);
                _exit(127);
            }
            leaf(i);
            exit(0);
        }
        waitpid(pid, NULL, 0);
    }
    reap_all(); /* the keepers */
    double wall = now() - t0, cpu = cpu_of(RUSAGE_SELF) + cpu_of(RUSAGE_CHILDREN) - c0;
    printf("%s: %ld runs, per run: cpu %.1f us, wall %.1f us\n", argv[1], n,
           cpu * 1e6 / (double)n, wall * 1e6 / (double)n);
    return 0;
}
