// Python bindings. Arrays arrive as DLPack/ndarray views (torch tensors, numpy arrays, ...), so
// the module never links against torch. Outputs are preallocated by the caller and bound
// `noconvert`, so a write can never land in a temporary copy. graphsci.Graph checks node ids once
// per graph; here every shape relation a kernel relies on is re-checked so that no call can
// index out of bounds.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "csr.h"
#include "geometry.h"
#include "kernels.h"
#include "molpickle.h"

namespace nb = nanobind;
using Arr = nb::ndarray<nb::device::cpu, nb::c_contig>;
using OptArr = std::optional<Arr>;

namespace {

// ---- instruction-set selection ---------------------------------------------------------------
struct IsaEntry { const char* name; const gs::KernelTable* (*table)(); bool (*supported)(); };

bool always() { return true; }
#if defined(GS_X86_ISAS)
bool has_v3() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
}
bool has_v4() {
  return has_v3() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512cd");
}
const IsaEntry kIsas[] = {{"x86_64_v4", gs::kernels_x86_64_v4, has_v4},
                          {"x86_64_v3", gs::kernels_x86_64_v3, has_v3},
                          {"base", gs::kernels_base, always}};
#else
const IsaEntry kIsas[] = {{"base", gs::kernels_base, always}};
#endif

const gs::KernelTable* best_table() {
  for (const auto& e : kIsas)
    if (e.supported()) return e.table();
  return gs::kernels_base();
}
const gs::KernelTable* g_kernels = best_table();

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (const auto& e : kIsas)
    if (e.supported()) out.emplace_back(e.name);
  return out;
}

// ---- argument checking -----------------------------------------------------------------------
[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }
void require(bool ok, const std::string& msg) { if (!ok) fail(msg); }

template <class T> bool is(const Arr& a) { return a.dtype() == nb::dtype<T>(); }
template <class T> T* ptr(const Arr& a) { return static_cast<T*>(a.data()); }

void require_shape(const Arr& a, std::initializer_list<int64_t> shape, const char* name) {
  require(a.ndim() == shape.size(), std::string(name) + ": wrong number of dimensions");
  size_t i = 0;
  for (int64_t s : shape) {
    require(int64_t(a.shape(i)) == s, std::string(name) + ": wrong shape along axis " + std::to_string(i));
    ++i;
  }
}

gs::VType value_type(const Arr& a, const char* name) {
  if (is<float>(a)) return gs::VType::f32;
  if (is<double>(a)) return gs::VType::f64;
  fail(std::string(name) + " must be float32 or float64");
}

bool same_value_type(const Arr& a, gs::VType v) {
  return v == gs::VType::f32 ? is<float>(a) : is<double>(a);
}

gs::IType index_type(const Arr& a, const char* name) {
  if (is<int32_t>(a)) return gs::IType::i32;
  if (is<int64_t>(a)) return gs::IType::i64;
  fail(std::string(name) + " must be int32 or int64");
}

bool same_index_type(const Arr& a, gs::IType t) {
  return t == gs::IType::i32 ? is<int32_t>(a) : is<int64_t>(a);
}

int64_t index_at(const Arr& a, gs::IType t, int64_t i) {
  return t == gs::IType::i32 ? int64_t(ptr<int32_t>(a)[i]) : ptr<int64_t>(a)[i];
}

// Compressed rows must start at 0, end at nnz and never decrease: a kernel walks them blindly.
template <class I> bool non_decreasing(const I* p, int64_t n) {
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= p[i] <= p[i + 1];  // no early exit: the loop vectorises
  return ok;
}

void require_rows(const Arr& indptr, gs::IType t, int64_t n, int64_t nnz) {
  require(index_at(indptr, t, 0) == 0 && index_at(indptr, t, n) == nnz,
          "indptr must run from 0 to the number of edges");
  const bool ok = t == gs::IType::i32 ? non_decreasing(ptr<int32_t>(indptr), n)
                                      : non_decreasing(ptr<int64_t>(indptr), n);
  require(ok, "indptr must be non-decreasing");
}

gs::BinOp bin_op(const std::string& name) {
  if (name == "copy_lhs") return gs::BinOp::copy_lhs;
  if (name == "copy_rhs") return gs::BinOp::copy_rhs;
  if (name == "add") return gs::BinOp::add;
  if (name == "sub") return gs::BinOp::sub;
  if (name == "mul") return gs::BinOp::mul;
  if (name == "div") return gs::BinOp::div;
  if (name == "dot") return gs::BinOp::dot;
  fail("unknown op '" + name + "'");
}

