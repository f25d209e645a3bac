/*
 * The ways out of a process image that skip exit(), interposed so that the
 * data recorded so far is written first: the exec family, _exit and _Exit,
 * and daemon() (whose parent leaves by glibc's internal _exit, out of our
 * reach). If an exec or daemon's fork fails the file is rolled back and
 * recording goes on, so nothing is written twice.
 *
 * The real functions are looked up once at start (dlsym may allocate, which
 * must not happen in a vfork child). A vfork child shares our memory but has
 * its own pid: it writes nothing. The execl variants are rebuilt on top of
 * the array variants because glibc's own call the internal execve directly.
 * The shared runtime interposes the functions themselves and finds the
 * real ones with dlsym. The static runtime (libcprof-rt.a, for -static
 * links and --cprof-runtime=static) cannot define them beside libc.a's:
 * cprof-cc links it with `-Wl,--wrap=NAME` for each, so every call of NAME
 * in the program and in libc.a reaches __wrap_NAME here and the real
 * function is __real_NAME.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cprof_wrap.h"
#include "rt_internal.h"

typedef int (*rt_execve_fn)(const char *, char *const[], char *const[]);
typedef int (*rt_execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*rt_fexecve_fn)(int, char *const[], char *const[]);
typedef int (*rt_daemon_fn)(int, int);

static rt_execve_fn real_execve;
static rt_execvpe_fn real_execvpe;
static rt_fexecve_fn real_fexecve;
static rt_daemon_fn real_daemon;
extern char **environ;

#ifdef CPROF_RT_SHARED

#define RT_ENTRY(name) name

RT_NOINST void rt_exec_init(void)
{
    real_execve = (rt_execve_fn)dlsym(RTLD_NEXT, "execve");
    real_execvpe = (rt_execvpe_fn)dlsym(RTLD_NEXT, "execvpe");
    real_fexecve = (rt_fexecve_fn)dlsym(RTLD_NEXT, "fexecve");
    real_daemon = (rt_daemon_fn)dlsym(RTLD_NEXT, "daemon");
}

#else

/* cprof-cc's -Wl,--wrap=NAME for each name of CPROF_WRAPPED
 * (common/cprof_wrap.h) */
#define RT_ENTRY(name) __wrap_##name
int __real_execve(const char *path, char *const argv[], char *const envp[]);
int __real_execvpe(const char *file, char *const argv[], char *const envp[]);
int __real_fexecve(int fd, char *const argv[], char *const envp[]);
int __real_daemon(int nochdir, int noclose);

RT_NOINST void rt_exec_init(void)
{
    real_execve = __real_execve;
    real_execvpe = __real_execvpe;
    real_fexecve = __real_fexecve;
    real_daemon = __real_daemon;
}

#endif

/* Writes the data with end reason why. Returns the file size to roll back
 * to, or -1 when nothing was written (also in a vfork child). */
RT_NOINST static off_t rt_write_before(enum rt_end_reason why)
{
    if (!rt_ready || rt_finished || getpid() != rt_pid)
        return -1;
    off_t size = rt_writer_offset();
    if (size < 0)
        return -1;
    rt_process_finish(why, 0);
    return size;
}

RT_NOINST static off_t rt_before_exec(void)
{
    return rt_write_before(RT_END_EXEC);
}

RT_NOINST static int rt_after_failed_exec(off_t size, int result)
{
    int saved = errno;
    if (size >= 0)
        rt_process_resume(size);
    errno = saved;
    return result;
}

RT_EXPORT RT_NOINST int RT_ENTRY(execve)(const char *path, char *const argv[],
                                         char *const envp[])
{
    if (!real_execve) {
        errno = ENOSYS;
        return -1;
    }
    off_t size = rt_before_exec();
    return rt_after_failed_exec(size, real_execve(path, argv, envp));
}

