#include "runtime/run_fingerprint.h"

#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/hash64.h"
#include "core/text.h"

namespace gencast {
namespace {

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

template <typename T>
void hash_vector(Hash64& h, const std::vector<T>& v) {
  const uint64_t n = v.size();
  h.update(&n, sizeof n);
  h.update(v.data(), v.size() * sizeof(T));
}

}  // namespace

std::string RunFingerprint::text() const {
  std::string out;
  for (const auto& [key, value] : items) out += key + ": " + value + "\n";
  return out;
}

std::string RunFingerprint::digest() const {
  Hash64 h;
  h.update(text());
  return h.hex();
}

std::string file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeFailure(path + ": cannot read the file to fingerprint it");
  Hash64 h;
  std::vector<char> buffer(size_t{4} << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw RuntimeFailure(path + ": read error while fingerprinting the file");
  return h.hex();
}

std::string input_digest(const InputDataset& input) {
  Hash64 h;
  hash_vector(h, input.lat);
  hash_vector(h, input.lon);
  hash_vector(h, input.levels);
  hash_vector(h, input.times_s);
  for (const auto& [name, field] : input.fields) {  // std::map: name order
    h.update(name);
    hash_vector(h, field.shape);
    hash_vector(h, field.data);
  }
  return h.hex();
}

std::string stats_digest(const NormalizationStats& stats) {
  Hash64 h;
  for (const auto* table : {&stats.mean, &stats.stddev, &stats.diffs_stddev, &stats.min}) {
    h.update("table");
    for (const auto& [name, values] : *table) {
      h.update(name);
      hash_vector(h, values);
    }
  }
  return h.hex();
}

RunFingerprint make_run_fingerprint(const RunSpec& spec, const SamplerConfig& sampler,
                                    int64_t batch, const std::string& checkpoint_digest,
                                    const std::string& stats_digest_hex,
                                    const std::string& input_digest_hex, int64_t init_time_s) {
  RunFingerprint f;
  auto add = [&](const std::string& key, const std::string& value) { f.items.emplace_back(key, value); };
  add("checkpoint", checkpoint_digest);
  add("stats", stats_digest_hex);
  add("input", input_digest_hex);
  add("init_time", format_iso_time(init_time_s));
  add("seed", std::to_string(spec.forecast.seed));
  add("steps", std::to_string(spec.forecast.steps));
  add("precision", precision_name(spec.model.precision));
  // Members grouped differently agree only within the precision's tolerance.
  add("batch", std::to_string(batch));
  add("attention", attention_mode_name(spec.model.attention));
  add("sampler", "levels " + std::to_string(sampler.num_noise_levels) + ", sigma " +
                     number_text(sampler.min_noise_level) + ".." + number_text(sampler.max_noise_level) +
                     ", rho " + number_text(sampler.rho) + ", churn " +
                     number_text(sampler.stochastic_churn_rate) + " in " +
                     number_text(sampler.churn_min_noise_level) + ".." +
                     number_text(sampler.churn_max_noise_level) + ", inflation " +
                     number_text(sampler.noise_level_inflation_factor));
  return f;
}

RunFingerprint parse_run_identity(const std::string& text) {
  RunFingerprint f;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(": ");
    if (colon != std::string::npos) f.items.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  }
  return f;
}

std::string identity_value(const std::string& text, const std::string& key) {
  for (const auto& [k, v] : parse_run_identity(text).items)
    if (k == key) return v;
  return "";
}

std::vector<std::string> identity_differences(const std::string& a, const std::string& b) {
  std::map<std::string, std::string> ma, mb;
  for (auto& [key, value] : parse_run_identity(a).items) ma[key] = value;
  for (auto& [key, value] : parse_run_identity(b).items) mb[key] = value;
  std::vector<std::string> out;
  for (const auto& [key, value] : ma) {
    auto it = mb.find(key);
    const std::string other = it == mb.end() ? "(absent)" : it->second;
    if (other != value) out.push_back(key + ": " + value + " vs " + other);
  }
  for (const auto& [key, value] : mb)
    if (!ma.count(key)) out.push_back(key + ": (absent) vs " + value);
  return out;
}

}  // namespace gencast
