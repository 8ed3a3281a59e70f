// Atom and bond columns read straight from RDKit's binary molecule pickle (Mol.ToBinary()).
//
// Why: featurising a molecule through RDKit's Python API costs ~500 wrapper calls (one per atom
// and feature), several times the cost of parsing the SMILES. One ToBinary() call hands over the
// same facts (atomic number, charge, chirality, hybridisation, explicit/implicit H, radicals,
// isotope, aromaticity; bond ends, type, conjugation, stereo; the ring sets) in one buffer.
//
// The pickle is RDKit's own format, versioned in its header. The reader accepts only the major
// version it was checked against, reads every field through a bounds-checked cursor, and gives a
// non-zero status for anything it does not model (query atoms, PDB residue info, old layouts,
// truncation, indices out of range). The caller featurises those molecules through RDKit's API
// instead, so an unfamiliar pickle costs speed, never correctness.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace gs::molpickle {

// Columns of one atom row / one bond row, in this order.
enum AtomCol : int { kAtomicNum, kDegree, kTotalDegree, kImplicitH, kTotalH, kFormalCharge, kRadicals,
                     kHybridization, kChiralTag, kAromatic, kInRing, kIsotope, kAtomCols };
enum BondCol : int { kBegin, kEnd, kBondType, kConjugated, kBondInRing, kStereo, kBondCols };

enum Status : int32_t {
  kOk = 0,
  kBadHeader = 1,       // not a molecule pickle
  kVersion = 2,         // a format version this reader was not checked against
  kCountMismatch = 3,   // atom/bond counts differ from the molecule's
  kTruncated = 4,       // ran past the end of the buffer
  kUnsupported = 5,     // query atoms/bonds, residue info, coordinates on atoms, unknown fields
  kNoRings = 6,         // ring information was not computed for the molecule
  kCorrupt = 7,         // an index or tag that cannot be right
};

// The pickle format major version whose atom, bond and ring layout this reader implements
// (RDKit 2024.09 to 2026.09 write 16.x).
constexpr int32_t kMajorVersion = 16;

// RDKit's MolPickler tags used here.
constexpr uint8_t kTagBeginAtom = 1, kTagBeginBond = 11, kTagBeginSSSR = 20, kTagAtomMapNumber = 24,
                  kTagDummyLabel = 44, kTagBeginSymmSSSR = 66, kTagBeginFastFind = 67,
                  kTagBeginFindOther = 68;
constexpr int32_t kSP3 = 4, kSingle = 1;

struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;

  bool has(size_t n) {
    if (size_t(end - p) < n) ok = false;
    return ok;
  }
  uint8_t u8() {
    if (!has(1)) return 0;
    return *p++;
  }
  int8_t s8() { return static_cast<int8_t>(u8()); }
  uint32_t u32() {  // little-endian on every platform, as RDKit writes it
    if (!has(4)) return 0;
    uint32_t v = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
    p += 4;
    return v;
  }
  int32_t s32() { return static_cast<int32_t>(u32()); }
  void skip(size_t n) {
    if (has(n)) p += n;
  }
  // An atom or ring index: one byte in molecules of at most 255 atoms, else int32.
  int64_t index(bool wide) { return wide ? int64_t(s32()) : int64_t(u8()); }
};

