/*
 * Hooks that do nothing: linking the instrumented workload against these
 * measures what -finstrument-functions costs by itself (the call to a hook
 * in a shared library, twice per call), the floor under any profiler built
 * on it. cprof's overhead is reported over this.
 */
__attribute__((visibility("default"), no_instrument_function)) void
__cyg_profile_func_enter(void *fn, void *site)
{
    (void)fn;
    (void)site;
}

__attribute__((visibility("default"), no_instrument_function)) void
__cyg_profile_func_exit(void *fn, void *site)
{
    (void)fn;
    (void)site;
}

/* The line hook that does nothing (bench/lines.c). */
struct cprof_line_site;
__attribute__((visibility("default"), no_instrument_function)) void
__cprof_line(const struct cprof_line_site *site)
{
    (void)site;
}