gs::Reduce reducer(const std::string& name) {
  if (name == "sum") return gs::Reduce::sum;
  if (name == "mean") return gs::Reduce::mean;
  if (name == "max") return gs::Reduce::max;
  if (name == "min") return gs::Reduce::min;
  fail("unknown reduce '" + name + "'");
}

bool uses_lhs(gs::BinOp op) { return op != gs::BinOp::copy_rhs; }
bool uses_rhs(gs::BinOp op) { return op != gs::BinOp::copy_lhs; }

// A broadcasting view of a (rows, Hx, Dx) operand against an (H, D) output.
gs::OperandView operand(const OptArr& a, bool used, int64_t rows, int64_t H, int64_t D,
                        gs::VType vt, const char* name) {
  gs::OperandView v;
  if (!used) return v;
  require(a.has_value(), std::string("op needs the ") + name + " operand");
  require(a->ndim() == 3, std::string(name) + " must be 3-dimensional (rows, heads, features)");
  require(same_value_type(*a, vt), std::string(name) + " must have the output's dtype");
  const int64_t r = a->shape(0), h = a->shape(1), d = a->shape(2);
  require(r == rows, std::string(name) + ": wrong number of rows");
  require(h == H || h == 1, std::string(name) + ": heads do not broadcast");
  require(d == D || d == 1, std::string(name) + ": features do not broadcast");
  v.data = a->data();
  v.row_stride = h * d;
  v.head_stride = h == 1 ? 0 : d;
  v.bcast_d = d == 1 && D != 1;
  return v;
}

int64_t length(const Arr& a, const char* name) {
  require(a.ndim() == 1, std::string(name) + " must be 1-dimensional");
  return int64_t(a.shape(0));
}

// ---- bound functions -------------------------------------------------------------------------
void coo_to_csr(const Arr& row, const Arr& col, int64_t num_rows, const Arr& indptr,
                const Arr& indices, const Arr& eids) {
  const int64_t E = length(row, "row");
  require(num_rows >= 0, "num_rows must be non-negative");
  require_shape(col, {E}, "col");
  require_shape(indptr, {num_rows + 1}, "indptr");
  require_shape(indices, {E}, "indices");
  require_shape(eids, {E}, "eids");
  const gs::IType t = index_type(row, "row");
  require(same_index_type(col, t) && same_index_type(indptr, t) && same_index_type(indices, t) &&
          same_index_type(eids, t), "index dtypes differ");
  nb::gil_scoped_release nogil;
  if (t == gs::IType::i32)
    gs::coo_to_csr(ptr<int32_t>(row), ptr<int32_t>(col), E, num_rows, ptr<int32_t>(indptr), ptr<int32_t>(indices), ptr<int32_t>(eids));
  else
    gs::coo_to_csr(ptr<int64_t>(row), ptr<int64_t>(col), E, num_rows, ptr<int64_t>(indptr), ptr<int64_t>(indices), ptr<int64_t>(eids));
}

void degree(const Arr& idx, const Arr& out) {
  const int64_t E = length(idx, "idx");
  length(out, "out");
  require(is<int64_t>(out), "out must be int64");
  const gs::IType t = index_type(idx, "idx");
  nb::gil_scoped_release nogil;
  if (t == gs::IType::i32) gs::degree(ptr<int32_t>(idx), E, ptr<int64_t>(out));
  else gs::degree(ptr<int64_t>(idx), E, ptr<int64_t>(out));
}

