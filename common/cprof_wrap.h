/*
 * The libc functions the static runtime takes over by the linker's --wrap
 * (runtime/rt_exec.c: the ways out of a process image that skip exit()):
 * cprof-cc passes -Wl,--wrap=NAME for each when it links libcprof-rt.a,
 * and the runtime defines __wrap_NAME for each. One list for both, so that
 * they cannot drift apart: CPROF_WRAPPED(X) calls X(NAME) for every name.
 */
#ifndef CPROF_WRAP_H
#define CPROF_WRAP_H

#define CPROF_WRAPPED(X)                                                                 \
    X(_exit)                                                                             \
    X(_Exit)                                                                             \
    X(execve)                                                                            \
    X(execvpe)                                                                           \
    X(fexecve)                                                                           \
    X(execv)                                                                             \
    X(execvp)                                                                            \
    X(execl)                                                                             \
    X(execlp)                                                                            \
    X(execle)                                                                            \
    X(daemon)

#endif
