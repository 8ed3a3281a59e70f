// Residue-graph geometry: neighbour search on a uniform grid of cells, local backbone frames,
// dihedrals, and the per-edge geometric features. Everything is float64 and serial: proteins
// are small, and batches of structures are parallel one level up (one structure per worker).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

namespace gs::geo {

using V3 = std::array<double, 3>;

inline V3 load(const double* p) { return {p[0], p[1], p[2]}; }
inline V3 sub(const V3& a, const V3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
inline V3 add(const V3& a, const V3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
inline V3 scale(const V3& a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
inline double dot(const V3& a, const V3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
inline V3 cross(const V3& a, const V3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
inline bool finite(const V3& a) { return std::isfinite(a[0]) && std::isfinite(a[1]) && std::isfinite(a[2]); }
// Unit vector, or false when the input is (numerically) zero or not finite.
inline bool unit(V3& a) {
  const double n = std::sqrt(dot(a, a));
  if (!(n > 1e-8) || !std::isfinite(n)) return false;
  a = scale(a, 1.0 / n);
  return true;
}

// ---- neighbour search ------------------------------------------------------------------------
struct Grid {
  double origin[3], cell;
  int64_t dims[3];
  std::vector<int64_t> start, items;  // counting sort of points by cell

  int64_t coord(double x, int a) const {
    return std::min<int64_t>(dims[a] - 1, std::max<int64_t>(0, int64_t((x - origin[a]) / cell)));
  }
  int64_t index(int64_t x, int64_t y, int64_t z) const { return (x * dims[1] + y) * dims[2] + z; }
};

// Cells of about `cell` Angstrom, enlarged when the bounding box would need more cells than a
// few per point (sparse or far-apart chains), so memory stays O(n).
inline Grid make_grid(const double* pos, int64_t n, double cell) {
  Grid g;
  double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  for (int a = 0; a < 3; ++a) {
    lo[a] = std::numeric_limits<double>::infinity();
    hi[a] = -lo[a];
    for (int64_t i = 0; i < n; ++i) {
      lo[a] = std::min(lo[a], pos[3 * i + a]);
      hi[a] = std::max(hi[a], pos[3 * i + a]);
    }
    if (n == 0) lo[a] = hi[a] = 0;
    g.origin[a] = lo[a];
  }
  const double max_cells = 4.0 * double(std::max<int64_t>(n, 1)) + 64.0;
  for (;;) {
    double total = 1;
    for (int a = 0; a < 3; ++a) total *= std::floor((hi[a] - lo[a]) / cell) + 1;
    if (total <= max_cells) break;
    cell *= 1.5;
  }
  g.cell = cell;
  int64_t ncells = 1;
  for (int a = 0; a < 3; ++a) {
    g.dims[a] = int64_t(std::floor((hi[a] - lo[a]) / cell)) + 1;
    ncells *= g.dims[a];
  }
  g.start.assign(ncells + 1, 0);
  g.items.resize(n);
  std::vector<int64_t> of(n);
  for (int64_t i = 0; i < n; ++i) {
    of[i] = g.index(g.coord(pos[3 * i], 0), g.coord(pos[3 * i + 1], 1), g.coord(pos[3 * i + 2], 2));
    ++g.start[of[i] + 1];
  }
  for (int64_t c = 0; c < ncells; ++c) g.start[c + 1] += g.start[c];
  std::vector<int64_t> cursor(g.start.begin(), g.start.end() - 1);
  for (int64_t i = 0; i < n; ++i) g.items[cursor[of[i]]++] = i;
  return g;
}

struct NeighbourQuery {
  const double* pos = nullptr;      // (n, 3), all finite
  const int64_t* chain = nullptr;   // (n,) chain index of each point; residues in chain order
  int64_t n = 0;
  double cutoff = 0;                // radius; infinity with k > 0 for pure k-NN
  int64_t k = 0;                    // 0: every neighbour within cutoff
  int64_t min_seq_sep = 0;          // same-chain pairs closer than this in sequence are dropped
  bool sequence_edges = false;      // always link i -> i +- 1 within a chain
};

// Edges j -> i (src j, dst i), grouped by i ascending and by j ascending within a group, so the
// list is already in compressed-row order of destinations.
inline void neighbours(const NeighbourQuery& q, std::vector<int64_t>& src, std::vector<int64_t>& dst) {
  src.clear();
  dst.clear();
  if (q.n == 0) return;
  const bool knn = q.k > 0;
  double cell = q.cutoff;
  if (!std::isfinite(cell)) {  // k-NN without a radius: cells holding about k points each
    double vol = 1;
    for (int a = 0; a < 3; ++a) {
      double lo = q.pos[a], hi = q.pos[a];
      for (int64_t i = 0; i < q.n; ++i) { lo = std::min(lo, q.pos[3 * i + a]); hi = std::max(hi, q.pos[3 * i + a]); }
      vol *= std::max(hi - lo, 1.0);
    }
    cell = std::cbrt(vol * double(q.k) / double(q.n));
  }
  cell = std::max(cell, 1e-3);
  const Grid g = make_grid(q.pos, q.n, cell);
  const double cut2 = q.cutoff * q.cutoff;
  const int64_t max_ring = std::max({g.dims[0], g.dims[1], g.dims[2]});
  std::vector<std::pair<double, int64_t>> cand;
  std::vector<int64_t> row;
  for (int64_t i = 0; i < q.n; ++i) {
    const V3 xi = load(q.pos + 3 * i);
    const int64_t c[3] = {g.coord(xi[0], 0), g.coord(xi[1], 1), g.coord(xi[2], 2)};
    cand.clear();
    for (int64_t r = 0; r <= max_ring; ++r) {
      for (int64_t x = c[0] - r; x <= c[0] + r; ++x) {
        if (x < 0 || x >= g.dims[0]) continue;
        for (int64_t y = c[1] - r; y <= c[1] + r; ++y) {
          if (y < 0 || y >= g.dims[1]) continue;
          for (int64_t z = c[2] - r; z <= c[2] + r; ++z) {
            if (z < 0 || z >= g.dims[2]) continue;
            // only the shell at Chebyshev distance r; inner cells were visited before
            if (std::max({std::abs(x - c[0]), std::abs(y - c[1]), std::abs(z - c[2])}) != r) continue;
            const int64_t cid = g.index(x, y, z);
            for (int64_t s = g.start[cid]; s < g.start[cid + 1]; ++s) {
              const int64_t j = g.items[s];
              if (j == i) continue;
              if (q.chain[i] == q.chain[j] && std::abs(j - i) < q.min_seq_sep) continue;
              const V3 d = sub(load(q.pos + 3 * j), xi);
              const double d2 = dot(d, d);
              if (d2 <= cut2) cand.emplace_back(d2, j);
            }
          }
        }
      }
      // Every point not yet visited lies at least r * cell away.
      const double reach = double(r) * g.cell;
      if (reach >= q.cutoff) break;
      if (knn && int64_t(cand.size()) >= q.k) {
        std::nth_element(cand.begin(), cand.begin() + (q.k - 1), cand.end());
        if (std::sqrt(cand[q.k - 1].first) <= reach) break;
      }
    }
    if (knn && int64_t(cand.size()) > q.k) {
      std::nth_element(cand.begin(), cand.begin() + (q.k - 1), cand.end());
      cand.resize(q.k);
    }
    row.clear();
    for (const auto& p : cand) row.push_back(p.second);
    if (q.sequence_edges) {
      for (int64_t j : {i - 1, i + 1})
        if (j >= 0 && j < q.n && q.chain[j] == q.chain[i]) row.push_back(j);
    }
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    for (int64_t j : row) {
      src.push_back(j);
      dst.push_back(i);
    }
  }
}

// ---- frames and dihedrals --------------------------------------------------------------------
inline double dihedral(const V3& a, const V3& b, const V3& c, const V3& d, bool& ok) {
  const V3 b0 = sub(a, b), b1 = sub(c, b), b2 = sub(d, c);
  V3 u = b1;
  if (!unit(u)) { ok = false; return 0; }
  const V3 v = sub(b0, scale(u, dot(b0, u))), w = sub(b2, scale(u, dot(b2, u)));
  const double x = dot(v, w), y = dot(cross(u, v), w);
  ok = std::isfinite(x) && std::isfinite(y) && (x != 0 || y != 0);
  return ok ? std::atan2(y, x) : 0.0;
}

constexpr double kPeptideBond = 2.0;  // C(i-1)-N(i) farther than this: a chain break
constexpr double kCaStep = 4.2;       // consecutive Calpha farther than this: a chain break

// backbone: (n, 3, 3) = N, CA, C per residue, NaN where an atom is missing (CA never is).
// frames: (n, 3, 3) rows = the local x, y, z axes in global coordinates; all zero when undefined.
// angles: (n, 10) sin/cos of phi, psi, omega (full backbone) and of the Calpha virtual bond
// angle and torsion (Calpha trace), zero where undefined.
inline void backbone_geometry(const double* backbone, const int64_t* chain, int64_t n, bool ca_only,
                              double* frames, double* angles) {
  auto atom = [&](int64_t i, int a) { return load(backbone + 9 * i + 3 * a); };
  auto linked = [&](int64_t i, int64_t j) {  // j = i + 1 continues i's chain
    if (j < 0 || j >= n || i < 0 || i >= n || chain[i] != chain[j]) return false;
    const V3 d = sub(atom(j, 1), atom(i, 1));
    return std::sqrt(dot(d, d)) <= kCaStep;
  };
  auto bonded = [&](int64_t i, int64_t j) {  // peptide bond C(i) - N(j)
    if (!linked(i, j)) return false;
    const V3 c = atom(i, 2), nn = atom(j, 0);
    if (!finite(c) || !finite(nn)) return false;
    const V3 d = sub(nn, c);
    return std::sqrt(dot(d, d)) <= kPeptideBond;
  };
  for (int64_t i = 0; i < n; ++i) {
    double* f = frames + 9 * i;
    double* t = angles + 10 * i;
    std::fill(f, f + 9, 0.0);
    std::fill(t, t + 10, 0.0);
    const V3 N = atom(i, 0), CA = atom(i, 1), C = atom(i, 2);
    V3 ax[3];
    bool have = false;
    if (!ca_only && finite(N) && finite(C)) {
      ax[0] = sub(C, CA);
      V3 y = sub(N, CA);
      if (unit(ax[0])) {
        y = sub(y, scale(ax[0], dot(y, ax[0])));
        if (unit(y)) { ax[1] = y; ax[2] = cross(ax[0], ax[1]); have = true; }
      }
    }
    if (!have && linked(i - 1, i) && linked(i, i + 1)) {
      V3 u1 = sub(CA, atom(i - 1, 1)), u2 = sub(atom(i + 1, 1), CA);
      if (unit(u1) && unit(u2)) {
        V3 b = sub(u1, u2), nrm = cross(u1, u2);
        if (unit(b) && unit(nrm)) { ax[0] = b; ax[1] = nrm; ax[2] = cross(b, nrm); have = true; }
      }
    }
    if (have)
      for (int a = 0; a < 3; ++a)
        for (int c = 0; c < 3; ++c) f[3 * a + c] = ax[a][c];
    bool ok = false;
    double ang;
    if (!ca_only) {
      if (bonded(i - 1, i) && finite(N) && finite(C)) {
        ang = dihedral(atom(i - 1, 2), N, CA, C, ok);
        if (ok) { t[0] = std::sin(ang); t[1] = std::cos(ang); }
      }
      if (bonded(i, i + 1) && finite(N)) {
        ang = dihedral(N, CA, C, atom(i + 1, 0), ok);
        if (ok) { t[2] = std::sin(ang); t[3] = std::cos(ang); }
        ang = dihedral(CA, C, atom(i + 1, 0), atom(i + 1, 1), ok);
        if (ok) { t[4] = std::sin(ang); t[5] = std::cos(ang); }
      }
    }
    if (linked(i - 1, i) && linked(i, i + 1)) {
      V3 u1 = sub(atom(i - 1, 1), CA), u2 = sub(atom(i + 1, 1), CA);
      if (unit(u1) && unit(u2)) {
        const double c = std::max(-1.0, std::min(1.0, dot(u1, u2)));
        t[6] = std::sqrt(std::max(0.0, 1 - c * c));
        t[7] = c;
      }
      if (linked(i + 1, i + 2)) {
        ang = dihedral(atom(i - 1, 1), CA, atom(i + 1, 1), atom(i + 2, 1), ok);
        if (ok) { t[8] = std::sin(ang); t[9] = std::cos(ang); }
      }
    }
  }
}

// ---- edge features ---------------------------------------------------------------------------
struct EdgeFeatureLayout {
  int64_t n_rbf;       // Gaussian radial basis on [0, rbf_max]
  double rbf_max;
  int64_t max_offset;  // sequence offset one-hot over [-max_offset, max_offset] + "other chain"
  int64_t width() const { return n_rbf + 3 + 4 + (2 * max_offset + 2) + 1; }
};

// Quaternion (w >= 0) of a rotation matrix, as in Ingraham et al. (NeurIPS 2019).
inline void quaternion(const double R[3][3], double* q) {
  const double w = 0.5 * std::sqrt(std::max(0.0, 1 + R[0][0] + R[1][1] + R[2][2]));
  double x = 0.5 * std::sqrt(std::max(0.0, 1 + R[0][0] - R[1][1] - R[2][2]));
  double y = 0.5 * std::sqrt(std::max(0.0, 1 - R[0][0] + R[1][1] - R[2][2]));
  double z = 0.5 * std::sqrt(std::max(0.0, 1 - R[0][0] - R[1][1] + R[2][2]));
  auto sgn = [](double v) { return double((v > 0) - (v < 0)); };
  x *= sgn(R[2][1] - R[1][2]);
  y *= sgn(R[0][2] - R[2][0]);
  z *= sgn(R[1][0] - R[0][1]);
  const double norm = std::sqrt(w * w + x * x + y * y + z * z);
  const double s = norm > 0 ? 1.0 / norm : 0.0;
  q[0] = w * s; q[1] = x * s; q[2] = y * s; q[3] = z * s;
}

// Row e of out (E, width) for the edge src[e] -> dst[e]: RBF(distance), the unit direction to
// the source in the destination's frame, the quaternion of the relative rotation of the two
// frames, the clipped sequence offset src - dst one-hot (last slot: different chain), and a
// same-chain flag. Frames that are all zero (undefined) give zero direction and orientation.
inline void edge_features(const double* pos, const double* frames, const int64_t* chain,
                          const int64_t* src, const int64_t* dst, int64_t E,
                          const EdgeFeatureLayout& L, float* out) {
  const int64_t W = L.width();
  const double step = L.n_rbf > 1 ? L.rbf_max / double(L.n_rbf - 1) : L.rbf_max;
  const double inv_width = 1.0 / std::max(step, 1e-6);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t j = src[e], i = dst[e];
    float* o = out + e * W;
    std::fill(o, o + W, 0.0f);
    V3 d = sub(load(pos + 3 * j), load(pos + 3 * i));
    const double dist = std::sqrt(dot(d, d));
    for (int64_t b = 0; b < L.n_rbf; ++b) {
      const double z = (dist - double(b) * step) * inv_width;
      o[b] = float(std::exp(-z * z));
    }
    const double* Fi = frames + 9 * i;
    const double* Fj = frames + 9 * j;
    const bool fi = Fi[0] != 0 || Fi[1] != 0 || Fi[2] != 0;
    const bool fj = Fj[0] != 0 || Fj[1] != 0 || Fj[2] != 0;
    if (fi && unit(d))
      for (int a = 0; a < 3; ++a) o[L.n_rbf + a] = float(dot(load(Fi + 3 * a), d));
    if (fi && fj) {
      double R[3][3];
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) R[a][b] = dot(load(Fi + 3 * a), load(Fj + 3 * b));
      double q[4];
      quaternion(R, q);
      for (int a = 0; a < 4; ++a) o[L.n_rbf + 3 + a] = float(q[a]);
    }
    const int64_t base = L.n_rbf + 7;
    const bool same = chain[i] == chain[j];
    if (same) {
      const int64_t off = std::max(-L.max_offset, std::min(L.max_offset, j - i));
      o[base + off + L.max_offset] = 1.0f;
    } else {
      o[base + 2 * L.max_offset + 1] = 1.0f;
    }
    o[W - 1] = same ? 1.0f : 0.0f;
  }
}

}  // namespace gs::geo