void spmm(const Arr& indptr, const Arr& indices, const OptArr& eids, const OptArr& lhs,
          const OptArr& rhs, const Arr& out, const OptArr& arg, const std::string& op,
          const std::string& reduce, int nthreads) {
  const int64_t N = length(indptr, "indptr") - 1, E = length(indices, "indices");
  require(N >= 0, "indptr must not be empty");
  require(out.ndim() == 3 && int64_t(out.shape(0)) == N, "out must be (num_rows, H, D)");
  gs::SpmmArgs a{};
  a.itype = index_type(indptr, "indptr");
  a.vtype = value_type(out, "out");
  a.op = bin_op(op);
  a.reduce = reducer(reduce);
  require(a.op != gs::BinOp::dot, "spmm has no dot op");
  require(same_index_type(indices, a.itype) && (!eids || same_index_type(*eids, a.itype)), "index dtypes differ");
  if (eids) require_shape(*eids, {E}, "eids");
  require_rows(indptr, a.itype, N, E);
  a.H = out.shape(1);
  a.D = out.shape(2);
  a.lhs = operand(lhs, uses_lhs(a.op), uses_lhs(a.op) && lhs ? int64_t(lhs->shape(0)) : 0, a.H, a.D, a.vtype, "lhs");
  a.rhs = operand(rhs, uses_rhs(a.op), E, a.H, a.D, a.vtype, "rhs");
  if (a.reduce == gs::Reduce::max || a.reduce == gs::Reduce::min) {
    require(arg.has_value() && is<int64_t>(*arg), "max/min need an int64 arg output");
    require_shape(*arg, {N, a.H, a.D}, "arg");
    a.arg = ptr<int64_t>(*arg);
  }
  a.indptr = indptr.data();
  a.indices = indices.data();
  a.eids = eids ? eids->data() : nullptr;
  a.num_rows = N;
  a.out = out.data();
  a.nthreads = nthreads;
  nb::gil_scoped_release nogil;
  g_kernels->spmm(a);
}

void sddmm(const Arr& src, const Arr& dst, const OptArr& lhs, int lhs_target, const OptArr& rhs,
           int rhs_target, const Arr& out, const std::string& op, int64_t num_src, int64_t num_dst,
           int nthreads) {
  const int64_t E = length(src, "src");
  require_shape(dst, {E}, "dst");
  require(out.ndim() == 3 && int64_t(out.shape(0)) == E, "out must be (E, H, D)");
  require(lhs_target >= 0 && lhs_target <= 2 && rhs_target >= 0 && rhs_target <= 2,
          "targets must be 0 (u), 1 (v) or 2 (e)");
  gs::SddmmArgs a{};
  a.itype = index_type(src, "src");
  a.vtype = value_type(out, "out");
  a.op = bin_op(op);
  require(same_index_type(dst, a.itype), "index dtypes differ");
  a.H = out.shape(1);
  a.D = out.shape(2);
  if (a.op == gs::BinOp::dot) {
    require(a.D == 1, "dot writes (E, H, 1)");
    require(lhs && rhs && lhs->ndim() == 3 && rhs->ndim() == 3, "dot needs two 3-d operands");
    a.D = std::max<int64_t>(lhs->shape(2), rhs->shape(2));  // the contraction length
  }
  auto rows_of = [&](int target) { return target == 0 ? num_src : target == 1 ? num_dst : E; };
  a.lhs = operand(lhs, uses_lhs(a.op), rows_of(lhs_target), a.H, a.D, a.vtype, "lhs");
  a.rhs = operand(rhs, uses_rhs(a.op), rows_of(rhs_target), a.H, a.D, a.vtype, "rhs");
  a.src = src.data();
  a.dst = dst.data();
  a.num_edges = E;
  a.lhs_target = lhs_target;
  a.rhs_target = rhs_target;
  a.out = out.data();
  a.nthreads = nthreads;
  nb::gil_scoped_release nogil;
  g_kernels->sddmm(a);
}

gs::SoftmaxArgs softmax_args(const Arr& indptr, const Arr& eids, const Arr& values, const Arr& out,
                             int nthreads) {
  const int64_t N = length(indptr, "indptr") - 1, E = length(eids, "eids");
  require(N >= 0, "indptr must not be empty");
  require(values.ndim() == 2 && int64_t(values.shape(0)) == E, "values must be (E, H)");
  gs::SoftmaxArgs a{};
  a.itype = index_type(indptr, "indptr");
  a.vtype = value_type(values, "values");
  require(same_index_type(eids, a.itype), "index dtypes differ");
  require_rows(indptr, a.itype, N, E);
  a.H = values.shape(1);
  require_shape(out, {E, a.H}, "out");
  require(same_value_type(out, a.vtype), "out dtype differs");
  a.indptr = indptr.data();
  a.eids = eids.data();
  a.num_rows = N;
  a.values = values.data();
  a.out = out.data();
  a.nthreads = nthreads;
  return a;
}

void edge_softmax_forward(const Arr& indptr, const Arr& eids, const Arr& score, const Arr& out,
                          int nthreads) {
  gs::SoftmaxArgs a = softmax_args(indptr, eids, score, out, nthreads);
  nb::gil_scoped_release nogil;
  g_kernels->edge_softmax_forward(a);
}

