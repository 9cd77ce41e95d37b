// Hierarchical point-in-spherical-triangle search plus the flat-mesh tie
// test (see triangle_locator.h).
#include "graph/triangle_locator.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gencast {
namespace {

using Vec3 = std::array<double, 3>;

// Tolerances on the signed distance (radians) from an edge's great circle.
constexpr double kDescendTolerance = 1e-5;  // coarse levels: keep near misses
constexpr double kOnEdgeTolerance = 1e-9;   // finest level: "on the great circle"
// Two flat-mesh distances closer than this are equal up to rounding (they
// are ~1e-3..1e-5 and computed in double to ~1e-16). A point just outside a
// tie wedge, by d, has a distance gap ~d^2/(2 h) (h = height above the flat
// face, >= 1e-5), so this only admits points within ~1e-9 rad of a wedge.
constexpr double kTieDistanceTolerance = 1e-13;

Vec3 to_double(const std::array<float, 3>& v) {
  return {static_cast<double>(v[0]), static_cast<double>(v[1]), static_cast<double>(v[2])};
}
Vec3 sub(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

// Unit normal of the plane through the origin, a and b; for counter-clockwise
// faces it points into the triangle. b x a is the exact negation of a x b, so
// the two faces sharing an edge test complementary half-spaces.
Vec3 edge_normal(const Vec3& a, const Vec3& b) {
  Vec3 n = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  const double len = std::sqrt(dot(n, n));
  for (double& c : n) c /= len;
  return n;
}

// Smallest signed distance of p to the three edge planes (>= 0: inside).
double min_edge_distance(const std::array<double, 9>& n, const Vec3& p) {
  double m = std::numeric_limits<double>::infinity();
  for (int k = 0; k < 3; ++k) {
    m = std::min(m, n[3 * k] * p[0] + n[3 * k + 1] * p[1] + n[3 * k + 2] * p[2]);
  }
  return m;
}

// Distance from p to the flat triangle abc: find the feature (vertex, edge or
// interior) whose Voronoi region holds p, from the projections of p onto the
// edge directions, and measure to the closest point there.
double point_triangle_distance(const Vec3& p, const Vec3& a, const Vec3& b, const Vec3& c) {
  const Vec3 ab = sub(b, a), ac = sub(c, a), ap = sub(p, a);
  auto dist_to = [&](const Vec3& q) {
    const Vec3 d = sub(p, q);
    return std::sqrt(dot(d, d));
  };
  const double d1 = dot(ab, ap), d2 = dot(ac, ap);
  if (d1 <= 0 && d2 <= 0) return dist_to(a);
  const Vec3 bp = sub(p, b);
  const double d3 = dot(ab, bp), d4 = dot(ac, bp);
  if (d3 >= 0 && d4 <= d3) return dist_to(b);
  const double vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) {
    const double t = d1 / (d1 - d3);
    return dist_to({a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]});
  }
  const Vec3 cp = sub(p, c);
  const double d5 = dot(ab, cp), d6 = dot(ac, cp);
  if (d6 >= 0 && d5 <= d6) return dist_to(c);
  const double vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) {
    const double t = d2 / (d2 - d6);
    return dist_to({a[0] + t * ac[0], a[1] + t * ac[1], a[2] + t * ac[2]});
  }
  const double va = d3 * d6 - d5 * d4;
  if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) {
    const double t = (d4 - d3) / ((d4 - d3) + (d5 - d6));
    return dist_to({b[0] + t * (c[0] - b[0]), b[1] + t * (c[1] - b[1]), b[2] + t * (c[2] - b[2])});
  }
  const double scale = 1.0 / (va + vb + vc);
  const double v = vb * scale, w = vc * scale;
  return dist_to({a[0] + ab[0] * v + ac[0] * w, a[1] + ab[1] * v + ac[1] * w,
                  a[2] + ab[2] * v + ac[2] * w});
}

}  // namespace

