// Finds the finest mesh triangle that a point on the unit sphere belongs to,
// as the reference decides it, and says when that decision is a tie.
//
// The reference asks trimesh for the face nearest to the point on the
// flat-faced mesh. For a point on the sphere (outside the convex mesh) that
// is the face whose spherical triangle contains it, except in thin wedges
// along each edge (and around each vertex) where the nearest point of the
// flat mesh is on the edge (vertex) itself: there two or more faces are
// exactly equally near, and trimesh's pick is decided by rounding noise
// (it differs between numpy/scipy builds). Such a point is a tie.
//
// Our pick: the face whose spherical triangle contains the point (smallest
// face index if the point lies exactly on a great-circle edge), provided it
// is one of the nearest faces (within 1e-13) on the flat mesh, which it is
// for these near-uniform meshes; otherwise the nearest face with the
// smallest index. A tie is reported when several faces are that near; off
// ties the pick is therefore the reference's face.
//
// Search: descend the refinement hierarchy from the 20 icosahedron faces,
// keeping every face within 1e-5 rad of containing the point at coarse levels
// (float32 midpoints deviate from the parent's edges by ~1e-7 rad, so a child
// can poke out of its parent slightly); then compare flat distances over the
// faces around the picked face's vertices.
//
// Invariants: face indices are those of the hierarchy's finest level; the
// result is deterministic for a given point.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "graph/icosahedral_mesh.h"

namespace gencast {

struct TriangleHit {
  int32_t face = -1;   // finest-level face index
  int32_t tied = 1;    // faces equally near on the flat mesh (1 = no tie)
};

class TriangleLocator {
 public:
  explicit TriangleLocator(const MeshHierarchy& hierarchy);
  // p need not be exactly unit length; only its direction matters.
  TriangleHit locate(const std::array<double, 3>& p) const;
  int levels() const { return static_cast<int>(normals_.size()); }

 private:
  // Spherical containment: the face's radial pick, smallest index on edges.
  int32_t spherical_face(const std::array<double, 3>& p) const;

  // Per level, per face: unit normals of the planes through the origin and
  // each edge (a,b), (b,c), (c,a), pointing into the triangle.
  std::vector<std::vector<std::array<double, 9>>> normals_;
  // Finest level: vertices (double), faces, and the faces around each vertex.
  std::vector<std::array<double, 3>> vertices_;
  std::vector<std::array<int32_t, 3>> faces_;
  std::vector<int32_t> vertex_face_offsets_, vertex_faces_;
};

}  // namespace gencast