void edge_softmax_backward(const Arr& indptr, const Arr& eids, const Arr& y, const Arr& grad,
                           const Arr& out, int nthreads) {
  gs::SoftmaxArgs a = softmax_args(indptr, eids, y, out, nthreads);
  require_shape(grad, {int64_t(y.shape(0)), a.H}, "grad");
  require(same_value_type(grad, a.vtype), "grad dtype differs");
  a.grad = grad.data();
  nb::gil_scoped_release nogil;
  g_kernels->edge_softmax_backward(a);
}

void propagate(const Arr& indptr, const Arr& indices, const Arr& scale, const Arr& x, const Arr& y,
               const Arr& out, const Arr& work, int64_t steps, double a, double b, int nthreads) {
  const int64_t N = length(indptr, "indptr") - 1, E = length(indices, "indices");
  require(N >= 0, "indptr must not be empty");
  require(steps >= 0, "steps must be non-negative");
  require(out.ndim() == 2 && int64_t(out.shape(0)) == N, "out must be (num_rows, D)");
  const int64_t D = out.shape(1);
  gs::PropagateArgs p{};
  p.itype = index_type(indptr, "indptr");
  p.vtype = value_type(out, "out");
  require(same_index_type(indices, p.itype), "index dtypes differ");
  require_rows(indptr, p.itype, N, E);
  require_shape(scale, {N}, "scale");
  for (const auto* arr : {&x, &y, &work}) require_shape(*arr, {N, D}, "x, y and work");
  for (const auto* arr : {&scale, &x, &y, &work})
    require(same_value_type(*arr, p.vtype), "scale, x, y and work must have the output's dtype");
  // empty arrays may share a null data pointer; only buffers that hold values can alias
  require(N * D == 0 || (out.data() != y.data() && out.data() != x.data() && work.data() != y.data() &&
                         work.data() != x.data() && work.data() != out.data()),
          "out and work must be separate buffers");
  p.indptr = indptr.data();
  p.indices = indices.data();
  p.num_rows = N;
  p.scale = scale.data();
  p.x = x.data();
  p.y = y.data();
  p.out = out.data();
  p.work = work.data();
  p.D = D;
  p.steps = steps;
  p.a = a;
  p.b = b;
  p.nthreads = nthreads;
  nb::gil_scoped_release nogil;
  g_kernels->propagate(p);
}

// out = x * mask, the mask 0 or `scale` per element (dropped where element i's counter-based
// draw < threshold); x and out any shape, contiguous, the same size and dtype.
void dropout(const Arr& x, const Arr& out, uint64_t seed, uint32_t threshold, double scale, int nthreads) {
  const gs::VType vtype = value_type(out, "out");
  require(same_value_type(x, vtype), "x must have the output's dtype");
  require(x.size() == out.size(), "x and out must have the same number of elements");
  require(x.data() != out.data() || x.size() == 0, "out must be a separate buffer");
  const gs::DropoutArgs a{vtype, x.data(), out.data(), int64_t(out.size()), seed, threshold, scale, nthreads};
  nb::gil_scoped_release nogil;
  g_kernels->dropout(a);
}

void segment_reduce(const Arr& offsets, const Arr& x, const Arr& out, const OptArr& arg,
                    const std::string& reduce, int nthreads) {
  const int64_t B = length(offsets, "offsets") - 1;
  require(B >= 0 && is<int64_t>(offsets), "offsets must be non-empty int64");
  require(x.ndim() == 2 && out.ndim() == 2, "x and out must be 2-dimensional");
  const int64_t L = x.shape(0), F = x.shape(1);
  require_shape(out, {B, F}, "out");
  require_rows(offsets, gs::IType::i64, B, L);
  gs::SegmentArgs a{};
  a.vtype = value_type(x, "x");
  require(same_value_type(out, a.vtype), "out dtype differs");
  a.reduce = reducer(reduce);
  if (a.reduce == gs::Reduce::max || a.reduce == gs::Reduce::min) {
    require(arg.has_value() && is<int64_t>(*arg), "max/min need an int64 arg output");
    require_shape(*arg, {B, F}, "arg");
    a.arg = ptr<int64_t>(*arg);
  }
  a.offsets = ptr<int64_t>(offsets);
  a.num_segments = B;
  a.x = x.data();
  a.F = F;
  a.out = out.data();
  a.nthreads = nthreads;
  nb::gil_scoped_release nogil;
  g_kernels->segment_reduce(a);
}

