// Graph smoothing by gradient steps, all steps in one call:
//   z_0 = y,   z_{k+1}[v] = a x[v] + b s[v] sum_{u in row v} s[u] z_k[u],
// with s = D^-1/2 of the self-looped graph, i.e. z <- a x + b A z for the symmetric-normalised
// adjacency A = D^-1/2 (adjacency + I) D^-1/2. Boosting through the propagation (EBBS) runs this
// twice per tree on graphs of a few hundred thousand edges, where a step is tens of
// microseconds: scaling z by s before the gather and the sum by s after turns the weighted SpMM
// into an unweighted one that reads only the column indices, and one thread team runs every
// step over fixed row ranges (a barrier between steps instead of a new team and a scaling pass).
#pragma once
#include <cstdint>

#include "parallel.h"
#include "prefetch.h"

namespace gs {

// First row of part `t` of `parts` when rows are split so that each part holds about the same
// number of (edge + row) visits.
template <class I>
int64_t balanced_row_split(const I* indptr, int64_t n, int64_t t, int64_t parts) {
  const int64_t total = int64_t(indptr[n]) + n, target = total * t / parts;
  int64_t lo = 0, hi = n;
  while (lo < hi) {  // first row r with indptr[r] + r >= target
    const int64_t mid = lo + (hi - lo) / 2;
    if (int64_t(indptr[mid]) + mid < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

template <class T, class I>
GS_HOT T gather_sum(const I* indices, int64_t beg, int64_t end, const T* w) {
  // Four partial sums: one running sum would wait on each add's latency per edge.
  T acc[4] = {T(0), T(0), T(0), T(0)};
  int64_t k = beg;
  for (; k + 4 <= end; k += 4)
    for (int j = 0; j < 4; ++j) acc[j] += w[int64_t(indices[k + j])];
  for (; k < end; ++k) acc[0] += w[int64_t(indices[k])];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// `work` (n x D) and `out` alternate as the buffer of s * z, read by one step and written by
// the step before, so that the last step reads `work` and writes z itself to `out`.
template <class T, class I>
void propagate(const I* indptr, const I* indices, int64_t n, const T* scale, const T* x, const T* y,
               T* out, T* work, int64_t D, int64_t steps, T a, T b, int nthreads) {
  if (steps == 0) {
    parallel_rows(n, n * D, nthreads, [&](int64_t v) {
      for (int64_t d = 0; d < D; ++d) out[v * D + d] = y[v * D + d];
    });
    return;
  }
  auto buffer = [&](int64_t step) { return (steps - 1 - step) % 2 == 0 ? work : out; };
  const int64_t visits = (int64_t(indptr[n]) + n) * D * steps;
  const int team = (nthreads > 1 && n >= 2 && visits >= kSerialWork) ? nthreads : 1;
#pragma omp parallel num_threads(team)
  {
    const int64_t t = omp_get_thread_num(), parts = omp_get_num_threads();
    const int64_t lo = balanced_row_split(indptr, n, t, parts), hi = balanced_row_split(indptr, n, t + 1, parts);
    T* const first = buffer(0);
    for (int64_t v = lo; v < hi; ++v)
      for (int64_t d = 0; d < D; ++d) first[v * D + d] = scale[v] * y[v * D + d];
    for (int64_t step = 0; step < steps; ++step) {
#pragma omp barrier
      const T* in = buffer(step);
      const bool last = step + 1 == steps;
      T* next = last ? out : buffer(step + 1);
      for (int64_t v = lo; v < hi; ++v) {
        const int64_t beg = int64_t(indptr[v]), end = int64_t(indptr[v + 1]);
        const T sv = scale[v], bs = b * sv;
        if (D == 1) {
          const T z = a * x[v] + bs * gather_sum(indices, beg, end, in);
          next[v] = last ? z : sv * z;
          continue;
        }
        // Wider rows sum straight into their row of `next`, which no thread reads this step.
        T* o = next + v * D;
        for (int64_t d = 0; d < D; ++d) o[d] = T(0);
        for (int64_t k = beg; k < end; ++k) {
          const T* w = in + int64_t(indices[k]) * D;
          for (int64_t d = 0; d < D; ++d) o[d] += w[d];
        }
        const T m = last ? T(1) : sv;
        for (int64_t d = 0; d < D; ++d) o[d] = m * (a * x[v * D + d] + bs * o[d]);
      }
    }
  }
}

}  // namespace gs
