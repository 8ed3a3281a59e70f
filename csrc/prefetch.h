// Software prefetch hints shared by the gathering kernels.
#pragma once
#include <cstdint>

namespace gs {

// The per-edge helpers must melt into the edge loop. With every (op, reduce, type) instantiated
// in one translation unit GCC's inliner runs out of budget and leaves some as calls (u_mul_e-sum
// then ran at a third of copy_u-sum's speed), so they are forced.
#define GS_HOT inline __attribute__((always_inline))

// GCC's dead-code elimination deletes a loop whose only statements are __builtin_prefetch
// once it is inlined here (the built library had none), so on x86 the hints are volatile asm.
template <bool ToL2> GS_HOT void prefetch_line(const char* p) {
#if defined(__x86_64__) || defined(__i386__)
  if constexpr (ToL2) asm volatile("prefetcht1 %0" : : "m"(*p));
  else asm volatile("prefetcht0 %0" : : "m"(*p));
#else
  __builtin_prefetch(p, 0, ToL2 ? 2 : 3);
#endif
}

// Asks for every line of a row of `bytes` bytes into L1.
template <class T> GS_HOT void prefetch_bytes(const T* row, int64_t bytes) {
  const char* p = reinterpret_cast<const char*>(row);
  for (int64_t b = 0; b < bytes; b += 64) prefetch_line<false>(p + b);
}

}  // namespace gs
