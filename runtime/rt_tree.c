/*
 * The per-thread calling-context tree of summary and count modes: node
 * storage in mmap'd chunks (ids are dense, a parent's id is always smaller
 * than its children's), and the (parent, function) -> child hash that backs
 * each node's one-entry child cache.
 *
 * Everything here runs on the owning thread only, on the slow path of a hook
 * (a new call path, or a cache miss), or at fork and thread end. The writer
 * may read nodes from another thread while they are updated: nnodes is
 * published with release order after a node is fully initialised.
 */
#include "rt_internal.h"

#define RT_HASH_INITIAL 4096u

RT_NOINST static uint32_t rt_hash(uint32_t parent, uint64_t fn)
{
    uint64_t h = (fn ^ ((uint64_t)parent << 40)) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

RT_NOINST struct rt_node *rt_tree_node(struct rt_thread *t, uint32_t id)
{
    return &t->chunks[id / RT_NODES_PER_CHUNK][id % RT_NODES_PER_CHUNK];
}

RT_NOINST static void rt_node_reset(struct rt_node *n)
{
    n->last_child = NULL;
    n->prev_child = NULL;
    n->calls = 0;
    n->incl = 0;
    n->min = UINT64_MAX;
    n->max = 0;
    n->keep = 0;
    n->alloc_calls = 0;
    n->alloc_bytes = 0;
    n->free_calls = 0;
    n->freed_bytes = 0;
    n->peak = 0;
    n->off_cpu = 0;
}

/* A new node, or NULL when there are budget nodes already or memory is
 * spent. */
RT_NOINST static struct rt_node *rt_node_new(struct rt_thread *t, uint32_t parent,
                                             uint64_t fn, uint32_t budget)
{
    uint32_t id = t->nnodes;
    if (id >= budget)
        return NULL;
    uint32_t chunk = id / RT_NODES_PER_CHUNK;
    if (chunk >= RT_MAX_CHUNKS)
        return NULL;
    if (!t->chunks[chunk]) {
        t->chunks[chunk] = rt_map(sizeof(struct rt_node) * RT_NODES_PER_CHUNK);
        if (!t->chunks[chunk])
            return NULL;
    }
    struct rt_node *n = rt_tree_node(t, id);
    rt_node_reset(n);
    for (unsigned r = 0; r < RT_HIST_ROWS; r++)
        n->hist[r] = NULL;
    n->fn = fn;
    n->id = id;
    n->parent = parent;
    __atomic_store_n(&t->nnodes, id + 1, __ATOMIC_RELEASE);
    return n;
}

RT_NOINST static int rt_hash_grow(struct rt_thread *t)
{
    uint32_t size = t->child_hash ? (t->child_mask + 1) * 2 : RT_HASH_INITIAL;
    uint32_t *table = rt_map(sizeof(uint32_t) * size);
    if (!table)
        return -1;
    uint32_t mask = size - 1;
    if (t->child_hash) {
        for (uint32_t i = 0; i <= t->child_mask; i++) {
            uint32_t id = t->child_hash[i];
            if (!id)
                continue;
            struct rt_node *n = rt_tree_node(t, id);
            uint32_t h = rt_hash(n->parent, n->fn) & mask;
            while (table[h])
                h = (h + 1) & mask;
            table[h] = id;
        }
        rt_unmap(t->child_hash, sizeof(uint32_t) * (t->child_mask + 1));
    }
    t->child_hash = table;
    t->child_mask = mask;
    return 0;
}

/* Empties the thread's child cache (its nodes are gone or reused). */
RT_NOINST static void rt_tree_cache_clear(struct rt_thread *t)
{
    for (uint32_t i = 0; i < RT_CHILD_CACHE; i++)
        t->child_cache[i] = NULL;
}

RT_NOINST int rt_tree_init(struct rt_thread *t)
{
    t->nnodes = 0;
    rt_tree_cache_clear(t);
    if (rt_hash_grow(t) != 0)
        return -1;
    t->root = rt_node_new(t, 0, 0, t->max_nodes);
    return t->root ? 0 : -1;
}

/* The child of parent for fn, or NULL. */
RT_NOINST static struct rt_node *rt_tree_find(struct rt_thread *t, uint32_t parent,
                                              uint64_t fn)
{
    for (uint32_t h = rt_hash(parent, fn) & t->child_mask;; h = (h + 1) & t->child_mask) {
        uint32_t id = t->child_hash[h];
        if (!id)
            return NULL;
        struct rt_node *n = rt_tree_node(t, id);
        if (n->fn == fn && n->parent == parent)
            return n;
    }
}

/* A new child of parent for fn, within budget nodes, or NULL. */
RT_NOINST static struct rt_node *rt_tree_add(struct rt_thread *t, uint32_t parent,
                                             uint64_t fn, uint32_t budget)
{
    if ((t->child_used + 1) * 2 > t->child_mask + 1 && rt_hash_grow(t) != 0)
        return NULL;
    struct rt_node *n = rt_node_new(t, parent, fn, budget);
    if (!n)
        return NULL;
    uint32_t h = rt_hash(parent, fn) & t->child_mask;
    while (t->child_hash[h])
        h = (h + 1) & t->child_mask;
    t->child_hash[h] = n->id;
    t->child_used++;
    return n;
}

/* The child of parent for fn, created on first use. Once the thread has
 * CPROF_MAX_NODES nodes, a call that needs a new one is counted on its
 * parent's RT_FN_NODE_LIMIT child instead (made past the budget: at most
 * one per node), and so are all the calls it makes: they fold into that
 * node, which has no children. The parent's self time stays its own, and
 * the writer reports those calls as dropped_nodes. Should even that node be
 * impossible (no memory), the call is counted on the root. */
RT_NOINST struct rt_node *rt_tree_child(struct rt_thread *t, struct rt_node *parent,
                                        uint64_t fn)
{
    if (parent->fn == RT_FN_NODE_LIMIT)
        return parent;
    struct rt_node *n = rt_tree_find(t, parent->id, fn);
    if (!n)
        n = rt_tree_add(t, parent->id, fn, t->max_nodes);
    if (!n)
        n = rt_tree_find(t, parent->id, RT_FN_NODE_LIMIT);
    if (!n)
        n = rt_tree_add(t, parent->id, RT_FN_NODE_LIMIT,
                        RT_MAX_CHUNKS * RT_NODES_PER_CHUNK - 1);
    return n ? n : t->root;
}

/* The child of parent for fn when it is not parent->last_child: the other
 * cached child (a caller alternating between two callees hits it), else
 * the hash table. Keeps the two most recent children cached. Hot path,
 * on a cache miss. */
RT_NOINST struct rt_node *rt_tree_child_cached(struct rt_thread *t,
                                               struct rt_node *parent, uint64_t fn)
{
    struct rt_node *c = parent->prev_child;
    if (!c || c->fn != fn)
        c = rt_tree_child(t, parent, fn);
    parent->prev_child = parent->last_child;
    parent->last_child = c;
    if (c->fn == fn && c->parent == parent->id)
        t->child_cache[rt_tree_cache_slot(parent->id, fn)] = c;
    return c;
}

/* After fork: the child keeps the tree's shape (its open frames point into
 * it) but none of the parent's counts (histograms: rt_hist_zero). */
RT_NOINST void rt_tree_zero(struct rt_thread *t)
{
    t->npending = 0;
    for (uint32_t id = 0; id < t->nnodes; id++) {
        struct rt_node *n = rt_tree_node(t, id);
        struct rt_node *last = n->last_child, *prev = n->prev_child;
        rt_node_reset(n); /* keeps n->hist */
        n->last_child = last;
        n->prev_child = prev;
    }
    rt_hist_zero(t);
}

RT_NOINST void rt_tree_release(struct rt_thread *t)
{
    for (uint32_t c = 0; c < RT_MAX_CHUNKS && t->chunks[c]; c++) {
        rt_unmap(t->chunks[c], sizeof(struct rt_node) * RT_NODES_PER_CHUNK);
        t->chunks[c] = NULL;
    }
    if (t->child_hash)
        rt_unmap(t->child_hash, sizeof(uint32_t) * (t->child_mask + 1));
    t->child_hash = NULL;
    t->nnodes = 0;
    rt_tree_cache_clear(t);
    rt_hist_release(t);
}
