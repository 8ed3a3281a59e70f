// Dropout with masks from a counter-based generator. torch's CPU dropout draws one Bernoulli per
// element from a sequential Mersenne twister, which costs about as much as the 300-wide linear
// layer it follows. Here element i's draw is the high half of the i-th output of the splitmix64
// stream from `seed`, a pure function of (seed, i): blocks run on any thread in any order,
// vectorise, and give the same mask for every thread count.
#pragma once
#include <cstdint>

#include "parallel.h"

namespace gs {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

inline uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// out[i] = x[i] * (draw(i) >= threshold ? scale : 0) for i in [begin, end): a NaN or inf input
// stays NaN where dropped, as with torch's x * mask.
template <class T>
void dropout_block(const T* __restrict x, T* __restrict out, int64_t begin, int64_t end, uint64_t seed,
                   uint32_t threshold, T scale) {
  for (int64_t i = begin; i < end; ++i) {
    const auto draw = uint32_t(splitmix64_mix(seed + uint64_t(i + 1) * kGolden) >> 32);
    out[i] = x[i] * (draw >= threshold ? scale : T(0));
  }
}

// P(drop) = threshold / 2^32. The mask is never stored: the backward pass calls this again with
// the same seed on the incoming gradient. The block's arguments go by value: captured by
// reference into the OpenMP region they could alias `out`, which kept the loop scalar (6x slower
// on 2 threads than on one).
template <class T>
void dropout(const T* x, T* out, int64_t n, uint64_t seed, uint32_t threshold, T scale, int nthreads) {
  constexpr int64_t kBlock = 4096;
  parallel_rows((n + kBlock - 1) / kBlock, n, nthreads, [=](int64_t b) {
    dropout_block(x, out, b * kBlock, (b + 1) * kBlock < n ? (b + 1) * kBlock : n, seed, threshold, scale);
  });
}

}  // namespace gs
