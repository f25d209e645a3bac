/*
 * hot_leak: remember() allocates an entry for each of 500 names and
 * nothing ever frees them: 500 blocks of 64 bytes still allocated at exit,
 * all allocated by remember(). digest() does the real work. `cprof
 * hotspots` finds remember (rule leak) and digest (hot_self).
 */
#include <stdio.h>
#include <stdlib.h>

#define NAMES 500

struct entry {
    struct entry *next;
    char name[56];
};

__attribute__((noinline)) static struct entry *remember(struct entry *list, int i)
{
    struct entry *e = malloc(sizeof *e);
    if (!e)
        return list;
    snprintf(e->name, sizeof e->name, "name-%d", i);
    e->next = list;
    return e;
}

__attribute__((noinline)) static unsigned long digest(unsigned long n)
{
    unsigned long h = 14695981039346656037UL;
    for (unsigned long i = 0; i < n; i++)
        h = (h ^ (i & 0xff)) * 1099511628211UL;
    return h;
}

int main(void)
{
    struct entry *list = NULL;
    for (int i = 0; i < NAMES; i++)
        list = remember(list, i);
    unsigned long h = digest(20000000UL);
    printf("first %s, digest %lu\n", list ? list->name : "-", h & 0xffff);
    return 0;
}