RT_EXPORT RT_NOINST int RT_ENTRY(execvpe)(const char *file, char *const argv[],
                                          char *const envp[])
{
    if (!real_execvpe) {
        errno = ENOSYS;
        return -1;
    }
    off_t size = rt_before_exec();
    return rt_after_failed_exec(size, real_execvpe(file, argv, envp));
}

RT_EXPORT RT_NOINST int RT_ENTRY(fexecve)(int fd, char *const argv[], char *const envp[])
{
    if (!real_fexecve) {
        errno = ENOSYS;
        return -1;
    }
    off_t size = rt_before_exec();
    return rt_after_failed_exec(size, real_fexecve(fd, argv, envp));
}

RT_EXPORT RT_NOINST int RT_ENTRY(execv)(const char *path, char *const argv[])
{
    return RT_ENTRY(execve)(path, argv, environ);
}

RT_EXPORT RT_NOINST int RT_ENTRY(execvp)(const char *file, char *const argv[])
{
    return RT_ENTRY(execvpe)(file, argv, environ);
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

RT_EXPORT RT_NOINST int RT_ENTRY(execl)(const char *path, const char *arg, ...)
{
    RT_COLLECT_ARGS(arg, arg, argv)
    va_end(ap_);
    return RT_ENTRY(execve)(path, (char *const *)argv, environ);
}

RT_EXPORT RT_NOINST int RT_ENTRY(execlp)(const char *file, const char *arg, ...)
{
    RT_COLLECT_ARGS(arg, arg, argv)
    va_end(ap_);
    return RT_ENTRY(execvpe)(file, (char *const *)argv, environ);
}

RT_EXPORT RT_NOINST int RT_ENTRY(execle)(const char *path, const char *arg, ...)
{
    RT_COLLECT_ARGS(arg, arg, argv)
    char *const *envp = va_arg(ap_, char *const *);
    va_end(ap_);
    return RT_ENTRY(execve)(path, (char *const *)argv, envp);
}

/* Writes the data as exit() would (end reason "exit"), once, then ends the
 * process with status directly: no atexit handlers, no stdio flush, as
 * _exit must. As signal-safe as exit's writing is (it reads the module
 * list, as exec's does). A vfork child (or a clone sharing our memory)
 * must not write our state: its pid is not ours, so it only leaves. */
RT_NOINST static _Noreturn void rt_exit_now(int status)
{
    if (rt_ready && getpid() == rt_pid)
        rt_process_finish(RT_END_EXIT, 0);
    for (;;)
        syscall(SYS_exit_group, status);
}

RT_EXPORT RT_NOINST _Noreturn void RT_ENTRY(_exit)(int status)
{
    rt_exit_now(status);
}

RT_EXPORT RT_NOINST _Noreturn void RT_ENTRY(_Exit)(int status)
{
    rt_exit_now(status);
}

/* daemon() forks and its parent leaves by an _exit internal to glibc: the
 * parent's data is written before (the child starts from zero counts, as
 * any fork child), and taken back if daemon fails in the parent. */
RT_EXPORT RT_NOINST int RT_ENTRY(daemon)(int nochdir, int noclose)
{
    if (!real_daemon) {
        errno = ENOSYS;
        return -1;
    }
    pid_t self = getpid();
    off_t size = rt_write_before(RT_END_EXIT);
    int result = real_daemon(nochdir, noclose);
    if (getpid() != self) /* the child: its fork handler started it afresh */
        return result;
    return rt_after_failed_exec(size, result);
}

#ifndef CPROF_RT_SHARED
/* Each name cprof-cc wraps has its __wrap_NAME above: a name added to
 * CPROF_WRAPPED without one does not compile. */
#define RT_WRAPPED_DEFINED(name)                                                         \
    _Static_assert(sizeof(&RT_ENTRY(name)) != 0, #name ": wrapped by cprof-cc");
CPROF_WRAPPED(RT_WRAPPED_DEFINED)
#endif