// Fills atoms[n_atoms][kAtomCols] and bonds[n_bonds][kBondCols] from one pickle. The counts are
// the molecule's own (GetNumAtoms/GetNumBonds), checked against the header.
inline int32_t read_mol(const uint8_t* data, size_t len, int64_t n_atoms, int64_t n_bonds, int32_t* atoms,
                        int32_t* bonds) {
  Cursor c{data, data + len};
  if (c.u32() != 0xDEADBEEFu || c.s32() != 0) return c.ok ? kBadHeader : kTruncated;
  const int32_t major = c.s32();
  c.s32();  // minor
  c.s32();  // patch
  if (!c.ok) return kTruncated;
  if (major != kMajorVersion) return kVersion;
  const int64_t na = c.s32(), nb = c.s32();
  if (!c.ok) return kTruncated;
  if (na != n_atoms || nb != n_bonds) return kCountMismatch;
  const bool wide = na > 255;
  c.u8();  // coordinate flag of old layouts
  if (c.u8() != kTagBeginAtom) return c.ok ? kCorrupt : kTruncated;

  std::vector<uint8_t> no_implicit(size_t(na), 0);
  std::vector<int32_t> explicit_h(size_t(na), 0), implicit_valence(size_t(na), 0);
  for (int64_t i = 0; i < na; ++i) {
    int32_t* a = atoms + i * kAtomCols;
    std::memset(a, 0, sizeof(int32_t) * kAtomCols);
    a[kAtomicNum] = c.u8();
    const uint8_t flags = c.u8();
    // bit 7: coordinates on the atom (old layouts); bit 4: query atom; bit 1: residue info
    if (flags & (0x80 | 0x10 | 0x02)) return c.ok ? kUnsupported : kTruncated;
    a[kAromatic] = (flags >> 6) & 1;
    no_implicit[size_t(i)] = (flags >> 5) & 1;
    const int32_t fields = c.s32();
    // bit 0: a mass offset (old layouts); bits above 8: fields this reader does not know
    if (fields & ~0x1FE) return c.ok ? kUnsupported : kTruncated;
    a[kFormalCharge] = (fields & (1 << 1)) ? c.s8() : 0;
    a[kChiralTag] = (fields & (1 << 2)) ? c.s8() : 0;
    a[kHybridization] = (fields & (1 << 3)) ? c.s8() : kSP3;
    explicit_h[size_t(i)] = (fields & (1 << 4)) ? c.s8() : 0;
    if (fields & (1 << 5)) c.skip(1);  // explicit valence
    implicit_valence[size_t(i)] = (fields & (1 << 6)) ? c.s8() : 0;
    a[kRadicals] = (fields & (1 << 7)) ? c.s8() : 0;
    a[kIsotope] = (fields & (1 << 8)) ? int32_t(c.u32()) : 0;
    if (a[kChiralTag] < 0 || a[kHybridization] < 0 || a[kRadicals] < 0 || a[kIsotope] < 0 ||
        explicit_h[size_t(i)] < 0 || implicit_valence[size_t(i)] < 0)
      return c.ok ? kCorrupt : kTruncated;
    if (flags & 0x08) {  // atom-map number: a byte, or 255 and an int32
      if (c.u8() != kTagAtomMapNumber) return c.ok ? kCorrupt : kTruncated;
      if (c.s8() < 0) c.skip(4);
    }
    if (flags & 0x04) {  // dummy-atom label: a length-prefixed string
      if (c.u8() != kTagDummyLabel) return c.ok ? kCorrupt : kTruncated;
      c.skip(c.u32());
    }
    if (!c.ok) return kTruncated;
  }

  if (c.u8() != kTagBeginBond) return c.ok ? kCorrupt : kTruncated;
  // neighbours of each atom as (atom, bond), to find ring bonds from ring atom cycles
  std::vector<int64_t> nbr_ptr(size_t(na) + 1, 0);
  for (int64_t b = 0; b < nb; ++b) {
    int32_t* r = bonds + b * kBondCols;
    std::memset(r, 0, sizeof(int32_t) * kBondCols);
    const int64_t u = c.index(wide), v = c.index(wide);
    const uint8_t flags = c.u8();
    if (!c.ok) return kTruncated;
    if (u < 0 || u >= na || v < 0 || v >= na || u == v) return kCorrupt;
    // bit 4: query bond; bit 0: mol-file end points and attachment strings
    if (flags & (0x10 | 0x01)) return kUnsupported;
    r[kBegin] = int32_t(u);
    r[kEnd] = int32_t(v);
    r[kConjugated] = (flags >> 5) & 1;
    r[kBondType] = (flags & (1 << 3)) ? c.s8() : kSingle;
    if (flags & (1 << 2)) c.skip(1);  // bond direction
    if (flags & (1 << 1)) {
      r[kStereo] = c.s8();
      const int n_stereo_atoms = c.s8();
      if (n_stereo_atoms < 0) return c.ok ? kCorrupt : kTruncated;
      c.skip(size_t(n_stereo_atoms) * (wide ? 4 : 1));
    }
    if (!c.ok) return kTruncated;
    if (r[kBondType] < 0 || r[kStereo] < 0) return kCorrupt;
    ++nbr_ptr[size_t(u) + 1];
    ++nbr_ptr[size_t(v) + 1];
  }
  for (int64_t i = 0; i < na; ++i) nbr_ptr[size_t(i) + 1] += nbr_ptr[size_t(i)];
  std::vector<int64_t> fill(nbr_ptr.begin(), nbr_ptr.end() - 1), nbr_atom(size_t(2 * nb)),
      nbr_bond(size_t(2 * nb));
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t u = bonds[b * kBondCols + kBegin], v = bonds[b * kBondCols + kEnd];
    nbr_atom[size_t(fill[size_t(u)])] = v;
    nbr_bond[size_t(fill[size_t(u)]++)] = b;
    nbr_atom[size_t(fill[size_t(v)])] = u;
    nbr_bond[size_t(fill[size_t(v)]++)] = b;
  }

  const uint8_t tag = c.u8();
  if (!c.ok) return kTruncated;
  if (tag != kTagBeginSSSR && tag != kTagBeginSymmSSSR && tag != kTagBeginFastFind && tag != kTagBeginFindOther)
    return kNoRings;
  const uint32_t n_rings = c.u32();
  std::vector<int64_t> ring;
  for (uint32_t k = 0; k < n_rings && c.ok; ++k) {
    const int64_t size = c.index(wide);
    if (!c.ok) return kTruncated;
    if (size < 0 || size > na) return kCorrupt;
    ring.resize(size_t(size));
    for (auto& a : ring) {
      a = c.index(wide);
      if (c.ok && (a < 0 || a >= na)) return kCorrupt;
    }
    if (!c.ok) return kTruncated;
    for (int64_t j = 0; j < size; ++j) {
      const int64_t u = ring[size_t(j)], v = ring[size_t((j + 1) % size)];
      atoms[u * kAtomCols + kInRing] = 1;
      if (size < 2) continue;
      int64_t found = -1;
      for (int64_t q = nbr_ptr[size_t(u)]; q < nbr_ptr[size_t(u) + 1]; ++q)
        if (nbr_atom[size_t(q)] == v) found = nbr_bond[size_t(q)];
      if (found < 0) return kCorrupt;  // consecutive ring atoms are always bonded
      bonds[found * kBondCols + kBondInRing] = 1;
    }
  }
  if (!c.ok) return kTruncated;

  for (int64_t i = 0; i < na; ++i) {
    int32_t* a = atoms + i * kAtomCols;
    a[kDegree] = int32_t(nbr_ptr[size_t(i) + 1] - nbr_ptr[size_t(i)]);
    a[kImplicitH] = no_implicit[size_t(i)] ? 0 : implicit_valence[size_t(i)];
    a[kTotalH] = explicit_h[size_t(i)] + a[kImplicitH];
    a[kTotalDegree] = a[kDegree] + a[kTotalH];
  }
  return kOk;
}

}  // namespace gs::molpickle
