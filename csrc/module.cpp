// Python bindings. Arrays arrive as DLPack/ndarray views (torch tensors, numpy arrays, ...), so
// the module never links against torch. Outputs are preallocated by the caller. The Python layer
// validates node ids once per graph; outputs are `noconvert` so a write can never land in a
// temporary copy; here every shape relation a kernel relies on is re-checked
// (O(1)) so that no call can index out of bounds.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "csr.h"
#include "edge_softmax.h"
#include "sddmm.h"
#include "segment.h"
#include "spmm.h"

namespace nb = nanobind;
using Arr = nb::ndarray<nb::device::cpu, nb::c_contig>;
using OptArr = std::optional<Arr>;

namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

template <class T> bool is(const Arr& a) { return a.dtype() == nb::dtype<T>(); }
template <class T> T* ptr(const Arr& a) { return static_cast<T*>(a.data()); }

void require(bool ok, const std::string& msg) { if (!ok) fail(msg); }

// Compressed rows must start at 0, end at nnz and never decrease: a kernel walks them blindly.
// (Node ids inside `indices`/`eids` are checked once per graph by graphsci.Graph.)
template <class I> void require_rows(const I* indptr, int64_t n, int64_t nnz) {
  require(int64_t(indptr[0]) == 0 && int64_t(indptr[n]) == nnz, "indptr must run from 0 to the number of edges");
  for (int64_t i = 0; i < n; ++i) require(indptr[i] <= indptr[i + 1], "indptr must be non-decreasing");
}

void require_shape(const Arr& a, std::initializer_list<int64_t> shape, const char* name) {
  require(a.ndim() == shape.size(), std::string(name) + ": wrong number of dimensions");
  size_t i = 0;
  for (int64_t s : shape) {
    require(int64_t(a.shape(i)) == s, std::string(name) + ": wrong shape along axis " + std::to_string(i));
    ++i;
  }
}

// Calls f(T{}) for the value dtype of `a` (float32 / float64).
template <class F> void with_value_type(const Arr& a, F&& f) {
  if (is<float>(a)) f(float{});
  else if (is<double>(a)) f(double{});
  else fail("values must be float32 or float64");
}

// Calls f(I{}) for the index dtype of `a` (int32 / int64).
template <class F> void with_index_type(const Arr& a, F&& f) {
  if (is<int32_t>(a)) f(int32_t{});
  else if (is<int64_t>(a)) f(int64_t{});
  else fail("indices must be int32 or int64");
}

template <template <class> class Red> struct RedTag {
  template <class T> using type = Red<T>;
};
template <class F> void with_reducer(const std::string& name, F&& f) {
  if (name == "sum") f(RedTag<gs::SumR>{});
  else if (name == "mean") f(RedTag<gs::MeanR>{});
  else if (name == "max") f(RedTag<gs::MaxR>{});
  else if (name == "min") f(RedTag<gs::MinR>{});
  else fail("unknown reduce '" + name + "'");
}

template <class F> void with_binary_op(const std::string& name, F&& f) {
  if (name == "copy_lhs") f(gs::CopyLhs{});
  else if (name == "copy_rhs") f(gs::CopyRhs{});
  else if (name == "add") f(gs::Add{});
  else if (name == "sub") f(gs::Sub{});
  else if (name == "mul") f(gs::Mul{});
  else if (name == "div") f(gs::Div{});
  else fail("unknown op '" + name + "'");
}

// Builds a broadcasting view of a (rows, Hx, Dx) operand against an (H, D) output.
template <class T>
gs::Operand<T> operand(const OptArr& a, int64_t rows, int64_t H, int64_t D, const char* name) {
  gs::Operand<T> op;
  if (!a) return op;
  require(a->ndim() == 3, std::string(name) + " must be 3-dimensional (rows, heads, features)");
  require(is<T>(*a), std::string(name) + " must have the output's dtype");
  const int64_t r = a->shape(0), h = a->shape(1), d = a->shape(2);
  require(r == rows, std::string(name) + ": wrong number of rows");
  require(h == H || h == 1, std::string(name) + ": heads do not broadcast");
  require(d == D || d == 1, std::string(name) + ": features do not broadcast");
  op.data = ptr<T>(*a);
  op.row_stride = h * d;
  op.head_stride = h == 1 ? 0 : d;
  op.bcast_d = d == 1 && D != 1;
  return op;
}

