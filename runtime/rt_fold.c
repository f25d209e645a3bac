/*
 * Folding ended threads (summary and count modes), so that a long run's
 * file stays small however many threads it starts: the first
 * RT_THREADS_WRITTEN threads that end are written each on its own, as
 * before; the data of every later one is merged into one process-wide
 * pseudo-thread, the folded thread (serial CPROF_THREAD_FOLDED), which the
 * end of the run (and every flush) writes as one more thread. Counts,
 * times, histograms, heap figures and line data stay exact; what is lost
 * is only which of those threads made them, and the file says how many
 * threads were folded (thread-end key folded_threads).
 *
 * The folded tree is built like a thread's: node (parent, fn) of the ended
 * thread adds into the folded node reached by the same path, within the
 * same node limit (a path past it is counted on the limit node, as a
 * running thread would). Frees of blocks a folded thread allocated name
 * their owner by that thread's node ids, gone once it is folded: the
 * folding keeps each folded thread's map of node ids to folded ones, and
 * the writer translates owners through it (rt_fold_owner). The maps take
 * at most RT_FOLD_MAP_BUDGET bytes; past that, frees of a folded thread's
 * blocks are counted as owners lost (the analyzer warns).
 *
 * Everything here runs with the writing lock held (rt_writing_take), on
 * the ending thread or the writer: never on the hot path.
 */
#include "rt_internal.h"

#define RT_THREADS_WRITTEN 256u
#define RT_FOLD_SERIALS (1u << 20) /* block headers hold 20 bits of thread */
#define RT_FOLD_MAP_BUDGET (64u << 20)
#define RT_FOLD_NO_MAP ((uint32_t *)1) /* folded, its map over the budget */

/* Shared with the keeper (rt_keeper_share), so that the data of a killed
 * process holds its folded threads too. */
static struct RT_SHARED_BLOCK {
    struct rt_thread *folded; /* NULL until a thread is folded */
    uint32_t ended_written;   /* ended threads written on their own */
    /* by thread serial: NULL while not folded, else its map: [0] its node
     * count, [1 + id] the folded node of its node id (RT_FOLD_SERIALS
     * entries, mapped at the first fold) */
    uint32_t **maps;
    size_t map_bytes;   /* mapped for maps, within the budget */
    uint8_t *pos, *end; /* maps are bump-allocated */
} rt_fs;

RT_NOINST void rt_fold_init(void)
{
    rt_keeper_share(&rt_fs, sizeof rt_fs);
}

/* size bytes for a map, from mmap'd MiB chunks; NULL once the budget is
 * spent (or without memory). */
RT_NOINST static uint32_t *rt_fold_map_alloc(size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (size > (size_t)(rt_fs.end - rt_fs.pos)) {
        size_t chunk = size > RT_HIST_CHUNK ? size : RT_HIST_CHUNK;
        uint8_t *p = rt_fs.map_bytes + chunk <= RT_FOLD_MAP_BUDGET ? rt_map(chunk) : NULL;
        if (!p)
            return NULL;
        rt_fs.map_bytes += chunk;
        rt_fs.pos = p;
        rt_fs.end = p + chunk;
    }
    uint32_t *map = (uint32_t *)rt_fs.pos;
    rt_fs.pos += size;
    return map;
}

RT_NOINST int rt_fold_owner(uint64_t *key)
{
    uint64_t thread = *key >> 32, owner = *key & 0xffffffffu;
    uint32_t **maps = __atomic_load_n(&rt_fs.maps, __ATOMIC_ACQUIRE);
    const uint32_t *map = maps && thread < RT_FOLD_SERIALS
                              ? __atomic_load_n(&maps[thread], __ATOMIC_ACQUIRE)
                              : NULL;
    if (!map)
        return 0;
    if (map == RT_FOLD_NO_MAP || owner >= map[0])
        return -1;
    *key = (uint64_t)CPROF_THREAD_FOLDED << 32 | (owner ? map[1 + owner] : 0);
    return 1;
}

RT_NOINST struct rt_freed *rt_fold_freed(const struct rt_freed_table *ft,
                                         struct rt_fold_freed *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; ft && i <= ft->mask; i++) {
        const struct rt_freed *s = &ft->slots[i];
        uint64_t calls = __atomic_load_n(&s->calls, __ATOMIC_ACQUIRE), key = s->key;
        int how = calls ? rt_fold_owner(&key) : 0;
        n += how > 0;
        if (how < 0) {
            out->gone_calls += calls;
            out->gone_bytes += s->bytes;
        }
    }
    uint32_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    out->size = sizeof(struct rt_freed) * slots;
    struct rt_freed *sums = n ? rt_map(out->size) : NULL;
    if (!sums)
        return NULL;
    for (uint32_t i = 0; i <= ft->mask; i++) {
        const struct rt_freed *s = &ft->slots[i];
        uint64_t calls = __atomic_load_n(&s->calls, __ATOMIC_ACQUIRE), key = s->key;
        if (!calls || rt_fold_owner(&key) <= 0)
            continue;
        uint32_t h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (slots - 1);
        while (sums[h].calls && sums[h].key != key)
            h = (h + 1) & (slots - 1);
        sums[h].key = key;
        sums[h].calls += calls;
        sums[h].bytes += s->bytes;
    }
    for (uint32_t i = 0; i < slots; i++)
        if (sums[i].calls)
            sums[out->count++] = sums[i];
    return sums;
}
/* The folded thread, made on first use; NULL without memory. */
RT_NOINST static struct rt_thread *rt_fold_thread(void)
{
    if (rt_fs.folded)
        return rt_fs.folded;
    size_t size = (sizeof(struct rt_thread) + 4095) & ~(size_t)4095;
    struct rt_thread *f = rt_map(size);
    if (!f)
        return NULL;
    f->map_size = size;
    f->serial = CPROF_THREAD_FOLDED;
    f->max_nodes = rt_config.max_nodes;
    f->busy = 1;
    f->slot = -1;
    if (rt_tree_init(f) != 0) {
        rt_tree_release(f);
        rt_unmap(f, size);
        return NULL;
    }
    rt_fs.folded = f;
    return f;
}

