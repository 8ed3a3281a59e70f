// Generalised sparse-dense matrix multiply: out[v] = reduce_{e=(u,v)} op(lhs[u], rhs[e]),
// walking compressed rows by destination. Messages are never materialised per edge.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "message.h"
#include "prefetch.h"
#include "operand.h"
#include "parallel.h"

namespace gs {

// Feature chunk kept in registers while a row's edges stream past: four vector registers' worth
// (GS_CHUNK_BYTES is set per instruction set), so a 64-float row is one pass with AVX-512.
#ifndef GS_CHUNK_BYTES
#define GS_CHUNK_BYTES 64
#endif
template <class T> constexpr int64_t kChunk = GS_CHUNK_BYTES / sizeof(T);

// Source rows are random gathers. Asking for the row a few slots ahead, across row boundaries
// (rows average a handful of edges), keeps enough loads in flight to hide memory latency; the
// slot is clamped to the last edge rather than tested, which keeps the loop branch-free.
// A row wider than one chunk is read again by the later chunk passes over the same edges: it
// is asked for further ahead and only into L2, whose larger miss queue keeps more requests in
// flight (measured on the 1M-edge, 256-feature benchmark: 20% faster than into L1; for
// one-chunk rows L1 stays faster).
template <class T, class I>
GS_HOT void prefetch_row(const Operand<T>& lhs, const I* indices, int64_t k, int64_t nnz,
                         int64_t h, int64_t off, int64_t bytes) {
  if (lhs.bcast_d) bytes = sizeof(T);  // one value per row: never hint past it
  const bool wide = lhs.row_stride > kChunk<T>;
  const int64_t ahead = std::min(k + (wide ? 16 : 8), nnz - 1);
  const char* p = reinterpret_cast<const char*>(lhs.at(int64_t(indices[ahead]), h) + off);
  if (wide) for (int64_t b = 0; b < bytes; b += 64) prefetch_line<true>(p + b);
  else for (int64_t b = 0; b < bytes; b += 64) prefetch_line<false>(p + b);
}

// Outputs much larger than the cache are written with streaming stores: a normal store first
// reads the line it fills and then evicts source rows the gathers would have reused. Worth 8-10%
// on the 1M-edge benchmark at 64 and 256 features; smaller outputs stay in cache for the next op.
constexpr int64_t kStreamBytes = int64_t(16) << 20;

template <class T, class V> GS_HOT void store_vector(T* p, const V& v, bool stream) {
  if (stream) {  // the integer forms serve float and double alike
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64) return _mm512_stream_si512(reinterpret_cast<__m512i*>(p), (__m512i)v);
#endif
#if defined(__AVX__)
    if constexpr (sizeof(V) == 32) return _mm256_stream_si256(reinterpret_cast<__m256i*>(p), (__m256i)v);
#endif
#if defined(__SSE2__)
    if constexpr (sizeof(V) == 16) return _mm_stream_si128(reinterpret_cast<__m128i*>(p), (__m128i)v);
#endif
  }
  __builtin_memcpy(p, &v, sizeof(V));
}

// Makes this thread's streaming stores visible before the team joins.
inline void fence_streams() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// The operand rows edge slot k reads for head h (null where the op does not read an operand),
// asking for the source row a few slots ahead on the way.
template <class Op, class T, class I>
GS_HOT void edge_rows(const I* indices, const I* eids, int64_t k, int64_t nnz, const Operand<T>& lhs,
                      const Operand<T>& rhs, int64_t h, int64_t l_off, int64_t r_off,
                      int64_t prefetch_bytes, const T*& l, const T*& r) {
  if constexpr (Op::lhs) {
    prefetch_row(lhs, indices, k, nnz, h, l_off, prefetch_bytes);
    l = lhs.at(int64_t(indices[k]), h) + l_off;
  }
  if constexpr (Op::rhs) r = rhs.at(eids ? int64_t(eids[k]) : k, h) + r_off;
}

