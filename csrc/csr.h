// Graph construction: COO -> compressed rows with the edge permutation, and degree counts.
#pragma once
#include <cstdint>
#include <vector>

namespace gs {

// Stable counting sort of edges by `row`: within a row, edges keep their input order, so the
// layout (and everything computed over it) is deterministic. `eids[k]` is the input position of
// the edge stored in slot k, which lets kernels read edge features in the user's order.
template <class I>
void coo_to_csr(const I* row, const I* col, int64_t num_edges, int64_t num_rows,
                I* indptr, I* indices, I* eids) {
  std::vector<int64_t> cursor(num_rows + 1, 0);
  for (int64_t e = 0; e < num_edges; ++e) ++cursor[int64_t(row[e]) + 1];
  for (int64_t i = 0; i < num_rows; ++i) cursor[i + 1] += cursor[i];
  for (int64_t i = 0; i <= num_rows; ++i) indptr[i] = I(cursor[i]);
  for (int64_t e = 0; e < num_edges; ++e) {
    const int64_t slot = cursor[row[e]]++;
    indices[slot] = col[e];
    eids[slot] = I(e);
  }
}

template <class I>
void degree(const I* idx, int64_t num_edges, int64_t* out) {
  for (int64_t e = 0; e < num_edges; ++e) ++out[idx[e]];
}

}  // namespace gs