/* Adds what node n of an ended thread counted into node m of the folded
 * thread; with timed, its time too (not when m is a limit node that
 * already holds the time of n's caller). */
RT_NOINST static void rt_fold_node(struct rt_thread *f, struct rt_node *m,
                                   const struct rt_node *n, int timed)
{
    m->calls += n->calls;
    m->alloc_calls += n->alloc_calls;
    m->alloc_bytes += n->alloc_bytes;
    m->free_calls += n->free_calls;
    m->freed_bytes += n->freed_bytes;
    if (n->peak > m->peak)
        m->peak = n->peak;
    if (!timed)
        return;
    m->incl += n->incl + n->open_extra;
    if (n->min < m->min)
        m->min = n->min;
    if (n->max > m->max)
        m->max = n->max;
    rt_hist_merge(f, m, n);
}

/* Merges ended thread t (its owner thread, or the thread is gone) into
 * the folded thread as of time now. Returns 0, or -1 (no memory: nothing
 * was merged, the caller writes t on its own). */
RT_NOINST static int rt_fold(struct rt_thread *t, uint64_t now)
{
    struct rt_thread *f = rt_fold_thread();
    if (f && !rt_fs.maps)
        rt_fs.maps = rt_map(sizeof(uint32_t *) * RT_FOLD_SERIALS);
    uint32_t nnodes = t->nnodes;
    size_t map_size = sizeof(uint32_t) * ((size_t)nnodes + 1);
    uint32_t *map = f && rt_fs.maps ? rt_fold_map_alloc(map_size) : NULL;
    int kept = map != NULL; /* else a map for the merge only */
    if (!map && (!f || !rt_fs.maps || !(map = rt_map(map_size))))
        return -1;
    uint32_t *to = map + 1; /* t's node id -> f's */
    map[0] = nnodes;
    rt_hist_drain(t);
    /* calls still open (pthread_exit inside them) are closed now, as the
     * writer closes them; a call folded into its caller's node is timed
     * by the caller */
    for (uint32_t id = 0; id < nnodes; id++)
        rt_tree_node(t, id)->open_extra = 0;
    if (rt_config.mode == RT_MODE_SUMMARY) {
        for (uint32_t i = 0; i < t->depth; i++) {
            const struct rt_frame *fr = &t->stack[i];
            if (fr->node && now > fr->ts && !(i > 0 && t->stack[i - 1].node == fr->node))
                fr->node->open_extra += now - fr->ts;
        }
    }
    f->stats.folded_closed += rt_frames_recorded(t, t->depth);
    to[0] = f->root->id;
    rt_fold_node(f, f->root, t->root, 0);
    for (uint32_t id = 1; id < nnodes; id++) {
        const struct rt_node *n = rt_tree_node(t, id);
        struct rt_node *parent = rt_tree_node(f, to[n->parent]);
        struct rt_node *m = rt_tree_child(f, parent, n->fn);
        to[id] = m->id;
        rt_fold_node(f, m, n, m != parent);
    }
    rt_lines_merge(f, t, now);
    rt_heap_fold(f, t);

    const struct rt_thread_stats *s = &t->stats;
    f->stats.dropped_reentrant += s->dropped_reentrant;
    f->stats.dropped_depth += s->dropped_depth;
    f->stats.repaired_longjmp += s->repaired_longjmp;
    f->stats.unmatched_exits += s->unmatched_exits;
    f->stats.lines_unmatched += s->lines_unmatched;
    f->stats.lines_dropped += s->lines_dropped;
    f->stats.hist_dropped += s->hist_dropped;
    f->stats.folded_threads++;
    uint32_t serial = t->serial & (RT_FOLD_SERIALS - 1); /* as block headers keep it */
    if (!kept) {
        rt_unmap(map, map_size);
        map = RT_FOLD_NO_MAP;
    }
    __atomic_store_n(&rt_fs.maps[serial], map, __ATOMIC_RELEASE);
    return 0;
}

RT_NOINST void rt_fold_thread_ended(struct rt_thread *t, uint64_t now)
{
    if (rt_config.mode != RT_MODE_TRACE && rt_fs.ended_written >= RT_THREADS_WRITTEN &&
        rt_fold(t, now) == 0)
        return;
    rt_fs.ended_written++;
    rt_writer_thread(t, now);
}

RT_NOINST void rt_fold_write(uint64_t now)
{
    if (rt_fs.folded)
        rt_writer_thread(rt_fs.folded, now);
}

RT_NOINST void rt_fold_after_fork(void)
{
    /* the parent's: the child's file holds none of it */
    if (rt_fs.folded) {
        rt_lines_release(rt_fs.folded);
        rt_heap_release(rt_fs.folded);
        rt_tree_release(rt_fs.folded);
        rt_unmap(rt_fs.folded, rt_fs.folded->map_size);
    }
    rt_fs.folded = NULL;
    rt_fs.ended_written = 0;
    /* the maps themselves stay, untouched copies of the parent's pages:
     * the child's frees of the parent's blocks name no owner thread */
    rt_unmap(rt_fs.maps, sizeof(uint32_t *) * RT_FOLD_SERIALS);
    rt_fs.maps = NULL;
    rt_fs.map_bytes = 0;
    rt_fs.pos = rt_fs.end = NULL;
}
