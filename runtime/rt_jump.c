/*
 * The longjmp family and the ucontext switches, interposed (shared
 * runtime only): each tells the runtime that the calling thread is
 * leaving frames without their exits, then does what libc's does.
 *
 * Count mode's fast enter does not find a call's frame address (rt_hooks.c,
 * RT_LAZY_CFA): it pushes the frame above the innermost one whenever the
 * new hook runs lower on the stack and the call is one that frame's node
 * has made before. After a jump that is not enough: a call with a big
 * frame made after the jump can sit lower than a small frame the jump
 * left. So a jump sets the thread's capacity to 0, the way
 * a change of recording control does (rt_control.c): the next enter takes
 * the full version, which finds the frame addresses, closes the frames
 * left (counted as repaired) and restores the capacity. Every mode does
 * so; only count mode needs it.
 *
 * libc's own functions are found with dlsym(RTLD_NEXT) at load time, before
 * the program's constructors can jump, and again at the call if one was
 * missing then (dlsym is not async-signal-safe; only a jump made before
 * this library's constructor ran can need that).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

typedef void (*rt_jump_fn)(void *env, int val);
typedef int (*rt_swap_fn)(void *from, const void *to);
typedef int (*rt_set_fn)(const void *to);

enum {
    RT_J_LONGJMP,
    RT_J__LONGJMP,
    RT_J_SIGLONGJMP,
    RT_J_LONGJMP_CHK,
    RT_J_SETCONTEXT,
    RT_J_SWAPCONTEXT,
    RT_J_COUNT
};

static const char *const rt_jump_names[RT_J_COUNT] = {
    "longjmp", "_longjmp", "siglongjmp", "__longjmp_chk", "setcontext", "swapcontext",
};
static void *rt_jump_real[RT_J_COUNT];

/* libc's function i, looked up when the constructor did not find it. A
 * jump that cannot be made cannot be returned from either: without it the
 * process says so on stderr and aborts. */
RT_NOINST static void *rt_jump_libc(int i)
{
    void *f = __atomic_load_n(&rt_jump_real[i], __ATOMIC_ACQUIRE);
    if (RT_UNLIKELY(f == NULL)) {
        f = dlsym(RTLD_NEXT, rt_jump_names[i]);
        if (f == NULL) {
            char msg[128] = "cprof: the C library has no ";
            rt_strlcat(msg, rt_jump_names[i], sizeof msg);
            rt_strlcat(msg, "\n", sizeof msg);
            ssize_t w = write(STDERR_FILENO, msg, strlen(msg));
            (void)w;
            abort();
        }
        __atomic_store_n(&rt_jump_real[i], f, __ATOMIC_RELEASE);
    }
    return f;
}

/* Looks them all up before the program's constructors run; one missing is
 * only an error if the program calls it. */
__attribute__((constructor)) RT_NOINST static void rt_jump_init(void)
{
    for (int i = 0; i < RT_J_COUNT; i++)
        __atomic_store_n(&rt_jump_real[i], dlsym(RTLD_NEXT, rt_jump_names[i]),
                         __ATOMIC_RELEASE);
}

/* The calling thread's next enter takes the full version. */
RT_NOINST static void rt_jump_note(void)
{
    struct rt_thread *t = rt_self;
    if (t != NULL && t->stack != NULL)
        __atomic_store_n(&t->capacity, 0, __ATOMIC_SEQ_CST);
}

#define RT_JUMP(name, i)                                                                 \
    RT_EXPORT RT_NOINST __attribute__((noreturn)) void name(void *env, int val)          \
    {                                                                                    \
        rt_jump_note();                                                                  \
        ((rt_jump_fn)rt_jump_libc(i))(env, val);                                         \
        __builtin_unreachable();                                                         \
    }

RT_JUMP(longjmp, RT_J_LONGJMP)
RT_JUMP(_longjmp, RT_J__LONGJMP)
RT_JUMP(siglongjmp, RT_J_SIGLONGJMP)
RT_JUMP(__longjmp_chk, RT_J_LONGJMP_CHK)

RT_EXPORT RT_NOINST int setcontext(const void *to)
{
    rt_jump_note();
    return ((rt_set_fn)rt_jump_libc(RT_J_SETCONTEXT))(to);
}

RT_EXPORT RT_NOINST int swapcontext(void *from, const void *to)
{
    rt_jump_note();
    return ((rt_swap_fn)rt_jump_libc(RT_J_SWAPCONTEXT))(from, to);
}
