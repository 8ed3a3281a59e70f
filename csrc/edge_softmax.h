// Softmax of edge scores over the incoming edges of each destination node, fused into one pass
// per compressed row (forward) and one for the backward, each numerically stable.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "parallel.h"

namespace gs {

template <class T, class I>
void edge_softmax_forward(const I* indptr, const I* eids, int64_t num_rows, const T* score,
                          T* out, int64_t H, int nthreads) {
  const int64_t nnz = int64_t(indptr[num_rows]);
  parallel_rows(num_rows, 3 * nnz * H, nthreads, [&](int64_t i) {
    const int64_t beg = int64_t(indptr[i]), end = int64_t(indptr[i + 1]);
    for (int64_t h = 0; h < H; ++h) {
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t k = beg; k < end; ++k) mx = std::max(mx, score[int64_t(eids[k]) * H + h]);
      // A row whose scores are all -inf (fully masked) gets zeros rather than NaN.
      if (mx == -std::numeric_limits<T>::infinity()) mx = T(0);
      T sum = T(0);
      for (int64_t k = beg; k < end; ++k) {
        const int64_t j = int64_t(eids[k]) * H + h;
        const T ex = std::exp(score[j] - mx);
        out[j] = ex;
        sum += ex;
      }
      // A NaN score makes the whole row NaN, as in torch (the zero test would have hidden it).
      const T inv = sum == T(0) ? T(0) : T(1) / sum;
      for (int64_t k = beg; k < end; ++k) out[int64_t(eids[k]) * H + h] *= inv;
    }
  });
}

// d score_j = y_j * (g_j - sum_k y_k g_k) over the row.
template <class T, class I>
void edge_softmax_backward(const I* indptr, const I* eids, int64_t num_rows, const T* y,
                           const T* grad, T* out, int64_t H, int nthreads) {
  const int64_t nnz = int64_t(indptr[num_rows]);
  parallel_rows(num_rows, 2 * nnz * H, nthreads, [&](int64_t i) {
    const int64_t beg = int64_t(indptr[i]), end = int64_t(indptr[i + 1]);
    for (int64_t h = 0; h < H; ++h) {
      T dot = T(0);
      for (int64_t k = beg; k < end; ++k) {
        const int64_t j = int64_t(eids[k]) * H + h;
        dot += y[j] * grad[j];
      }
      for (int64_t k = beg; k < end; ++k) {
        const int64_t j = int64_t(eids[k]) * H + h;
        out[j] = y[j] * (grad[j] - dot);
      }
    }
  });
}

}  // namespace gs
