// Dropout masks from a counter-based generator. torch's CPU dropout draws one Bernoulli per
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

// out[i] = scale where draw(i) >= threshold, else 0: P(drop) = threshold / 2^32.
template <class T>
void dropout_mask(T* out, int64_t n, uint64_t seed, uint32_t threshold, T scale, int nthreads) {
  constexpr int64_t kBlock = 4096;
  parallel_rows((n + kBlock - 1) / kBlock, n, nthreads, [&](int64_t b) {
    const int64_t end = (b + 1) * kBlock < n ? (b + 1) * kBlock : n;
    for (int64_t i = b * kBlock; i < end; ++i) {
      const auto draw = uint32_t(splitmix64_mix(seed + uint64_t(i + 1) * kGolden) >> 32);
      out[i] = draw >= threshold ? scale : T(0);
    }
  });
}

}  // namespace gs
