// Reductions over contiguous row segments (the readout of a batch of graphs).
#pragma once
#include <cstdint>

#include "message.h"
#include "parallel.h"

namespace gs {

template <template <class> class Red, class T>
void segment_reduce(const int64_t* offsets, int64_t num_segments, const T* x, int64_t F, T* out,
                    int64_t* arg, int nthreads) {
  using R = Red<T>;
  parallel_rows(num_segments, offsets[num_segments] * F, nthreads, [&](int64_t b) {
    T* o = out + b * F;
    int64_t* a = R::has_arg ? arg + b * F : nullptr;
    for (int64_t f = 0; f < F; ++f) o[f] = R::init();
    if constexpr (R::has_arg) for (int64_t f = 0; f < F; ++f) a[f] = -1;
    const int64_t beg = offsets[b], end = offsets[b + 1];
    for (int64_t i = beg; i < end; ++i) fold_row<CopyLhs, R>(o, a, x + i * F, false, x, false, F, i);
    const int64_t n = end - beg;
    if constexpr (R::mean) {
      if (n > 0) for (int64_t f = 0; f < F; ++f) o[f] /= T(n);
    }
    if constexpr (R::has_arg) {
      if (n == 0) for (int64_t f = 0; f < F; ++f) o[f] = T(0);
    }
  });
}

}  // namespace gs
