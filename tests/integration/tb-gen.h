/* SPDX-License-Identifier: MIT */
/* tb-gen.h - the pseudo-random stream tb-gen writes, for tests to recompute. */
#pragma once

#include <stddef.h>
#include <stdint.h>

static inline uint64_t tb_gen_seed(uint64_t seed) {
        return seed * 0x9E3779B97F4A7C15ULL + 1;
}

static inline void tb_gen_fill(uint64_t *state, uint8_t *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint64_t x = *state;
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                *state = x;
                buf[i] = (uint8_t) ((x * 0x2545F4914F6CDD1DULL) >> 56);
        }
}
