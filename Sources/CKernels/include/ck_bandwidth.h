// Memory read bandwidth probe: reads a buffer as several interleaved sequential streams.
#ifndef CK_BANDWIDTH_H
#define CK_BANDWIDTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Reads every 64-byte line of `data[0 ..< bytes]` once, as `streams` equal sequential parts walked in
/// lockstep (streams is rounded down to a power of two in 1...16; `bytes` is rounded down to a multiple of 64 * streams), with the
/// widest vector loads ck_active_level() allows. Returns a checksum of what was read so the reads cannot be
/// optimised away. `data` must be 64-byte aligned.
uint64_t ck_bandwidth_read(const void *data, size_t bytes, int streams);

#ifdef __cplusplus
}
#endif
#endif
