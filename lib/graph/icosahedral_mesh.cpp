// Icosahedral mesh construction with the reference's float32 arithmetic.
#include "graph/icosahedral_mesh.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <unordered_map>

#include "graph/numpy_float32.h"

namespace gencast {
namespace {

using Vec3f = std::array<float, 3>;
using Face = std::array<int32_t, 3>;

// The 12 vertices and 20 counter-clockwise faces of the reference's
// icosahedron, rotated so that two faces are parallel to the x-y plane.
void base_icosahedron(std::vector<Vec3f>& vertices, std::vector<Face>& faces) {
  const double phi = (1.0 + std::sqrt(5.0)) / 2.0;
  // Vertex order: for c1 in (1,-1), c2 in (phi,-phi): (c1,c2,0), (0,c1,c2), (c2,0,c1).
  std::vector<std::array<double, 3>> raw;
  for (double c1 : {1.0, -1.0}) {
    for (double c2 : {phi, -phi}) {
      raw.push_back({c1, c2, 0.0});
      raw.push_back({0.0, c1, c2});
      raw.push_back({c2, 0.0, c1});
    }
  }
  // The reference stores the coordinates as float32, then divides by the
  // float64 norm of (1, phi) with a float64 result rounded back to float32.
  const double scale = std::sqrt(1.0 + phi * phi);

  // Rotation about y by (pi - dihedral angle) / 2, as scipy builds it from the
  // quaternion (0, sin(a/2), 0, cos(a/2)); applied as row-vector @ matrix.
  const double dihedral = 2.0 * std::asin(phi / std::sqrt(3.0));
  const double angle = (std::numbers::pi - dihedral) / 2.0;
  const double qy = std::sin(angle / 2.0);
  const double qw = std::cos(angle / 2.0);
  const double r00 = qw * qw - qy * qy;  // = r22
  const double r11 = qy * qy + qw * qw;
  const double r02 = 2.0 * (qy * qw);    // matrix[0][2]; matrix[2][0] = -r02

  vertices.clear();
  for (const auto& c : raw) {
    double v[3];
    for (int k = 0; k < 3; ++k) {
      const float stored = static_cast<float>(c[k]);
      v[k] = static_cast<double>(static_cast<float>(static_cast<double>(stored) / scale));
    }
    // (v @ R)_j = sum_i v_i R_ij with R = [[r00,0,r02],[0,r11,0],[-r02,0,r00]].
    const double x = v[0] * r00 + v[2] * (-r02);
    const double y = v[1] * r11;
    const double z = v[0] * r02 + v[2] * r00;
    vertices.push_back({static_cast<float>(x), static_cast<float>(y), static_cast<float>(z)});
  }
  faces = {{0, 1, 2},   {0, 6, 1},  {8, 0, 2},  {8, 4, 0},  {3, 8, 2},
           {3, 2, 7},   {7, 2, 1},  {0, 4, 6},  {4, 11, 6}, {6, 11, 5},
           {1, 5, 7},   {4, 10, 11}, {4, 8, 10}, {10, 8, 3}, {10, 3, 9},
           {11, 10, 9}, {11, 9, 5}, {5, 9, 7},  {9, 3, 7},  {1, 6, 5}};
}

// The float32 midpoint of an edge on the unit sphere: numpy's float32 mean of
// the two rows, divided by its numpy norm (OpenBLAS sdot).
Vec3f child_vertex(const Vec3f& a, const Vec3f& b) {
  Vec3f m;
  for (int k = 0; k < 3; ++k) m[k] = (a[k] + b[k]) / 2.0f;
  const float n = numpy_f32::norm3_sdot(m);
  for (int k = 0; k < 3; ++k) m[k] = m[k] / n;
  return m;
}

// One 4-way split of every face. New vertices are appended in the order the
// faces first need them (edge (1,2), then (2,3), then (3,1) of each face).
std::vector<Face> split_faces(std::vector<Vec3f>& vertices, const std::vector<Face>& faces) {
  std::unordered_map<uint64_t, int32_t> midpoint_of;
  midpoint_of.reserve(faces.size() * 2);
  auto midpoint = [&](int32_t a, int32_t b) {
    const uint64_t key = (static_cast<uint64_t>(std::min(a, b)) << 32) |
                         static_cast<uint32_t>(std::max(a, b));
    auto it = midpoint_of.find(key);
    if (it != midpoint_of.end()) return it->second;
    const auto index = static_cast<int32_t>(vertices.size());
    vertices.push_back(child_vertex(vertices[a], vertices[b]));
    midpoint_of.emplace(key, index);
    return index;
  };
  std::vector<Face> out;
  out.reserve(faces.size() * 4);
  for (const Face& f : faces) {
    const int32_t v12 = midpoint(f[0], f[1]);
    const int32_t v23 = midpoint(f[1], f[2]);
    const int32_t v31 = midpoint(f[2], f[0]);
    out.push_back({f[0], v12, v31});
    out.push_back({v12, f[1], v23});
    out.push_back({v31, v23, f[2]});
    out.push_back({v12, v23, v31});
  }
  return out;
}

}  // namespace

MeshHierarchy icosahedral_mesh_hierarchy(int splits) {
  if (splits < 0 || splits > 10) {
    throw std::invalid_argument("icosahedral_mesh_hierarchy: splits must be in [0, 10]");
  }
  MeshHierarchy h;
  std::vector<Face> faces;
  base_icosahedron(h.vertices, faces);
  h.faces.push_back(faces);
  for (int level = 0; level < splits; ++level) {
    h.faces.push_back(split_faces(h.vertices, h.faces.back()));
  }
  return h;
}

TriMesh icosahedral_mesh(int splits) {
  MeshHierarchy h = icosahedral_mesh_hierarchy(splits);
  return TriMesh{std::move(h.vertices), std::move(h.faces.back())};
}

MeshEdges mesh_edges(const std::vector<std::array<int32_t, 3>>& faces) {
  MeshEdges e;
  const size_t n = faces.size();
  e.senders.resize(3 * n);
  e.receivers.resize(3 * n);
  for (int k = 0; k < 3; ++k) {
    for (size_t f = 0; f < n; ++f) {
      e.senders[k * n + f] = faces[f][k];
      e.receivers[k * n + f] = faces[f][(k + 1) % 3];
    }
  }
  return e;
}

float max_edge_chord(const TriMesh& mesh) {
  float longest = 0.0f;
  for (const Face& f : mesh.faces) {
    for (int k = 0; k < 3; ++k) {
      const Vec3f& s = mesh.vertices[f[k]];
      const Vec3f& r = mesh.vertices[f[(k + 1) % 3]];
      const float length = numpy_f32::norm3_rows({s[0] - r[0], s[1] - r[1], s[2] - r[2]});
      longest = std::max(longest, length);
    }
  }
  return longest;
}

TriMesh permute_mesh(const TriMesh& mesh, const std::vector<int32_t>& order) {
  const size_t n = mesh.vertices.size();
  if (order.size() != n) throw std::invalid_argument("permute_mesh: order has the wrong size");
  std::vector<int32_t> new_index(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const int32_t old = order[i];
    if (old < 0 || static_cast<size_t>(old) >= n || new_index[old] != -1) {
      throw std::invalid_argument("permute_mesh: order is not a permutation");
    }
    new_index[old] = static_cast<int32_t>(i);
  }
  TriMesh out;
  out.vertices.resize(n);
  for (size_t i = 0; i < n; ++i) out.vertices[i] = mesh.vertices[order[i]];
  out.faces.reserve(mesh.faces.size());
  for (const Face& f : mesh.faces) {
    out.faces.push_back({new_index[f[0]], new_index[f[1]], new_index[f[2]]});
  }
  return out;
}

}  // namespace gencast