// Sum/mean over a full chunk with explicit vector registers (GCC vector extensions): four
// accumulators that never leave registers while the row's edges stream past. Whether an
// operand broadcasts along D is a template flag, so the edge loop carries no per-load branch.
template <class Op, bool LB, bool RB, class T, class I>
GS_HOT void spmm_sum_chunk_of(const I* indices, const I* eids, int64_t beg, int64_t end,
                              int64_t nnz, const Operand<T>& lhs, const Operand<T>& rhs, int64_t h,
                              int64_t d0, bool mean, bool stream, T* __restrict__ out) {
  constexpr int64_t VB = GS_CHUNK_BYTES / 4;
  typedef T V __attribute__((vector_size(VB)));
  constexpr int64_t L = VB / sizeof(T);  // lanes per register
  auto load = [](const T* p, auto bcast, int64_t j) __attribute__((always_inline)) {
    V v;
    if constexpr (decltype(bcast)::value) v = V{} + p[0];
    else __builtin_memcpy(&v, p + j * L, sizeof(V));
    return v;
  };
  V a0{}, a1{}, a2{}, a3{};
  const int64_t l_off = LB ? 0 : d0, r_off = RB ? 0 : d0;
  for (int64_t k = beg; k < end; ++k) {
    const T* l = nullptr;
    const T* r = nullptr;
    edge_rows<Op>(indices, eids, k, nnz, lhs, rhs, h, l_off, r_off, GS_CHUNK_BYTES, l, r);
    V x0{}, x1{}, x2{}, x3{}, y0{}, y1{}, y2{}, y3{};
    if constexpr (Op::lhs) {
      const std::bool_constant<LB> b;
      x0 = load(l, b, 0); x1 = load(l, b, 1); x2 = load(l, b, 2); x3 = load(l, b, 3);
    }
    if constexpr (Op::rhs) {
      const std::bool_constant<RB> b;
      y0 = load(r, b, 0); y1 = load(r, b, 1); y2 = load(r, b, 2); y3 = load(r, b, 3);
    }
    a0 += Op::apply(x0, y0); a1 += Op::apply(x1, y1);
    a2 += Op::apply(x2, y2); a3 += Op::apply(x3, y3);
  }
  if (mean && end > beg) {
    const T deg = T(end - beg);
    a0 /= deg; a1 /= deg; a2 /= deg; a3 /= deg;
  }
  stream = stream && reinterpret_cast<uintptr_t>(out) % sizeof(V) == 0;
  store_vector(out, a0, stream);
  store_vector(out + L, a1, stream);
  store_vector(out + 2 * L, a2, stream);
  store_vector(out + 3 * L, a3, stream);
}

template <class Op, class T, class I>
inline void spmm_sum_chunk(const I* indices, const I* eids, int64_t beg, int64_t end, int64_t nnz,
                           const Operand<T>& lhs, const Operand<T>& rhs, int64_t h, int64_t d0,
                           bool mean, bool stream, T* __restrict__ out) {
  const bool lb = Op::lhs && lhs.bcast_d, rb = Op::rhs && rhs.bcast_d;
  if (lb && rb)
    spmm_sum_chunk_of<Op, true, true>(indices, eids, beg, end, nnz, lhs, rhs, h, d0, mean, stream, out);
  else if (lb)
    spmm_sum_chunk_of<Op, true, false>(indices, eids, beg, end, nnz, lhs, rhs, h, d0, mean, stream, out);
  else if (rb)
    spmm_sum_chunk_of<Op, false, true>(indices, eids, beg, end, nnz, lhs, rhs, h, d0, mean, stream, out);
  else
    spmm_sum_chunk_of<Op, false, false>(indices, eids, beg, end, nnz, lhs, rhs, h, d0, mean, stream, out);
}

// Max/min with arg over a full chunk in vector registers: the compare yields a lane mask that
// selects both the value and the edge id (ids in integer lanes as wide as the values).
template <class Op, class R, class T, class I>
inline void spmm_cmp_chunk(const I* indices, const I* eids, int64_t beg, int64_t end, int64_t nnz,
                           const Operand<T>& lhs, const Operand<T>& rhs, int64_t h, int64_t d0,
                           T* __restrict__ out, int64_t* __restrict__ arg) {
  constexpr int64_t VB = GS_CHUNK_BYTES / 4;
  using IT = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  typedef T V __attribute__((vector_size(VB)));
  typedef IT VI __attribute__((vector_size(VB)));
  constexpr int64_t L = VB / sizeof(T);
  constexpr bool is_max = std::is_same_v<R, MaxR<T>>;
  V acc[4];
  VI idx[4];
  for (int j = 0; j < 4; ++j) { acc[j] = V{} + R::init(); idx[j] = VI{} - 1; }
  const int64_t l_off = lhs.bcast_d ? 0 : d0, r_off = rhs.bcast_d ? 0 : d0;
  for (int64_t k = beg; k < end; ++k) {
    const T* l = nullptr;
    const T* r = nullptr;
    edge_rows<Op>(indices, eids, k, nnz, lhs, rhs, h, l_off, r_off, GS_CHUNK_BYTES, l, r);
    const VI id = VI{} + IT(eids ? int64_t(eids[k]) : k);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      V x{}, y{};
      if constexpr (Op::lhs) {
        if (lhs.bcast_d) x = V{} + l[0];
        else __builtin_memcpy(&x, l + j * L, sizeof(V));
      }
      if constexpr (Op::rhs) {
        if (rhs.bcast_d) y = V{} + r[0];
        else __builtin_memcpy(&y, r + j * L, sizeof(V));
      }
      const V v = Op::apply(x, y);
      // as MaxR/MinR: the first message and the first NaN are taken
      const VI better = (is_max ? (v > acc[j]) : (v < acc[j])) | ((v != v) & (acc[j] == acc[j])) |
                        (idx[j] == -1);
      acc[j] = better ? v : acc[j];
      idx[j] = better ? id : idx[j];
    }
  }
  const bool empty = end == beg;
  for (int j = 0; j < 4; ++j) {
    for (int64_t q = 0; q < L; ++q) {
      out[j * L + q] = empty ? T(0) : acc[j][q];
      arg[j * L + q] = int64_t(idx[j][q]);
    }
  }
}

