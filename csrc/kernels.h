// The ISA-neutral interface to the kernels. kernels.cpp is compiled once per instruction set
// (x86-64 baseline, x86-64-v3 = AVX2/FMA, x86-64-v4 = AVX-512), each copy in its own namespace,
// and the bindings pick one table at import from what the CPU supports. One portable wheel
// thereby runs full-width vectors where the hardware has them.
#pragma once
#include <cstdint>

namespace gs {

enum class VType : int { f32, f64 };
enum class IType : int { i32, i64 };
enum class BinOp : int { copy_lhs, copy_rhs, add, sub, mul, div, dot };
enum class Reduce : int { sum, mean, max, min };

// A (rows, H, D) operand broadcasting against the output's (H, D).
struct OperandView {
  const void* data = nullptr;
  int64_t row_stride = 0, head_stride = 0;
  bool bcast_d = false;
};

struct SpmmArgs {
  IType itype; VType vtype; BinOp op; Reduce reduce;
  const void* indptr; const void* indices; const void* eids;  // eids may be null (slot order)
  int64_t num_rows;
  OperandView lhs, rhs;
  void* out; int64_t* arg;  // arg: edge ids for max/min, else null
  int64_t H, D;
  int nthreads;
};

struct SddmmArgs {
  IType itype; VType vtype; BinOp op;
  const void* src; const void* dst; int64_t num_edges;
  OperandView lhs, rhs; int lhs_target, rhs_target;  // 0 = u, 1 = v, 2 = e
  void* out;
  int64_t H, D;  // D: output features, or the contraction length for dot
  int nthreads;
};

struct SoftmaxArgs {
  IType itype; VType vtype;
  const void* indptr; const void* eids; int64_t num_rows;
  const void* values;  // scores (forward) or the softmax output (backward)
  const void* grad;    // backward only
  void* out;
  int64_t H;
  int nthreads;
};

struct SegmentArgs {
  VType vtype; Reduce reduce;
  const int64_t* offsets; int64_t num_segments;
  const void* x; int64_t F;
  void* out; int64_t* arg;
  int nthreads;
};

struct PropagateArgs {
  IType itype; VType vtype;
  const void* indptr; const void* indices; int64_t num_rows;
  const void* scale;            // (N,) D^-1/2 of the self-looped graph
  const void* x; const void* y; // (N, D) anchor and start
  void* out; void* work;        // (N, D) result and scratch
  int64_t D, steps;
  double a, b;
  int nthreads;
};

struct DropoutArgs {
  VType vtype;
  const void* x; void* out; int64_t n;
  uint64_t seed; uint32_t threshold; double scale;
  int nthreads;
};

struct KernelTable {
  const char* isa;
  void (*spmm)(const SpmmArgs&);
  void (*sddmm)(const SddmmArgs&);
  void (*edge_softmax_forward)(const SoftmaxArgs&);
  void (*edge_softmax_backward)(const SoftmaxArgs&);
  void (*segment_reduce)(const SegmentArgs&);
  void (*propagate)(const PropagateArgs&);
  void (*dropout)(const DropoutArgs&);
};

const KernelTable* kernels_base();
const KernelTable* kernels_x86_64_v3();
const KernelTable* kernels_x86_64_v4();

}  // namespace gs
