// The operator table: binary message functions and reducers. One templated kernel per primitive
// (spmm, sddmm) is instantiated for every (operator, reducer) pair at compile time.
#pragma once
#include <cstdint>
#include <limits>

namespace gs {

// Message/edge operators. `lhs`/`rhs` say which operands the operator reads, so kernels never
// touch an operand that was not given.
struct CopyLhs { static constexpr bool lhs = true, rhs = false; template <class T> static T apply(T a, T) { return a; } };
struct CopyRhs { static constexpr bool lhs = false, rhs = true; template <class T> static T apply(T, T b) { return b; } };
struct Add { static constexpr bool lhs = true, rhs = true; template <class T> static T apply(T a, T b) { return a + b; } };
struct Sub { static constexpr bool lhs = true, rhs = true; template <class T> static T apply(T a, T b) { return a - b; } };
struct Mul { static constexpr bool lhs = true, rhs = true; template <class T> static T apply(T a, T b) { return a * b; } };
struct Div { static constexpr bool lhs = true, rhs = true; template <class T> static T apply(T a, T b) { return a / b; } };

// Reducers in the shape of torch-scatter's: init / update in place on the output row / finish.
// Accumulating straight into the output row keeps it in L1 and needs no copy per reduction.
template <class T> struct SumR {
  static constexpr bool has_arg = false, mean = false;
  static T init() { return T(0); }
  static void update(T& acc, T v, int64_t*, int64_t) { acc += v; }
};
template <class T> struct MeanR : SumR<T> { static constexpr bool mean = true; };
// Max/min take the first message (so a row of -inf still has an arg for the gradient) and the
// first NaN, which then stays: torch's amax/amin propagate NaN, and a dropped NaN would turn a
// row of NaN into -inf, a silently wrong number.
template <class T> struct MaxR {
  static constexpr bool has_arg = true, mean = false;
  static T init() { return -std::numeric_limits<T>::infinity(); }
  // Branch-free select: the comparison is data-dependent and would mispredict half the time.
  static void update(T& acc, T v, int64_t* arg, int64_t id) {
    const bool b = (v > acc) | ((v != v) & (acc == acc)) | (*arg < 0); acc = b ? v : acc; *arg = b ? id : *arg;
  }
};
template <class T> struct MinR {
  static constexpr bool has_arg = true, mean = false;
  static T init() { return std::numeric_limits<T>::infinity(); }
  static void update(T& acc, T v, int64_t* arg, int64_t id) {
    const bool b = (v < acc) | ((v != v) & (acc == acc)) | (*arg < 0); acc = b ? v : acc; *arg = b ? id : *arg;
  }
};

// Overwrites instead of reducing: lets SDDMM reuse fold_row to write one value per edge.
template <class T> struct AssignR {
  static constexpr bool has_arg = false, mean = false;
  static void update(T& acc, T v, int64_t*, int64_t) { acc = v; }
};

// Folds one message row of length D into the output row. An operand whose feature axis is
// broadcast (size 1) is read once, which keeps every loop below a unit-stride, vectorisable one.
template <class Op, class R, class T>
inline void fold_row(T* __restrict__ out, int64_t* __restrict__ arg, const T* __restrict__ l,
                     bool l_bcast, const T* __restrict__ r, bool r_bcast,
                     int64_t D, int64_t id) {
  auto upd = [&](int64_t d, T v) {
    if constexpr (R::has_arg) R::update(out[d], v, arg + d, id);
    else R::update(out[d], v, nullptr, id);
  };
  if constexpr (Op::lhs && Op::rhs) {
    if (!l_bcast && !r_bcast) { for (int64_t d = 0; d < D; ++d) upd(d, Op::apply(l[d], r[d])); }
    else if (!l_bcast) { const T b = r[0]; for (int64_t d = 0; d < D; ++d) upd(d, Op::apply(l[d], b)); }
    else if (!r_bcast) { const T a = l[0]; for (int64_t d = 0; d < D; ++d) upd(d, Op::apply(a, r[d])); }
    else { const T v = Op::apply(l[0], r[0]); for (int64_t d = 0; d < D; ++d) upd(d, v); }
  } else if constexpr (Op::lhs) {
    if (!l_bcast) { for (int64_t d = 0; d < D; ++d) upd(d, l[d]); }
    else { const T a = l[0]; for (int64_t d = 0; d < D; ++d) upd(d, a); }
  } else {
    if (!r_bcast) { for (int64_t d = 0; d < D; ++d) upd(d, r[d]); }
    else { const T b = r[0]; for (int64_t d = 0; d < D; ++d) upd(d, b); }
  }
}

}  // namespace gs