// Reduces the edges of one row into out[d0, d0 + W) of head h. W is a compile-time width for
// full chunks (the accumulator then lives in registers) or the runtime tail width.
template <class Op, class R, int64_t W, class T, class I>
inline void spmm_chunk(const I* indices, const I* eids, int64_t beg, int64_t end, int64_t nnz,
                       const Operand<T>& lhs, const Operand<T>& rhs, int64_t h, int64_t d0,
                       int64_t width, T* __restrict__ out, int64_t* __restrict__ arg) {
  const int64_t w = W > 0 ? W : width;
  T acc[W > 0 ? W : kChunk<T>];
  int64_t idx[R::has_arg ? (W > 0 ? W : kChunk<T>) : 1];
  for (int64_t j = 0; j < w; ++j) acc[j] = R::init();
  if constexpr (R::has_arg) for (int64_t j = 0; j < w; ++j) idx[j] = -1;
  const int64_t l_off = lhs.bcast_d ? 0 : d0, r_off = rhs.bcast_d ? 0 : d0;
  for (int64_t k = beg; k < end; ++k) {
    const int64_t eid = eids ? int64_t(eids[k]) : k;
    const T* l = nullptr;
    const T* r = nullptr;
    edge_rows<Op>(indices, eids, k, nnz, lhs, rhs, h, l_off, r_off, int64_t(w * sizeof(T)), l, r);
    fold_row<Op, R>(acc, R::has_arg ? idx : nullptr, l, lhs.bcast_d, r, rhs.bcast_d, w, eid);
  }
  const int64_t deg = end - beg;
  for (int64_t j = 0; j < w; ++j) {
    T v = acc[j];
    if constexpr (R::mean) v = deg > 0 ? v / T(deg) : v;
    if constexpr (R::has_arg) v = deg > 0 ? v : T(0);
    out[j] = v;
  }
  if constexpr (R::has_arg) for (int64_t j = 0; j < w; ++j) arg[j] = idx[j];
}

template <class Op, template <class> class Red, class T, class I>
void spmm(const I* indptr, const I* indices, const I* eids, int64_t num_rows,
          Operand<T> lhs, Operand<T> rhs, T* out, int64_t* arg, int64_t H, int64_t D,
          int nthreads) {
  using R = Red<T>;
  constexpr int64_t C = kChunk<T>;
  const int64_t F = H * D;
  const int64_t nnz = int64_t(indptr[num_rows]);
  if constexpr (!R::has_arg) {
    if (F == 1) {
      // One value per node (graph smoothing of a scalar signal): a plain scalar loop, without
      // the chunk machinery whose per-edge set-up dominates when a row is one element wide.
      parallel_rows(num_rows, nnz + num_rows, nthreads, [&](int64_t i) {
        const int64_t beg = int64_t(indptr[i]), end = int64_t(indptr[i + 1]);
        T acc = T(0);
        for (int64_t k = beg; k < end; ++k) {
          T a = T(0), b = T(0);
          if constexpr (Op::lhs) a = lhs.data[int64_t(indices[k]) * lhs.row_stride];
          if constexpr (Op::rhs) b = rhs.data[(eids ? int64_t(eids[k]) : k) * rhs.row_stride];
          acc += Op::apply(a, b);
        }
        out[i] = (R::mean && end > beg) ? acc / T(end - beg) : acc;
      });
      return;
    }
  }
  const bool stream = num_rows * F * int64_t(sizeof(T)) >= kStreamBytes;
  parallel_rows(num_rows, (nnz + num_rows) * F, nthreads, [&](int64_t i) {
    const int64_t beg = int64_t(indptr[i]), end = int64_t(indptr[i + 1]);
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t d0 = 0; d0 < D; d0 += C) {
        const int64_t f = i * F + h * D + d0;
        int64_t* a = R::has_arg ? arg + f : nullptr;
        if constexpr (R::has_arg) {
          // Edge ids fit the integer lanes unless 64-bit ids meet 32-bit values.
          if (D - d0 >= C && (sizeof(T) == 8 || sizeof(I) == 4)) {
            spmm_cmp_chunk<Op, R, T, I>(indices, eids, beg, end, nnz, lhs, rhs, h, d0, out + f, a);
            continue;
          }
        }
        if constexpr (!R::has_arg) {
          if (D - d0 >= C) {
            spmm_sum_chunk<Op, T, I>(indices, eids, beg, end, nnz, lhs, rhs, h, d0, R::mean, stream,
                                     out + f);
            continue;
          }
        }
        if (D - d0 >= C)
          spmm_chunk<Op, R, C>(indices, eids, beg, end, nnz, lhs, rhs, h, d0, C, out + f, a);
        else
          spmm_chunk<Op, R, 0>(indices, eids, beg, end, nnz, lhs, rhs, h, d0, D - d0, out + f, a);
      }
    }
  }, fence_streams);
}

}  // namespace gs