// ---- residue-graph geometry ------------------------------------------------------------------
template <class T>
nb::ndarray<nb::numpy, T, nb::ndim<1>> owned_array(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T, nb::ndim<1>>(heap->data(), {heap->size()}, owner);
}

void require_points(const Arr& pos, const Arr& chain, int64_t& n) {
  require(pos.ndim() == 2 && pos.shape(1) == 3 && is<double>(pos), "pos must be float64 of shape (n, 3)");
  n = pos.shape(0);
  require(chain.ndim() == 1 && int64_t(chain.shape(0)) == n && is<int64_t>(chain),
          "chain must be int64 of shape (n,)");
  const double* p = ptr<double>(pos);
  for (int64_t i = 0; i < 3 * n; ++i) require(std::isfinite(p[i]), "pos must be finite");
}

nb::tuple neighbour_edges(const Arr& pos, const Arr& chain, double cutoff, int64_t k,
                          int64_t min_seq_sep, bool sequence_edges) {
  int64_t n;
  require_points(pos, chain, n);
  require(k >= 0, "k must be non-negative");
  require(cutoff > 0, "cutoff must be positive");
  require(std::isfinite(cutoff) || k > 0, "an infinite cutoff needs k > 0");
  gs::geo::NeighbourQuery q;
  q.pos = ptr<double>(pos);
  q.chain = ptr<int64_t>(chain);
  q.n = n;
  q.cutoff = cutoff;
  q.k = k;
  q.min_seq_sep = min_seq_sep;
  q.sequence_edges = sequence_edges;
  std::vector<int64_t> src, dst;
  {
    nb::gil_scoped_release nogil;
    gs::geo::neighbours(q, src, dst);
  }
  return nb::make_tuple(owned_array(std::move(src)), owned_array(std::move(dst)));
}

void backbone_geometry(const Arr& backbone, const Arr& chain, bool ca_only, const Arr& frames,
                       const Arr& angles) {
  require(backbone.ndim() == 3 && backbone.shape(1) == 3 && backbone.shape(2) == 3 && is<double>(backbone),
          "backbone must be float64 of shape (n, 3, 3)");
  const int64_t n = backbone.shape(0);
  require(chain.ndim() == 1 && int64_t(chain.shape(0)) == n && is<int64_t>(chain),
          "chain must be int64 of shape (n,)");
  require(is<double>(frames), "frames must be float64");
  require_shape(frames, {n, 3, 3}, "frames");
  require(is<double>(angles), "angles must be float64");
  require_shape(angles, {n, 10}, "angles");
  const double* b = ptr<double>(backbone);
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 3; ++a) require(std::isfinite(b[9 * i + 3 + a]), "every residue needs a finite CA");
  nb::gil_scoped_release nogil;
  gs::geo::backbone_geometry(b, ptr<int64_t>(chain), n, ca_only, ptr<double>(frames), ptr<double>(angles));
}

void residue_edge_features(const Arr& pos, const Arr& frames, const Arr& chain, const Arr& src,
                           const Arr& dst, int64_t n_rbf, double rbf_max, int64_t max_offset,
                           const Arr& out) {
  int64_t n;
  require_points(pos, chain, n);
  require(is<double>(frames), "frames must be float64");
  require_shape(frames, {n, 3, 3}, "frames");
  require(n_rbf >= 1 && rbf_max > 0 && max_offset >= 0, "bad feature layout");
  require(src.ndim() == 1 && dst.ndim() == 1 && src.shape(0) == dst.shape(0) && is<int64_t>(src) &&
              is<int64_t>(dst), "src and dst must be int64 of equal length");
  const int64_t E = src.shape(0);
  const gs::geo::EdgeFeatureLayout layout{n_rbf, rbf_max, max_offset};
  require(is<float>(out), "out must be float32");
  require_shape(out, {E, layout.width()}, "out");
  for (int64_t e = 0; e < E; ++e)
    require(ptr<int64_t>(src)[e] >= 0 && ptr<int64_t>(src)[e] < n && ptr<int64_t>(dst)[e] >= 0 &&
                ptr<int64_t>(dst)[e] < n, "edge endpoint out of range");
  nb::gil_scoped_release nogil;
  gs::geo::edge_features(ptr<double>(pos), ptr<double>(frames), ptr<int64_t>(chain), ptr<int64_t>(src),
                         ptr<int64_t>(dst), E, layout, ptr<float>(out));
}