void coo_to_csr(const Arr& row, const Arr& col, int64_t num_rows, const Arr& indptr,
                const Arr& indices, const Arr& eids) {
  const int64_t E = row.ndim() == 1 ? int64_t(row.shape(0)) : -1;
  require(E >= 0, "row must be 1-dimensional");
  require(num_rows >= 0, "num_rows must be non-negative");
  require_shape(col, {E}, "col");
  require_shape(indptr, {num_rows + 1}, "indptr");
  require_shape(indices, {E}, "indices");
  require_shape(eids, {E}, "eids");
  with_index_type(row, [&](auto i) {
    using I = decltype(i);
    require(is<I>(col) && is<I>(indptr) && is<I>(indices) && is<I>(eids), "index dtypes differ");
    nb::gil_scoped_release nogil;
    gs::coo_to_csr(ptr<I>(row), ptr<I>(col), E, num_rows, ptr<I>(indptr), ptr<I>(indices), ptr<I>(eids));
  });
}

void degree(const Arr& idx, const Arr& out) {
  require(idx.ndim() == 1 && out.ndim() == 1, "idx and out must be 1-dimensional");
  require(is<int64_t>(out), "out must be int64");
  with_index_type(idx, [&](auto i) {
    using I = decltype(i);
    nb::gil_scoped_release nogil;
    gs::degree(ptr<I>(idx), int64_t(idx.shape(0)), ptr<int64_t>(out));
  });
}

void spmm(const Arr& indptr, const Arr& indices, const OptArr& eids, const OptArr& lhs,
          const OptArr& rhs, const Arr& out, const OptArr& arg, const std::string& op,
          const std::string& reduce, int nthreads) {
  require(indptr.ndim() == 1 && indptr.shape(0) >= 1, "indptr must be 1-dimensional and non-empty");
  require(out.ndim() == 3, "out must be 3-dimensional");
  const int64_t N = int64_t(indptr.shape(0)) - 1, E = indices.ndim() == 1 ? int64_t(indices.shape(0)) : -1;
  require(E >= 0, "indices must be 1-dimensional");
  require(int64_t(out.shape(0)) == N, "out: wrong number of rows");
  const int64_t H = out.shape(1), D = out.shape(2);
  if (eids) require_shape(*eids, {E}, "eids");
  with_index_type(indptr, [&](auto i) {
    using I = decltype(i);
    require(is<I>(indices) && (!eids || is<I>(*eids)), "index dtypes differ");
    const I* ip = ptr<I>(indptr);
    require_rows(ip, N, E);
    with_value_type(out, [&](auto t) {
      using T = decltype(t);
      with_binary_op(op, [&](auto o) {
        using Op = decltype(o);
        require(!Op::lhs || lhs, "op needs a node operand");
        require(!Op::rhs || rhs, "op needs an edge operand");
        // The source-node count is not known here: rows are checked against the largest id
        // the caller vouches for via the operand's own length.
        gs::Operand<T> l = operand<T>(Op::lhs ? lhs : OptArr{}, Op::lhs ? int64_t(lhs->shape(0)) : 0, H, D, "lhs");
        gs::Operand<T> r = operand<T>(Op::rhs ? rhs : OptArr{}, E, H, D, "rhs");
        with_reducer(reduce, [&](auto red) {
          using Tag = decltype(red);
          int64_t* ap = nullptr;
          if constexpr (Tag::template type<T>::has_arg) {
            require(arg.has_value(), "max/min need an arg output");
            require_shape(*arg, {N, H, D}, "arg");
            require(is<int64_t>(*arg), "arg must be int64");
            ap = ptr<int64_t>(*arg);
          }
          nb::gil_scoped_release nogil;
          gs::spmm<Op, Tag::template type, T, I>(ip, ptr<I>(indices), eids ? ptr<I>(*eids) : nullptr, N, l, r,
                                                ptr<T>(out), ap, H, D, nthreads);
        });
      });
    });
  });
}

