// One 12 h GenCast step: DPM-Solver++ 2S with EDM stochastic churn.
//
// x lives in normalized-residual space, shape [n_grid, channels]. With the
// schedule's levels sigma_0 > ... > sigma_{N-1} > sigma_N = 0:
//
//   x = sigma_0 * A                                  (A: initial noise)
//   for i in 0..N-1:
//     s = sigma_i
//     if churn_i > 0:  s_hat = s (1 + churn_i);  x += B_i sqrt(s_hat^2 - s^2) * inflation;  s = s_hat
//     n = sigma_{i+1};  m = sqrt(s n)
//     D1 = D(x; s)
//     if n == 0:  x = D1                             (final step)
//     else:       x_mid = (m/s) x + (1 - m/s) D1;  D2 = D(x_mid; m);  x = (n/s) x + (1 - n/s) D2
//
// The ratios use the churned level s, as the reference does. The reference
// also evaluates D at sigma 0 on the final step and discards it; we skip that
// call, so a step costs 2N - 1 denoiser calls. Scalars are float and follow the
// reference's float32 operation order; vector arithmetic goes through the
// backend (axpby, copy), so the same code drives the CPU and GPU backends.
//
// Noise draws: A = noise(noise_draw_id(rollout_step, initial, 0)),
// B_i = noise(noise_draw_id(rollout_step, churn, i)) -- only for iterations
// with a non-zero churn rate.
#pragma once

#include <functional>

#include "backend/backend.h"
#include "sampler/noise_draw.h"
#include "sampler/schedule.h"

namespace gencast {

// D(x; sigma): writes the denoised estimate of x into `denoised` (same shape,
// never aliasing x).
using DenoiseFn = std::function<void(float sigma, const Tensor& x, Tensor& denoised)>;

// Optional hooks for progress reporting and for tests that record states.
struct StepObserver {
  virtual ~StepObserver() = default;
  // Before denoiser call `call` (0-based) of `of` in this step, at level sigma.
  virtual void on_denoiser_call(int /*call*/, int /*of*/, float /*sigma*/) {}
  // After sampler iteration `iter` (0-based) of `of`: x is the state at noise
  // level `sigma` = sigmas[iter + 1] (after the last iteration, the sample).
  virtual void on_sampler_iteration(int /*iter*/, int /*of*/, float /*sigma*/,
                                    const Tensor& /*x*/) {}
};

// Runs one 12 h step for one member. x: preallocated [n_grid, channels] on the
// backend, f32 (the sampler state; see the reference's float32 arithmetic);
// its contents on entry are ignored, on return it holds the sample.
// Allocates two temporaries of x's shape and dtype per call, none per iteration.
void run_sampler_step(Backend& backend, const SamplerSchedule& schedule, float inflation,
                      int rollout_step, const DenoiseFn& denoise, const NoiseFn& noise, Tensor& x,
                      StepObserver* observer = nullptr);

// Device bytes run_sampler_step allocates for a state of `x_shape` and
// `dtype` (its temporaries; x itself is the caller's), for the memory plan.
int64_t sampler_step_bytes(const Shape& x_shape, DType dtype);

}  // namespace gencast
