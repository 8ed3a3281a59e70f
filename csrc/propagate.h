// Graph smoothing by gradient steps, all steps in one call:
//   z_0 = y,   z_{k+1}[v] = a x[v] + b s[v] sum_{u in row v} s[u] z_k[u],
// with s = D^-1/2 of the self-looped graph, i.e. z <- a x + b A z for the symmetric-normalised
// adjacency A = D^-1/2 (adjacency + I) D^-1/2. Boosting through the propagation (EBBS) runs this
// twice per tree, so the weights are never stored: scaling z by s before the gather and the sum by
// s after turns the weighted SpMM into an unweighted one that reads only the column indices.
#pragma once
#include <cstdint>

#include "parallel.h"

namespace gs {

template <class T, class I>
void propagate(const I* indptr, const I* indices, int64_t n, const T* scale, const T* x, const T* y,
               T* out, T* work, int64_t D, int64_t steps, T a, T b, int nthreads) {
  const int64_t nnz = int64_t(indptr[n]);
  const T* z = y;
  for (int64_t step = 0; step < steps; ++step) {
    // work = s * z (z is y, then the previous step's out)
    parallel_rows(n, n * D, nthreads, [&](int64_t v) {
      const T sv = scale[v];
      for (int64_t d = 0; d < D; ++d) work[v * D + d] = sv * z[v * D + d];
    });
    parallel_rows(n, (nnz + n) * D, nthreads, [&](int64_t v) {
      const int64_t beg = int64_t(indptr[v]), end = int64_t(indptr[v + 1]);
      T* o = out + v * D;
      if (D == 1) {
        // Four partial sums: one running sum would wait on each add's latency per edge.
        T acc[4] = {T(0), T(0), T(0), T(0)};
        int64_t k = beg;
        for (; k + 4 <= end; k += 4)
          for (int j = 0; j < 4; ++j) acc[j] += work[int64_t(indices[k + j])];
        for (; k < end; ++k) acc[0] += work[int64_t(indices[k])];
        o[0] = a * x[v] + b * scale[v] * ((acc[0] + acc[1]) + (acc[2] + acc[3]));
        return;
      }
      for (int64_t d = 0; d < D; ++d) o[d] = T(0);
      for (int64_t k = beg; k < end; ++k) {
        const T* w = work + int64_t(indices[k]) * D;
        for (int64_t d = 0; d < D; ++d) o[d] += w[d];
      }
      const T bs = b * scale[v];
      for (int64_t d = 0; d < D; ++d) o[d] = a * x[v * D + d] + bs * o[d];
    });
    z = out;
  }
  if (steps == 0)
    parallel_rows(n, n * D, nthreads, [&](int64_t v) {
      for (int64_t d = 0; d < D; ++d) out[v * D + d] = y[v * D + d];
    });
}

}  // namespace gs