void sddmm(const Arr& src, const Arr& dst, const OptArr& lhs, int lhs_target, const OptArr& rhs,
           int rhs_target, const Arr& out, const std::string& op, int64_t num_src, int64_t num_dst,
           int nthreads) {
  require(src.ndim() == 1, "src must be 1-dimensional");
  const int64_t E = src.shape(0);
  require_shape(dst, {E}, "dst");
  require(out.ndim() == 3 && int64_t(out.shape(0)) == E, "out must be (E, H, D)");
  require(lhs_target >= 0 && lhs_target <= 2 && rhs_target >= 0 && rhs_target <= 2, "targets must be 0 (u), 1 (v) or 2 (e)");
  const bool dot = op == "dot";
  const int64_t H = out.shape(1);
  // For dot the contraction length is the operands' feature size.
  int64_t D = out.shape(2);
  if (dot) {
    require(D == 1, "dot writes (E, H, 1)");
    require(lhs && rhs, "dot needs two operands");
    D = std::max<int64_t>(lhs->ndim() == 3 ? lhs->shape(2) : 1, rhs->ndim() == 3 ? rhs->shape(2) : 1);
  }
  auto rows_of = [&](int target) { return target == 0 ? num_src : target == 1 ? num_dst : E; };
  with_index_type(src, [&](auto i) {
    using I = decltype(i);
    require(is<I>(dst), "index dtypes differ");
    with_value_type(out, [&](auto t) {
      using T = decltype(t);
      auto go = [&](auto o, auto is_dot) {
        using Op = decltype(o);
        constexpr bool Dot = decltype(is_dot)::value;
        require(!Op::lhs || lhs, "op needs a lhs operand");
        require(!Op::rhs || rhs, "op needs a rhs operand");
        gs::Operand<T> l = operand<T>(Op::lhs ? lhs : OptArr{}, rows_of(lhs_target), H, D, "lhs");
        gs::Operand<T> r = operand<T>(Op::rhs ? rhs : OptArr{}, rows_of(rhs_target), H, D, "rhs");
        nb::gil_scoped_release nogil;
        gs::sddmm<Op, Dot, T, I>(ptr<I>(src), ptr<I>(dst), E, l, lhs_target, r, rhs_target, ptr<T>(out), H, D, nthreads);
      };
      if (dot) go(gs::Mul{}, std::true_type{});
      else with_binary_op(op, [&](auto o) { go(o, std::false_type{}); });
    });
  });
}

void edge_softmax_forward(const Arr& indptr, const Arr& eids, const Arr& score, const Arr& out,
                          int nthreads) {
  require(indptr.ndim() == 1 && indptr.shape(0) >= 1 && eids.ndim() == 1, "bad compressed rows");
  const int64_t N = int64_t(indptr.shape(0)) - 1, E = eids.shape(0);
  require(score.ndim() == 2 && int64_t(score.shape(0)) == E, "score must be (E, H)");
  const int64_t H = score.shape(1);
  require_shape(out, {E, H}, "out");
  with_index_type(indptr, [&](auto i) {
    using I = decltype(i);
    require(is<I>(eids), "index dtypes differ");
    require_rows(ptr<I>(indptr), N, E);
    with_value_type(score, [&](auto t) {
      using T = decltype(t);
      require(is<T>(out), "out dtype differs");
      nb::gil_scoped_release nogil;
      gs::edge_softmax_forward<T, I>(ptr<I>(indptr), ptr<I>(eids), N, ptr<T>(score), ptr<T>(out), H, nthreads);
    });
  });
}

