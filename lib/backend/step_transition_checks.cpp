#include "backend/step_transition_checks.h"

#include <stdexcept>
#include <string>

namespace gencast {
namespace {

void require(bool ok, const char* backend, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(backend) + " backend " + op + ": " + what);
}

}  // namespace

void check_step_tables(const StepTransitionTables& t, const char* backend) {
  const char* op = "plan_step_transition";
  const auto T = static_cast<size_t>(t.n_targets());
  const auto K = static_cast<size_t>(t.n_conditioning());
  require(t.n_lon >= 1, backend, op, "n_lon must be >= 1");
  require(t.frames >= 1 && t.frames <= kMaxStepFrames, backend, op,
          "frames must be in 1.." + std::to_string(kMaxStepFrames));
  require(t.scale.size() == T && t.offset.size() == T, backend, op,
          "scale and offset need one value per target");
  require(t.land_target >= -1 && t.land_target < static_cast<int64_t>(T), backend, op,
          "land_target out of range");
  require(t.column_index.size() == K && t.mean.size() == K && t.stddev.size() == K &&
              t.column_fill_nan.size() == K,
          backend, op, "column tables need one entry per conditioning column");
  for (size_t c = 0; c < K; ++c) {
    const int32_t i = t.column_index[c];
    switch (t.column_kind[c]) {
      case kColumnKeep: break;
      case kColumnShift:
        require(i >= 0 && static_cast<size_t>(i) < K, backend, op, "shift source out of range");
        break;
      case kColumnNewest:
        require(i >= 0 && static_cast<size_t>(i) < T, backend, op, "newest source out of range");
        break;
      case kColumnForcing:
        require(i >= 0 && i < t.forcing_rows, backend, op, "forcing row out of range");
        break;
      default: require(false, backend, op, "unknown column kind " + std::to_string(t.column_kind[c]));
    }
  }
}

void check_step_to_physical(const StepTransitionTables& t, const Tensor& normalized,
                            const Tensor& bases, const Tensor& land, const Tensor& physical,
                            const char* backend) {
  const char* op = "step_to_physical";
  const int64_t R = normalized.rows(), T = t.n_targets();
  require(normalized.cols() == T && bases.cols() == T && physical.cols() == T, backend, op,
          "normalized, bases and physical need one column per target");
  require(bases.rows() == R && physical.rows() == R, backend, op,
          "normalized, bases and physical need the same rows");
  require(t.land_target < 0 || (land.rows() == R && land.cols() == 1), backend, op,
          "land must be [rows, 1]");
  require(normalized.data() != physical.data() && bases.data() != physical.data(), backend, op,
          "physical must not alias its inputs");
}

void check_step_advance(const StepTransitionTables& t, const Tensor& physical,
                        const Tensor& forcings, const Tensor& bases, const Tensor& land,
                        const Tensor& conditioning, const char* backend) {
  const char* op = "step_advance";
  const int64_t R = physical.rows(), T = t.n_targets();
  require(physical.cols() == T && bases.cols() == T && bases.rows() == R, backend, op,
          "physical and bases must be [rows, targets]");
  require(t.land_target < 0 || (land.rows() == R && land.cols() == 1), backend, op,
          "land must be [rows, 1]");
  require(conditioning.rows() == R && conditioning.cols() >= t.n_conditioning(), backend, op,
          "conditioning must be [rows, >= n_conditioning]");
  require(t.forcing_rows == 0 || (forcings.rows() == t.forcing_rows && forcings.cols() == t.n_lon),
          backend, op, "forcings must be [forcing_rows, n_lon]");
  require(R % t.n_lon == 0, backend, op, "rows must be whole latitude rows");
  require(physical.data() != bases.data(), backend, op, "bases must not alias physical");
}

}  // namespace gencast
