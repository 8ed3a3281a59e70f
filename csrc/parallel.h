// Row-parallel loops. Each row is computed by exactly one thread in a fixed order, so results
// are bitwise identical for any thread count; the schedule only decides who does which row.
#pragma once
#include <algorithm>
#include <cstdint>

namespace gs {

// Below this many scalar updates a thread team costs more than it saves (a molecule's worth
// of work is a few thousand updates).
constexpr int64_t kSerialWork = int64_t(1) << 15;

struct NoFinish { void operator()() const {} };

// `finish` runs once on every thread that took part, after its last row and before the team
// joins (a store fence after streaming stores, for instance).
template <class Body, class Finish = NoFinish>
void parallel_rows(int64_t n, int64_t work, int nthreads, Body&& body, Finish finish = {}) {
  if (nthreads <= 1 || n < 2 || work < kSerialWork) {
    for (int64_t i = 0; i < n; ++i) body(i);
    finish();
    return;
  }
  // Dynamic chunks absorb skewed degree distributions (power-law graphs).
  const int64_t chunk = std::max<int64_t>(16, n / (int64_t(nthreads) * 32));
#pragma omp parallel num_threads(nthreads)
  {
#pragma omp for schedule(dynamic, chunk) nowait
    for (int64_t i = 0; i < n; ++i) body(i);
    finish();
  }
}

}  // namespace gs
