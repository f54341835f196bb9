/*
 * atomics.h: the atomic operations the core's counters need (Swift has none
 * on memory it does not own, such as nginx's shared memory). Relaxed order:
 * a counter orders nothing else.
 */
#ifndef BJWT_ATOMICS_H
#define BJWT_ATOMICS_H
#include <stdint.h>

static inline void bjwt_atomic_add(uint64_t *counter, uint64_t n) {
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static inline uint64_t bjwt_atomic_load(const uint64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}
#endif