void set_isa(const std::string& name) {
  for (const auto& e : kIsas) {
    if (name == e.name) {
      require(e.supported(), "this CPU does not support " + name);
      g_kernels = e.table();
      return;
    }
  }
  fail("unknown instruction set '" + name + "'");
}

}  // namespace

// ---- molecule pickles --------------------------------------------------------------------------
// Atom/bond columns of many RDKit pickles at once: `data` holds them back to back, molecule i in
// bytes [offsets[i], offsets[i + 1]) with atom_counts[i] atoms and bond_counts[i] bonds; its rows
// follow those of the molecules before it. status[i] is 0 where the rows were filled; elsewhere
// the caller fills them through RDKit's API.
void mol_pickle_columns(const nb::ndarray<nb::ro, nb::device::cpu, nb::c_contig>& data, const Arr& offsets, const Arr& atom_counts, const Arr& bond_counts,
                        const Arr& atoms, const Arr& bonds, const Arr& status) {
  namespace mp = gs::molpickle;
  // read-only, so bytes objects cross without a copy
  require(data.ndim() == 1 && data.dtype() == nb::dtype<uint8_t>(), "data must be a 1-D uint8 array");
  require(atom_counts.ndim() == 1 && is<int64_t>(atom_counts), "atom_counts must be a 1-D int64 array");
  const int64_t n = atom_counts.shape(0);
  require_shape(offsets, {n + 1}, "offsets");
  require(is<int64_t>(offsets), "offsets must be int64");
  require(is<int64_t>(bond_counts), "bond_counts must be int64");
  require_shape(bond_counts, {n}, "bond_counts");
  require(is<int32_t>(status), "status must be int32");
  require_shape(status, {n}, "status");
  const int64_t* off = ptr<int64_t>(offsets);
  const int64_t* na = ptr<int64_t>(atom_counts);
  const int64_t* nb = ptr<int64_t>(bond_counts);
  const int64_t len = data.shape(0);
  int64_t total_atoms = 0, total_bonds = 0;
  for (int64_t i = 0; i < n; ++i) {
    require(off[i] >= 0 && off[i] <= off[i + 1] && off[i + 1] <= len, "offsets must rise within data");
    require(na[i] >= 0 && nb[i] >= 0, "atom and bond counts must be non-negative");
    total_atoms += na[i];
    total_bonds += nb[i];
  }
  require(off[0] >= 0 && off[n] <= len, "offsets must lie within data");
  require(is<int32_t>(atoms) && is<int32_t>(bonds), "atoms and bonds must be int32");
  require_shape(atoms, {total_atoms, mp::kAtomCols}, "atoms");
  require_shape(bonds, {total_bonds, mp::kBondCols}, "bonds");
  const auto* bytes = static_cast<const uint8_t*>(data.data());
  int32_t* a = ptr<int32_t>(atoms);
  int32_t* b = ptr<int32_t>(bonds);
  int32_t* st = ptr<int32_t>(status);
  nb::gil_scoped_release nogil;
  for (int64_t i = 0; i < n; ++i) {
    st[i] = mp::read_mol(bytes + off[i], size_t(off[i + 1] - off[i]), na[i], nb[i], a, b);
    a += na[i] * mp::kAtomCols;
    b += nb[i] * mp::kBondCols;
  }
}

// Asks the kernel to back the 2 MiB-aligned part of a fresh output with huge pages. A 100 MB
// output costs 25,000 first-touch page faults with 4 KiB pages (30-40 ms on a VM, a third of a
// 1M-edge, 256-feature SpMM) and 50 with 2 MiB pages. Advice only: contents are unchanged and a
// refusal (another OS, THP disabled) leaves the ordinary pages.
bool advise_huge_pages(const Arr& out) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(1) << 21;
  const auto begin = reinterpret_cast<uintptr_t>(out.data());
  const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t last = (begin + out.nbytes()) & ~(kHuge - 1);
  if (last <= first) return false;
  return madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE) == 0;
#else
  (void)out;
  return false;
#endif
}

