/*
 * The few string helpers the runtime needs, written here so that they are
 * signal-safe and never reach locale or allocation code in libc.
 */
#include "rt_internal.h"

RT_NOINST size_t rt_strlcpy(char *dst, const char *src, size_t size)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++)
        dst[i] = src[i];
    if (size)
        dst[i] = 0;
    while (src[i])
        i++;
    return i;
}

RT_NOINST size_t rt_strlcat(char *dst, const char *src, size_t size)
{
    size_t used = 0;
    while (used < size && dst[used])
        used++;
    if (used == size)
        return used;
    return used + rt_strlcpy(dst + used, src, size - used);
}

RT_NOINST char *rt_utoa(uint64_t v, char *buf)
{
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return buf;
}

RT_NOINST int rt_streq(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}
