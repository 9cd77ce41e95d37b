// DPM-Solver++ 2S step with stochastic churn; see dpm_solver.h for the algorithm.
#include "sampler/dpm_solver.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gencast {
namespace {

void check_schedule(const SamplerSchedule& s) {
  const size_t n = s.churn.size();
  if (n == 0 || s.sigmas.size() != n + 1 || s.sigmas.back() != 0.f)
    throw std::invalid_argument(
        "run_sampler_step: schedule needs N >= 1 churn rates and N + 1 levels ending in 0");
  for (size_t i = 0; i < n; ++i)
    if (!(s.sigmas[i] > 0.f) || !(s.churn[i] >= 0.f))
      throw std::invalid_argument("run_sampler_step: levels before the last must be > 0, churn >= 0");
}

}  // namespace

void run_sampler_step(Backend& backend, const SamplerSchedule& schedule, float inflation,
                      int rollout_step, const DenoiseFn& denoise, const NoiseFn& noise, Tensor& x,
                      StepObserver* observer) {
  check_schedule(schedule);
  if (x.shape().size() != 2 || x.numel() == 0)
    throw std::invalid_argument("run_sampler_step: x must be a non-empty [n_grid, channels] tensor");
  const int n = schedule.steps();
  const int calls = denoiser_calls_per_step(schedule);
  // d holds D1, then D2 (D1 is dead once x_mid exists); work holds churn noise,
  // then x_mid. They take x's dtype, not the backend's compute dtype: the
  // state runs from ~80 down to O(1) and the reference keeps it in float32,
  // so it must not be rounded to bf16 between iterations.
  // sampler_step_bytes counts these two.
  Tensor d = backend.empty(x.shape(), x.dtype());
  Tensor work = backend.empty(x.shape(), x.dtype());

  noise(noise_draw_id(rollout_step, kNoiseDrawInitial, 0), x);
  backend.axpby(schedule.sigmas[0], x, 0.f, x, x);

  int call = 0;
  for (int i = 0; i < n; ++i) {
    float sigma = schedule.sigmas[i];
    const float rate = schedule.churn[i];
    if (rate > 0.f) {
      // A zero rate would add exactly 0 * B, so skipping the draw changes nothing.
      const float sigma_hat = sigma * (1.f + rate);
      const float diff = std::max(sigma_hat * sigma_hat - sigma * sigma, 0.f);
      const float stddev = std::sqrt(diff) * inflation;
      noise(noise_draw_id(rollout_step, kNoiseDrawChurn, i), work);
      backend.axpby(1.f, x, stddev, work, x);
      sigma = sigma_hat;
    }
    const float sigma_next = schedule.sigmas[i + 1];
    if (observer) observer->on_denoiser_call(call, calls, sigma);
    denoise(sigma, x, d);
    ++call;
    if (sigma_next == 0.f) {
      backend.copy(d, x);
    } else {
      const float sigma_mid = std::sqrt(sigma * sigma_next);
      const float mid_ratio = sigma_mid / sigma;
      backend.axpby(mid_ratio, x, 1.f - mid_ratio, d, work);
      if (observer) observer->on_denoiser_call(call, calls, sigma_mid);
      denoise(sigma_mid, work, d);
      ++call;
      const float next_ratio = sigma_next / sigma;
      backend.axpby(next_ratio, x, 1.f - next_ratio, d, x);
    }
    if (observer) observer->on_sampler_iteration(i, n, sigma_next, x);
  }
}

int64_t sampler_step_bytes(const Shape& x_shape, DType dtype) {
  constexpr int64_t kTemporaries = 2;  // d and work
  return kTemporaries * shape_numel(x_shape) * static_cast<int64_t>(dtype_size(dtype));
}

}  // namespace gencast