void edge_softmax_backward(const Arr& indptr, const Arr& eids, const Arr& y, const Arr& grad,
                           const Arr& out, int nthreads) {
  require(indptr.ndim() == 1 && indptr.shape(0) >= 1 && eids.ndim() == 1, "bad compressed rows");
  const int64_t N = int64_t(indptr.shape(0)) - 1, E = eids.shape(0);
  require(y.ndim() == 2 && int64_t(y.shape(0)) == E, "y must be (E, H)");
  const int64_t H = y.shape(1);
  require_shape(grad, {E, H}, "grad");
  require_shape(out, {E, H}, "out");
  with_index_type(indptr, [&](auto i) {
    using I = decltype(i);
    require(is<I>(eids), "index dtypes differ");
    require_rows(ptr<I>(indptr), N, E);
    with_value_type(y, [&](auto t) {
      using T = decltype(t);
      require(is<T>(grad) && is<T>(out), "dtypes differ");
      nb::gil_scoped_release nogil;
      gs::edge_softmax_backward<T, I>(ptr<I>(indptr), ptr<I>(eids), N, ptr<T>(y), ptr<T>(grad), ptr<T>(out), H, nthreads);
    });
  });
}

void segment_reduce(const Arr& offsets, const Arr& x, const Arr& out, const OptArr& arg,
                    const std::string& reduce, int nthreads) {
  require(offsets.ndim() == 1 && offsets.shape(0) >= 1 && is<int64_t>(offsets), "offsets must be 1-d int64");
  require(x.ndim() == 2 && out.ndim() == 2, "x and out must be 2-dimensional");
  const int64_t B = int64_t(offsets.shape(0)) - 1, L = x.shape(0), F = x.shape(1);
  require_shape(out, {B, F}, "out");
  const int64_t* off = ptr<int64_t>(offsets);
  require(off[0] == 0 && off[B] == L, "offsets must start at 0 and end at len(x)");
  for (int64_t b = 0; b < B; ++b) require(off[b] <= off[b + 1], "offsets must be non-decreasing");
  with_value_type(x, [&](auto t) {
    using T = decltype(t);
    require(is<T>(out), "out dtype differs");
    with_reducer(reduce, [&](auto red) {
      using Tag = decltype(red);
      int64_t* ap = nullptr;
      if constexpr (Tag::template type<T>::has_arg) {
        require(arg.has_value() && is<int64_t>(*arg), "max/min need an int64 arg output");
        require_shape(*arg, {B, F}, "arg");
        ap = ptr<int64_t>(*arg);
      }
      nb::gil_scoped_release nogil;
      gs::segment_reduce<Tag::template type, T>(off, B, ptr<T>(x), F, ptr<T>(out), ap, nthreads);
    });
  });
}

}  // namespace

NB_MODULE(_C, m) {
  m.doc() = "graphsci native message-passing kernels (torch-agnostic; arrays cross as DLPack views)";
  m.def("coo_to_csr", &coo_to_csr, nb::arg("row"), nb::arg("col"), nb::arg("num_rows"),
        nb::arg("indptr").noconvert(), nb::arg("indices").noconvert(), nb::arg("eids").noconvert());
  m.def("degree", &degree, nb::arg("idx"), nb::arg("out").noconvert());
  m.def("spmm", &spmm, nb::arg("indptr"), nb::arg("indices"), nb::arg("eids").none(),
        nb::arg("lhs").none(), nb::arg("rhs").none(), nb::arg("out").noconvert(), nb::arg("arg").none().noconvert(),
        nb::arg("op"), nb::arg("reduce"), nb::arg("nthreads"));
  m.def("sddmm", &sddmm, nb::arg("src"), nb::arg("dst"), nb::arg("lhs").none(),
        nb::arg("lhs_target"), nb::arg("rhs").none(), nb::arg("rhs_target"), nb::arg("out").noconvert(),
        nb::arg("op"), nb::arg("num_src"), nb::arg("num_dst"), nb::arg("nthreads"));
  m.def("edge_softmax_forward", &edge_softmax_forward, nb::arg("indptr"), nb::arg("eids"),
        nb::arg("score"), nb::arg("out").noconvert(), nb::arg("nthreads"));
  m.def("edge_softmax_backward", &edge_softmax_backward, nb::arg("indptr"), nb::arg("eids"),
        nb::arg("y"), nb::arg("grad"), nb::arg("out").noconvert(), nb::arg("nthreads"));
  m.def("segment_reduce", &segment_reduce, nb::arg("offsets"), nb::arg("x"), nb::arg("out").noconvert(),
        nb::arg("arg").none().noconvert(), nb::arg("reduce"), nb::arg("nthreads"));
}
