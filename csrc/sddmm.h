// Generalised sampled dense-dense matrix multiply: one value per edge computed from operands
// that live on the edge's source (u), destination (v) or the edge itself (e).
#pragma once
#include <cstdint>

#include "message.h"
#include "prefetch.h"
#include "operand.h"
#include "parallel.h"

namespace gs {

enum Target : int { kSrc = 0, kDst = 1, kEdge = 2 };

template <class I>
inline int64_t target_row(int target, const I* src, const I* dst, int64_t e) {
  return target == kSrc ? int64_t(src[e]) : target == kDst ? int64_t(dst[e]) : e;
}

// Dot contracts the feature axis (out is (E, H, 1)); otherwise out is (E, H, D).
template <class Op, bool Dot, class T, class I>
void sddmm(const I* src, const I* dst, int64_t num_edges, Operand<T> lhs, int lhs_target,
           Operand<T> rhs, int rhs_target, T* out, int64_t H, int64_t D, int nthreads) {
  const int64_t out_d = Dot ? 1 : D;
  // Edges come in the graph's order, so both endpoint rows are random gathers: ask for the rows
  // of the edge a few places ahead (the same hint the SpMM gives its source rows).
  const int64_t l_bytes = lhs.row_stride * int64_t(sizeof(T)), r_bytes = rhs.row_stride * int64_t(sizeof(T));
  parallel_rows(num_edges, num_edges * H * D, nthreads, [&](int64_t e) {
    const int64_t ahead = std::min(e + 8, num_edges - 1);
    if constexpr (Op::lhs) prefetch_bytes(lhs.at(target_row(lhs_target, src, dst, ahead), 0), l_bytes);
    if constexpr (Op::rhs) prefetch_bytes(rhs.at(target_row(rhs_target, src, dst, ahead), 0), r_bytes);
    const int64_t li = Op::lhs ? target_row(lhs_target, src, dst, e) : 0;
    const int64_t ri = Op::rhs ? target_row(rhs_target, src, dst, e) : 0;
    for (int64_t h = 0; h < H; ++h) {
      T* o = out + (e * H + h) * out_d;
      const T* l = nullptr;
      const T* r = nullptr;
      if constexpr (Op::lhs) l = lhs.at(li, h);
      if constexpr (Op::rhs) r = rhs.at(ri, h);
      if constexpr (Dot) {
        // Contract the feature axis; a broadcast operand factors out of the sum.
        T acc = T(0);
        if (!lhs.bcast_d && !rhs.bcast_d) { for (int64_t d = 0; d < D; ++d) acc += l[d] * r[d]; }
        else if (!lhs.bcast_d) { for (int64_t d = 0; d < D; ++d) acc += l[d]; acc *= r[0]; }
        else if (!rhs.bcast_d) { for (int64_t d = 0; d < D; ++d) acc += r[d]; acc *= l[0]; }
        else { acc = T(D) * l[0] * r[0]; }
        o[0] = acc;
      } else {
        fold_row<Op, AssignR<T>>(o, nullptr, l, lhs.bcast_d, r, rhs.bcast_d, D, e);
      }
    }
  });
}

}  // namespace gs