NB_MODULE(_C, m) {
  m.doc() = "graphsci native message-passing kernels (torch-agnostic; arrays cross as DLPack views)";
  m.def("isa", [] { return std::string(g_kernels->isa); }, "The instruction set the kernels run on.");
  m.def("supported_isas", &supported_isas, "Instruction sets built into this module that the CPU supports, best first.");
  m.def("set_isa", &set_isa, nb::arg("name"), "Selects the kernel build for an instruction set (for testing).");
  m.def("coo_to_csr", &coo_to_csr, nb::arg("row"), nb::arg("col"), nb::arg("num_rows"),
        nb::arg("indptr").noconvert(), nb::arg("indices").noconvert(), nb::arg("eids").noconvert());
  m.def("degree", &degree, nb::arg("idx"), nb::arg("out").noconvert());
  m.def("spmm", &spmm, nb::arg("indptr"), nb::arg("indices"), nb::arg("eids").none(),
        nb::arg("lhs").none(), nb::arg("rhs").none(), nb::arg("out").noconvert(),
        nb::arg("arg").none().noconvert(), nb::arg("op"), nb::arg("reduce"), nb::arg("nthreads"));
  m.def("sddmm", &sddmm, nb::arg("src"), nb::arg("dst"), nb::arg("lhs").none(),
        nb::arg("lhs_target"), nb::arg("rhs").none(), nb::arg("rhs_target"),
        nb::arg("out").noconvert(), nb::arg("op"), nb::arg("num_src"), nb::arg("num_dst"),
        nb::arg("nthreads"));
  m.def("edge_softmax_forward", &edge_softmax_forward, nb::arg("indptr"), nb::arg("eids"),
        nb::arg("score"), nb::arg("out").noconvert(), nb::arg("nthreads"));
  m.def("edge_softmax_backward", &edge_softmax_backward, nb::arg("indptr"), nb::arg("eids"),
        nb::arg("y"), nb::arg("grad"), nb::arg("out").noconvert(), nb::arg("nthreads"));
  m.def("propagate", &propagate, nb::arg("indptr"), nb::arg("indices"), nb::arg("scale"), nb::arg("x"),
        nb::arg("y"), nb::arg("out").noconvert(), nb::arg("work").noconvert(), nb::arg("steps"), nb::arg("a"),
        nb::arg("b"), nb::arg("nthreads"),
        "steps of z <- a x + b D^-1/2 (A + I) D^-1/2 z from z = y over compressed rows (self-loops included).");
  m.def("segment_reduce", &segment_reduce, nb::arg("offsets"), nb::arg("x"),
        nb::arg("out").noconvert(), nb::arg("arg").none().noconvert(), nb::arg("reduce"),
        nb::arg("nthreads"));
  m.def("dropout", &dropout, nb::arg("x"), nb::arg("out").noconvert(), nb::arg("seed"), nb::arg("threshold"),
        nb::arg("scale"), nb::arg("nthreads"),
        "out = x * mask, mask = scale or 0 (0 where element i's counter-based 32-bit draw < threshold).");
  m.def("neighbour_edges", &neighbour_edges, nb::arg("pos"), nb::arg("chain"), nb::arg("cutoff"),
        nb::arg("k"), nb::arg("min_seq_sep"), nb::arg("sequence_edges"),
        "Edges j -> i between points within cutoff (or the k nearest), grouped by i; (src, dst).");
  m.def("backbone_geometry", &backbone_geometry, nb::arg("backbone"), nb::arg("chain"),
        nb::arg("ca_only"), nb::arg("frames").noconvert(), nb::arg("angles").noconvert());
  m.def("residue_edge_features", &residue_edge_features, nb::arg("pos"), nb::arg("frames"),
        nb::arg("chain"), nb::arg("src"), nb::arg("dst"), nb::arg("n_rbf"), nb::arg("rbf_max"),
        nb::arg("max_offset"), nb::arg("out").noconvert());
  m.def("mol_pickle_columns", &mol_pickle_columns, nb::arg("data"), nb::arg("offsets"), nb::arg("atom_counts"),
        nb::arg("bond_counts"), nb::arg("atoms").noconvert(), nb::arg("bonds").noconvert(),
        nb::arg("status").noconvert(),
        "Atom and bond feature columns read from RDKit molecule pickles (Mol.ToBinary()).");
  m.def("advise_huge_pages", &advise_huge_pages, nb::arg("out").noconvert(),
        "Advises huge pages for the 2 MiB-aligned part of an untouched output buffer.");
  m.attr("MOL_PICKLE_MAJOR_VERSION") = gs::molpickle::kMajorVersion;
}
