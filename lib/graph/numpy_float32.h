// Float32 arithmetic that reproduces, bit for bit, what the reference's numpy
// computes when it builds the GenCast graphs.
//
// Why: the grid2mesh edges are "every (grid point, mesh node) pair with chord
// distance <= radius". A handful of pairs sit within float32 noise of that
// radius (at 0.25 deg, a few per million), so the edge set depends on the exact
// float32 grid positions and mesh vertices. The reference builds both with
// numpy float32 ufuncs: its sin/cos are a vectorised Cody-Waite reduction plus
// minimax polynomials with fused multiply-adds (max error ~1.5 ulp, not the
// correctly rounded libm result), its vector norm goes through OpenBLAS sdot
// (float products summed in double), its deg2rad/rad2deg multiply by float32
// constants. Using correctly rounded trig instead changes 1-6 grid2mesh edges
// at 0.25 deg (measured against graph_facts.json); these helpers remove that.
// numpy takes this sin/cos path on CPUs with fused multiply-add (x86-64 with
// FMA3, AArch64); the fixtures' node features match it bit for bit.
//
// Invariants: every function is pure float32 (or float32-in, float32-out with
// a documented double step); no function relies on compiler contraction (the
// project builds in ISO C++ mode, where GCC does not fuse a*b+c), and fused
// steps call std::fma explicitly.
#pragma once

#include <array>

namespace gencast::numpy_f32 {

// numpy.sin / numpy.cos on float32 input (valid for |x| <= 71476, which
// covers every angle in radians that the graph code produces; larger inputs
// fall back to libm as numpy does).
float sin(float x);
float cos(float x);

// numpy.deg2rad / numpy.rad2deg on float32: x * float32(pi/180) and
// x * (180.0f / float32(pi)).
float deg2rad(float degrees);
float rad2deg(float radians);

// numpy.mod(a, b) for float32 (result has the sign of b, like Python's %).
float mod(float a, float b);

// numpy.linalg.norm of a float32 3-vector (1-D, ord=None): sqrt of
// OpenBLAS sdot, which rounds each product to float32 and sums in double.
float norm3_sdot(const std::array<float, 3>& v);

// numpy.linalg.norm(x, axis=-1) for rows of a float32 [N,3] array: squares
// rounded to float32, summed left to right in float32, float32 sqrt.
float norm3_rows(const std::array<float, 3>& v);

// Unit vector of the point at (lat, lon) degrees, as the reference computes
// grid positions: phi = deg2rad(lon), theta = deg2rad(90 - lat),
// (cos phi * sin theta, sin phi * sin theta, cos theta), all float32 numpy ops.
std::array<float, 3> lat_lon_to_unit(float lat_deg, float lon_deg);

}  // namespace gencast::numpy_f32
