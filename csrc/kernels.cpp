// Instantiates every kernel for one instruction set (GS_ISA, set by CMake) and exposes them as a
// KernelTable. The kernel headers are included inside a per-ISA namespace so that the copies
// compiled with different -march flags can never be merged by the linker.
#include <algorithm>
#include <cmath>
#include <cstdint>
#if defined(__SSE2__)
#include <immintrin.h>
#endif
#include <limits>
#include <omp.h>
#include <type_traits>
#include <vector>

#include "kernels.h"

#ifndef GS_ISA
#define GS_ISA base
#endif
#define GS_CAT2(a, b) a##b
#define GS_CAT(a, b) GS_CAT2(a, b)
#define GS_STR2(a) #a
#define GS_STR(a) GS_STR2(a)

namespace GS_CAT(isa_, GS_ISA) {
#include "dropout.h"
#include "edge_softmax.h"
#include "propagate.h"
#include "sddmm.h"
#include "segment.h"
#include "spmm.h"
}  // namespace

namespace {

namespace impl = GS_CAT(isa_, GS_ISA)::gs;

template <class T> impl::Operand<T> operand(const gs::OperandView& v) {
  impl::Operand<T> op;
  op.data = static_cast<const T*>(v.data);
  op.row_stride = v.row_stride;
  op.head_stride = v.head_stride;
  op.bcast_d = v.bcast_d;
  return op;
}

// Calls f(T{}, I{}) for the runtime value and index types.
template <class F> void with_types(gs::VType v, gs::IType i, F&& f) {
  auto with_index = [&](auto t) {
    if (i == gs::IType::i32) f(t, int32_t{});
    else f(t, int64_t{});
  };
  if (v == gs::VType::f32) with_index(float{});
  else with_index(double{});
}

template <class F> void with_op(gs::BinOp op, F&& f) {
  switch (op) {
    case gs::BinOp::copy_lhs: return f(impl::CopyLhs{});
    case gs::BinOp::copy_rhs: return f(impl::CopyRhs{});
    case gs::BinOp::add: return f(impl::Add{});
    case gs::BinOp::sub: return f(impl::Sub{});
    case gs::BinOp::mul: return f(impl::Mul{});
    case gs::BinOp::div: return f(impl::Div{});
    case gs::BinOp::dot: return f(impl::Mul{});
  }
}

template <template <class> class Red> struct RedTag {
  template <class T> using type = Red<T>;
};
template <class F> void with_reduce(gs::Reduce r, F&& f) {
  switch (r) {
    case gs::Reduce::sum: return f(RedTag<impl::SumR>{});
    case gs::Reduce::mean: return f(RedTag<impl::MeanR>{});
    case gs::Reduce::max: return f(RedTag<impl::MaxR>{});
    case gs::Reduce::min: return f(RedTag<impl::MinR>{});
  }
}

void spmm(const gs::SpmmArgs& a) {
  with_types(a.vtype, a.itype, [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    with_op(a.op, [&](auto o) {
      with_reduce(a.reduce, [&](auto r) {
        using Tag = decltype(r);
        impl::spmm<decltype(o), Tag::template type, T, I>(
            static_cast<const I*>(a.indptr), static_cast<const I*>(a.indices),
            static_cast<const I*>(a.eids), a.num_rows, operand<T>(a.lhs), operand<T>(a.rhs),
            static_cast<T*>(a.out), a.arg, a.H, a.D, a.nthreads);
      });
    });
  });
}

void sddmm(const gs::SddmmArgs& a) {
  with_types(a.vtype, a.itype, [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    auto run = [&](auto o, auto dot) {
      impl::sddmm<decltype(o), decltype(dot)::value, T, I>(
          static_cast<const I*>(a.src), static_cast<const I*>(a.dst), a.num_edges,
          operand<T>(a.lhs), a.lhs_target, operand<T>(a.rhs), a.rhs_target,
          static_cast<T*>(a.out), a.H, a.D, a.nthreads);
    };
    if (a.op == gs::BinOp::dot) run(impl::Mul{}, std::true_type{});
    else with_op(a.op, [&](auto o) { run(o, std::false_type{}); });
  });
}

void edge_softmax_forward(const gs::SoftmaxArgs& a) {
  with_types(a.vtype, a.itype, [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    impl::edge_softmax_forward<T, I>(static_cast<const I*>(a.indptr), static_cast<const I*>(a.eids),
                                     a.num_rows, static_cast<const T*>(a.values),
                                     static_cast<T*>(a.out), a.H, a.nthreads);
  });
}

void edge_softmax_backward(const gs::SoftmaxArgs& a) {
  with_types(a.vtype, a.itype, [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    impl::edge_softmax_backward<T, I>(static_cast<const I*>(a.indptr), static_cast<const I*>(a.eids),
                                      a.num_rows, static_cast<const T*>(a.values),
                                      static_cast<const T*>(a.grad), static_cast<T*>(a.out), a.H,
                                      a.nthreads);
  });
}

void segment_reduce(const gs::SegmentArgs& a) {
  auto run = [&](auto t) {
    using T = decltype(t);
    with_reduce(a.reduce, [&](auto r) {
      using Tag = decltype(r);
      impl::segment_reduce<Tag::template type, T>(a.offsets, a.num_segments,
                                                  static_cast<const T*>(a.x), a.F,
                                                  static_cast<T*>(a.out), a.arg, a.nthreads);
    });
  };
  if (a.vtype == gs::VType::f32) run(float{});
  else run(double{});
}

void propagate(const gs::PropagateArgs& a) {
  with_types(a.vtype, a.itype, [&](auto t, auto i) {
    using T = decltype(t);
    using I = decltype(i);
    impl::propagate<T, I>(static_cast<const I*>(a.indptr), static_cast<const I*>(a.indices), a.num_rows,
                          static_cast<const T*>(a.scale), static_cast<const T*>(a.x),
                          static_cast<const T*>(a.y), static_cast<T*>(a.out), static_cast<T*>(a.work),
                          a.D, a.steps, T(a.a), T(a.b), a.nthreads);
  });
}

void dropout(const gs::DropoutArgs& a) {
  if (a.vtype == gs::VType::f32)
    impl::dropout<float>(static_cast<const float*>(a.x), static_cast<float*>(a.out), a.n, a.seed, a.threshold,
                         float(a.scale), a.nthreads);
  else
    impl::dropout<double>(static_cast<const double*>(a.x), static_cast<double*>(a.out), a.n, a.seed, a.threshold,
                          a.scale, a.nthreads);
}

}  // namespace

const gs::KernelTable* gs::GS_CAT(kernels_, GS_ISA)() {
  static const KernelTable table{GS_STR(GS_ISA), spmm, sddmm, edge_softmax_forward,
                                 edge_softmax_backward, segment_reduce, propagate,
                                 dropout};
  return &table;
}
