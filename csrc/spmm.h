// Generalised sparse-dense matrix multiply: out[v] = reduce_{e=(u,v)} op(lhs[u], rhs[e]),
// walking compressed rows by destination. Messages are never materialised per edge.
#pragma once
#include <cstdint>

#include "message.h"
#include "operand.h"
#include "parallel.h"

namespace gs {

template <class Op, template <class> class Red, class T, class I>
void spmm(const I* indptr, const I* indices, const I* eids, int64_t num_rows,
          Operand<T> lhs, Operand<T> rhs, T* out, int64_t* arg, int64_t H, int64_t D,
          int nthreads) {
  using R = Red<T>;
  const int64_t F = H * D;
  const int64_t nnz = int64_t(indptr[num_rows]);
  parallel_rows(num_rows, (nnz + num_rows) * F, nthreads, [&](int64_t i) {
    T* o = out + i * F;
    int64_t* a = nullptr;
    for (int64_t f = 0; f < F; ++f) o[f] = R::init();
    if constexpr (R::has_arg) {
      a = arg + i * F;
      for (int64_t f = 0; f < F; ++f) a[f] = -1;
    }
    const int64_t beg = int64_t(indptr[i]), end = int64_t(indptr[i + 1]);
    for (int64_t k = beg; k < end; ++k) {
      const int64_t eid = eids ? int64_t(eids[k]) : k;
      if constexpr (Op::lhs) {
        // The source rows are random gathers; asking for the one a few edges ahead hides
        // most of the memory latency on graphs larger than the cache.
        if (k + 4 < end) __builtin_prefetch(lhs.at(int64_t(indices[k + 4]), 0));
      }
      for (int64_t h = 0; h < H; ++h) {
        const T* l = nullptr;
        const T* r = nullptr;
        if constexpr (Op::lhs) l = lhs.at(int64_t(indices[k]), h);
        if constexpr (Op::rhs) r = rhs.at(eid, h);
        fold_row<Op, R>(o + h * D, R::has_arg ? a + h * D : nullptr, l, lhs.bcast_d, r,
                        rhs.bcast_d, D, eid);
      }
    }
    const int64_t deg = end - beg;
    if constexpr (R::mean) {
      if (deg > 0) {
        for (int64_t f = 0; f < F; ++f) o[f] /= T(deg);
      }
    }
    if constexpr (R::has_arg) {
      if (deg == 0) for (int64_t f = 0; f < F; ++f) o[f] = T(0);
    }
  });
}

}  // namespace gs
