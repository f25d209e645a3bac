/*
 * The exec family, interposed so that the data recorded so far is written
 * before the process image is replaced. If the exec fails the file is
 * rolled back and recording goes on, so nothing is written twice.
 *
 * The real functions are looked up once at start (dlsym may allocate, which
 * must not happen in a vfork child). A vfork child shares our memory but has
 * its own pid: it writes nothing. The execl variants are rebuilt on top of
 * the array variants because glibc's own call the internal execve directly.
 * Only in the shared runtime; the static one (for -static links) has no
 * interposition.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "rt_internal.h"

#ifdef CPROF_RT_SHARED

typedef int (*rt_execve_fn)(const char *, char *const[], char *const[]);
typedef int (*rt_execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*rt_fexecve_fn)(int, char *const[], char *const[]);

static rt_execve_fn real_execve;
static rt_execvpe_fn real_execvpe;
static rt_fexecve_fn real_fexecve;
extern char **environ;

RT_NOINST void rt_exec_init(void)
{
    real_execve = (rt_execve_fn)dlsym(RTLD_NEXT, "execve");
    real_execvpe = (rt_execvpe_fn)dlsym(RTLD_NEXT, "execvpe");
    real_fexecve = (rt_fexecve_fn)dlsym(RTLD_NEXT, "fexecve");
}

/* Returns the file size to roll back to, or -1 when nothing was written. */
RT_NOINST static off_t rt_before_exec(void)
{
    if (!rt_ready || rt_finished || getpid() != rt_pid)
        return -1;
    off_t size = rt_writer_offset();
    if (size < 0)
        return -1;
    rt_process_finish(RT_END_EXEC, 0);
    return size;
}

RT_NOINST static int rt_after_failed_exec(off_t size, int result)
{
    int saved = errno;
    if (size >= 0)
        rt_process_resume(size);
    errno = saved;
    return result;
}

RT_EXPORT RT_NOINST int execve(const char *path, char *const argv[], char *const envp[])
{
    if (!real_execve) {
        errno = ENOSYS;
        return -1;
    }
    off_t size = rt_before_exec();
    return rt_after_failed_exec(size, real_execve(path, argv, envp));
}

RT_EXPORT RT_NOINST int execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (!real_execvpe) {
        errno = ENOSYS;
        return -1;
    }
    off_t size = rt_before_exec();
    return rt_after_failed_exec(size, real_execvpe(file, argv, envp));
}

RT_EXPORT RT_NOINST int fexecve(int fd, char *const argv[], char *const envp[])
{
    if (!real_fexecve) {
        errno = ENOSYS;
        return -1;
    }
    off_t size = rt_before_exec();
    return rt_after_failed_exec(size, real_fexecve(fd, argv, envp));
}

RT_EXPORT RT_NOINST int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

RT_EXPORT RT_NOINST int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

/* Counts the arguments after arg0 up to the terminating NULL. */
#define RT_COLLECT_ARGS(arg0, last, argv)                                                \
    size_t argc_ = 1;                                                                    \
    va_list ap_;                                                                         \
    va_start(ap_, last);                                                                 \
    while (va_arg(ap_, const char *))                                                    \
        argc_++;                                                                         \
    va_end(ap_);                                                                         \
    const char *argv[argc_ + 1];                                                         \
    argv[0] = arg0;                                                                      \
    va_start(ap_, last);                                                                 \
    for (size_t i_ = 1; i_ <= argc_; i_++)                                               \
        argv[i_] = va_arg(ap_, const char *);

RT_EXPORT RT_NOINST int execl(const char *path, const char *arg, ...)
{
    RT_COLLECT_ARGS(arg, arg, argv)
    va_end(ap_);
    return execve(path, (char *const *)argv, environ);
}

RT_EXPORT RT_NOINST int execlp(const char *file, const char *arg, ...)
{
    RT_COLLECT_ARGS(arg, arg, argv)
    va_end(ap_);
    return execvpe(file, (char *const *)argv, environ);
}

RT_EXPORT RT_NOINST int execle(const char *path, const char *arg, ...)
{
    RT_COLLECT_ARGS(arg, arg, argv)
    char *const *envp = va_arg(ap_, char *const *);
    va_end(ap_);
    return execve(path, (char *const *)argv, envp);
}

#else

RT_NOINST void rt_exec_init(void) {}

#endif