TriangleLocator::TriangleLocator(const MeshHierarchy& h) {
  normals_.resize(h.faces.size());
  for (size_t level = 0; level < h.faces.size(); ++level) {
    auto& out = normals_[level];
    out.resize(h.faces[level].size());
    for (size_t f = 0; f < h.faces[level].size(); ++f) {
      const auto& face = h.faces[level][f];
      for (int k = 0; k < 3; ++k) {
        const Vec3 n = edge_normal(to_double(h.vertices[face[k]]),
                                   to_double(h.vertices[face[(k + 1) % 3]]));
        for (int c = 0; c < 3; ++c) out[f][3 * k + c] = n[c];
      }
    }
  }
  faces_ = h.faces.back();
  vertices_.reserve(h.vertices.size());
  for (const auto& v : h.vertices) vertices_.push_back(to_double(v));
  // Faces around each vertex (CSR).
  vertex_face_offsets_.assign(vertices_.size() + 1, 0);
  for (const auto& f : faces_) {
    for (int32_t v : f) ++vertex_face_offsets_[v + 1];
  }
  for (size_t v = 0; v < vertices_.size(); ++v) {
    vertex_face_offsets_[v + 1] += vertex_face_offsets_[v];
  }
  vertex_faces_.resize(static_cast<size_t>(vertex_face_offsets_.back()));
  std::vector<int32_t> next(vertex_face_offsets_.begin(), vertex_face_offsets_.end() - 1);
  for (size_t f = 0; f < faces_.size(); ++f) {
    for (int32_t v : faces_[f]) vertex_faces_[next[v]++] = static_cast<int32_t>(f);
  }
}

int32_t TriangleLocator::spherical_face(const Vec3& p) const {
  const int finest = levels() - 1;
  // Depth-first over (level, face) candidates; the stack stays tiny because a
  // point is near at most a few faces per level.
  std::vector<std::pair<int, int32_t>> stack;
  stack.reserve(32);
  for (int32_t f = 19; f >= 0; --f) stack.emplace_back(0, f);
  int32_t picked = -1;
  int32_t best_face = -1;  // fallback if no finest face passes (never seen)
  double best_distance = -std::numeric_limits<double>::infinity();
  while (!stack.empty()) {
    const auto [level, face] = stack.back();
    stack.pop_back();
    const double d = min_edge_distance(normals_[level][face], p);
    if (level == finest) {
      if (d > best_distance) {
        best_distance = d;
        best_face = face;
      }
      if (d >= -kOnEdgeTolerance && (picked < 0 || face < picked)) picked = face;
      continue;
    }
    if (d < -kDescendTolerance) continue;
    for (int32_t c = 3; c >= 0; --c) stack.emplace_back(level + 1, 4 * face + c);
  }
  return picked >= 0 ? picked : best_face;
}

TriangleHit TriangleLocator::locate(const Vec3& p_in) const {
  // The reference measures flat distances to the point as given (on the
  // unit sphere up to float32 rounding); containment only needs direction.
  const Vec3& p = p_in;
  TriangleHit hit;
  hit.face = spherical_face(p);
  // Flat-mesh distances of the faces around the picked face's vertices: the
  // only faces that can be as near as the picked one.
  int32_t candidates[32];
  int n_candidates = 0;
  for (int32_t v : faces_[hit.face]) {
    for (int32_t e = vertex_face_offsets_[v]; e < vertex_face_offsets_[v + 1]; ++e) {
      const int32_t f = vertex_faces_[e];
      if (std::find(candidates, candidates + n_candidates, f) == candidates + n_candidates &&
          n_candidates < 32) {
        candidates[n_candidates++] = f;
      }
    }
  }
  double distance[32];
  double nearest = std::numeric_limits<double>::infinity();
  for (int i = 0; i < n_candidates; ++i) {
    const auto& f = faces_[candidates[i]];
    distance[i] = point_triangle_distance(p, vertices_[f[0]], vertices_[f[1]], vertices_[f[2]]);
    nearest = std::min(nearest, distance[i]);
  }
  // The nearest faces, equal up to rounding: keep the spherical face if it
  // is one of them (always, in practice), else the smallest nearest index.
  hit.tied = 0;
  int32_t smallest_nearest = -1;
  bool spherical_is_nearest = false;
  for (int i = 0; i < n_candidates; ++i) {
    if (distance[i] > nearest + kTieDistanceTolerance) continue;
    ++hit.tied;
    spherical_is_nearest |= candidates[i] == hit.face;
    if (smallest_nearest < 0 || candidates[i] < smallest_nearest) smallest_nearest = candidates[i];
  }
  if (!spherical_is_nearest) hit.face = smallest_nearest;
  return hit;
}

}  // namespace gencast
