// CRC-32C with the CPU's own instruction (SSE 4.2's `crc32`, on every x86-64 server of the
// last fifteen years): 8 bytes per instruction against slicing-by-8's eight table lookups;
// checkpoints of a 100 MB table spent most of their time checksumming. Other CPUs (and x86
// without SSE 4.2) get 0 from folio_crc32c_hardware and FolioShards' `CRC32C` keeps its
// table-driven loop, the twin this one is checked against.
#include "folio_kernels.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#include <pthread.h>
#include <string.h>

// Bytes per lane of the three-lane loop below.
enum { LANE = 4096 };

// The crc register after LANE zero bytes, from each of the 32 one-bit registers: the
// register's update is linear (no inversions inside), so these columns give it for any
// register, without running over the zeros.
static uint32_t zeros_columns[32];
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static void make_zeros_columns(void) {
    for (int bit = 0; bit < 32; bit++) {
        uint64_t crc = 1u << bit;
        for (int i = 0; i < LANE / 8; i++) crc = _mm_crc32_u64(crc, 0);
        zeros_columns[bit] = (uint32_t)crc;
    }
}

// The register `crc` carried over LANE more bytes that are all zero.
static uint32_t over_zeros(uint32_t crc) {
    uint32_t out = 0;
    for (int bit = 0; crc; bit++, crc >>= 1) {
        if (crc & 1) out ^= zeros_columns[bit];
    }
    return out;
}

static inline uint64_t load8(const unsigned char *bytes) {
    uint64_t word;
    memcpy(&word, bytes, 8);
    return word;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *bytes, size_t count) {
    // One chain of dependent crc32 instructions waits 3 cycles for each; three lanes of a
    // 12 KiB piece, the second and third started from a zero register, keep the unit busy
    // every cycle. The register over the whole piece is then the first lane's carried over
    // the other two's bytes (as if they were zeros), plus what they add: first carried over
    // LANE zeros, the second's added, carried over LANE zeros, the third's added.
    if (count >= 3 * LANE) pthread_once(&zeros_once, make_zeros_columns);
    while (count >= 3 * LANE) {
        uint64_t first = crc, second = 0, third = 0;
        for (int i = 0; i < LANE; i += 8) {
            first = _mm_crc32_u64(first, load8(bytes + i));
            second = _mm_crc32_u64(second, load8(bytes + LANE + i));
            third = _mm_crc32_u64(third, load8(bytes + 2 * LANE + i));
        }
        crc = over_zeros(over_zeros((uint32_t)first) ^ (uint32_t)second) ^ (uint32_t)third;
        bytes += 3 * LANE;
        count -= 3 * LANE;
    }
    uint64_t wide = crc;
    while (count >= 8) {
        wide = _mm_crc32_u64(wide, load8(bytes));
        bytes += 8;
        count -= 8;
    }
    crc = (uint32_t)wide;
    while (count--) crc = _mm_crc32_u8(crc, *bytes++);
    return crc;
}

int folio_crc32c_hardware(void) { return __builtin_cpu_supports("sse4.2"); }

uint32_t folio_crc32c_update(uint32_t crc, const void *bytes, size_t count) { return crc32c_sse42(crc, bytes, count); }

#else

int folio_crc32c_hardware(void) { return 0; }

uint32_t folio_crc32c_update(uint32_t crc, const void *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return crc;
}

#endif
