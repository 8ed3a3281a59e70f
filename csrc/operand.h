// A read-only view of an operand shaped (rows, H, D) that may broadcast over heads (H == 1)
// or features (D == 1) against the output's (H, D).
#pragma once
#include <cstdint>

namespace gs {

template <class T> struct Operand {
  const T* data = nullptr;
  int64_t row_stride = 0;   // elements between rows
  int64_t head_stride = 0;  // 0 when broadcast over heads
  bool bcast_d = false;     // feature axis has size 1

  const T* at(int64_t row, int64_t h) const { return data + row * row_stride + h * head_stride; }
};

}  // namespace gs
