// Argument checks of the step-transition ops shared by every backend, so that
// a misuse reads the same on the CPU and on the GPU.
#pragma once

#include "backend/tensor.h"
#include "config/step_transition.h"

namespace gencast {

// std::invalid_argument when the tables are inconsistent (sizes, kinds,
// indices out of range, more frames than the land bits can hold).
void check_step_tables(const StepTransitionTables& tables, const char* backend);

// std::invalid_argument naming the op when the operands do not fit the tables
// (see Backend::step_to_physical / step_advance). Dtypes are checked by the
// backend (which types it supports).
void check_step_to_physical(const StepTransitionTables& tables, const Tensor& normalized,
                            const Tensor& bases, const Tensor& land, const Tensor& physical,
                            const char* backend);
void check_step_advance(const StepTransitionTables& tables, const Tensor& physical,
                        const Tensor& forcings, const Tensor& bases, const Tensor& land,
                        const Tensor& conditioning, const char* backend);

// Frames the land mask can hold: its bits are stored in a float32, exactly.
inline constexpr int kMaxStepFrames = 16;

}  // namespace gencast
