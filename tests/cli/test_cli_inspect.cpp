// `gencast-run inspect`: runs the binary on the fixture checkpoint and on
// broken ones, checking exit codes, the text report and that --json prints
// one valid JSON document (checked with a small strict parser below, since
// the project has no JSON library).
#include <catch2/catch.hpp>
#include "test_temp_dir.h"

#include <sys/wait.h>

#include <cctype>
#include <cstring>
#include <limits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "cli/bad_input_files.h"
#include "model/checkpoint.h"
#include "model/random_checkpoint.h"

using namespace gencast;
using gencast::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTiny = std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/tiny_checkpoint.npz";


struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run_inspect(const TempDir& dir, const std::string& args) {
  const std::string cmd = std::string("'") + GENCAST_RUN_BINARY + "' inspect " + args + " >'" +
                          dir.file("out.txt") + "' 2>'" + dir.file("err.txt") + "'";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir.file("out.txt"));
  r.err = slurp(dir.file("err.txt"));
  return r;
}

// Strict JSON (RFC 8259) recogniser: returns true if `s` is exactly one value.
class JsonCheck {
 public:
  explicit JsonCheck(const std::string& s) : s_(s) {}
  bool document() {
    ws();
    if (!value()) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool lit(const char* word) {
    const std::string w = word;
    if (s_.compare(i_, w.size(), w) != 0) return false;
    i_ += w.size();
    return true;
  }
  bool value() {
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return string();
    if (c == 't') return lit("true");
    if (c == 'f') return lit("false");
    if (c == 'n') return lit("null");
    return number();
  }
  bool object() {
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
    while (true) {
      ws();
      if (!string()) return false;
      ws();
      if (i_ >= s_.size() || s_[i_++] != ':') return false;
      ws();
      if (!value()) return false;
      ws();
      if (i_ >= s_.size()) return false;
      if (s_[i_] == ',') { ++i_; continue; }
      if (s_[i_] == '}') return ++i_, true;
      return false;
    }
  }
  bool array() {
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
    while (true) {
      ws();
      if (!value()) return false;
      ws();
      if (i_ >= s_.size()) return false;
      if (s_[i_] == ',') { ++i_; continue; }
      if (s_[i_] == ']') return ++i_, true;
      return false;
    }
  }
  bool string() {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    for (++i_; i_ < s_.size(); ++i_) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        const char e = s_[i_];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k)
            if (++i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return false;
        } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool number() {
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return false;
    if (s_[i_] == '0') ++i_;
    else while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return false;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return false;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    return i_ > start;
  }

  const std::string& s_;
  size_t i_ = 0;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("the JSON checker itself rejects malformed documents", "[checkpoint]") {
  CHECK(JsonCheck(R"({"a": [1, -2.5e3, "x\n", true, null, {}]})").document());
  CHECK(!JsonCheck(R"({"a": inf})").document());
  CHECK(!JsonCheck(R"({"a": 1,})").document());
  CHECK(!JsonCheck(R"({"a": 1} {"b": 2})").document());
  CHECK(!JsonCheck("{\"a\": \"tab\there\"}").document());
}

TEST_CASE("inspect prints the fixture's configs, parameters and attention", "[checkpoint]") {
  TempDir dir;
  const RunResult r = run_inspect(dir, "'" + kTiny + "'");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const Checkpoint ckpt = load_checkpoint(kTiny);
  CHECK(contains(r.out, ckpt.config.description));
  CHECK(contains(r.out, ckpt.config.license));
  // Every config value appears (tuples on one line).
  for (const auto& e : config_entries(ckpt.config)) {
    if (e.key == "description" || e.key == "license") continue;
    INFO(e.key);
    const size_t colon = e.key.rfind(':');
    const std::string tail = e.key.substr(colon + 1);
    const bool element = tail.find_first_not_of("0123456789") == std::string::npos;
    CHECK(contains(r.out, element ? e.key.substr(0, colon) + " = (" : e.key + " = "));
    CHECK(contains(r.out, config_value_text(e.value)));
  }
  CHECK(contains(r.out, "sampler_config:churn_max_noise_level = inf"));
  const std::string values = std::to_string(ckpt.params.total_values());
  CHECK(contains(r.out, std::to_string(ckpt.params.count()) + " arrays"));
  CHECK(contains(r.out, values.substr(0, values.size() - 3) + "," + values.substr(values.size() - 3) +
                            " values"));
  CHECK(contains(r.out, "schema       matches"));
  CHECK(contains(r.out, "no patch needed: triblockdiag_mha/full is GPU-ready"));
  CHECK(contains(r.out, "auto -> sparse"));
}

TEST_CASE("inspect --json prints one valid JSON object", "[checkpoint]") {
  TempDir dir;
  const RunResult r = run_inspect(dir, "'" + kTiny + "' --json --attention triblockdiag");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(JsonCheck(r.out).document());
  CHECK(contains(r.out, R"("churn_max_noise_level":"inf")"));
  CHECK(contains(r.out, R"("pressure_levels":[50,100,150,)"));
  CHECK(contains(r.out, R"("matches_schema":true)"));
  CHECK(contains(r.out, R"("resolved":"triblockdiag")"));
  CHECK(contains(r.out, R"("patched":false)"));
  CHECK(contains(r.out, R"("ok":true)"));
}

TEST_CASE("inspect shows the GPU patch of a splash-attention checkpoint", "[checkpoint]") {
  TempDir dir;
  ModelConfig config = official_model_config("tiny");
  config.denoiser.sparse_transformer_config.attention_type = "splash_mha";
  config.denoiser.sparse_transformer_config.mask_type = "lazy";
  const std::string path = dir.file("splash.npz");
  write_checkpoint(path, config, random_params(config, 3));
  const RunResult r = run_inspect(dir, "'" + path + "' --attention dense");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "attention_type splash_mha -> triblockdiag_mha, mask_type lazy -> full"));
  CHECK(contains(r.out, "--attention  dense: "));
  const RunResult j = run_inspect(dir, "'" + path + "' --json");
  REQUIRE(j.exit_code == 0);
  CHECK(JsonCheck(j.out).document());
  CHECK(contains(j.out, R"("patched":true)"));
}

TEST_CASE("inspect exits 2 on bad input, naming file and field", "[checkpoint]") {
  TempDir dir;
  SECTION("missing file") {
    const RunResult r = run_inspect(dir, "'" + dir.file("nope.npz") + "'");
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "nope.npz"));
    CHECK(contains(r.err, "no such file"));
  }
  SECTION("unknown --attention") {
    const RunResult r = run_inspect(dir, "'" + kTiny + "' --attention fastest");
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "fastest"));
  }
  SECTION("a parameter missing: report printed, problem on stderr") {
    const ModelConfig config = official_model_config("tiny");
    ParamStore params = random_params(config, 5);
    ParamStore fewer;
    for (const auto& [name, a] : params.arrays())
      if (name.find("block_01/ffw_down:b") == std::string::npos) fewer.set(name, a);
    const std::string path = dir.file("missing_param.npz");
    write_checkpoint(path, config, fewer);
    const RunResult r = run_inspect(dir, "'" + path + "'");
    CHECK(r.exit_code == 2);
    CHECK(contains(r.out, "does NOT match"));
    CHECK(contains(r.err, "missing_param.npz"));
    CHECK(contains(r.err, "params:mesh_transformer/~/transformer/block_01/ffw_down:b"));
    const RunResult j = run_inspect(dir, "'" + path + "' --json");
    CHECK(j.exit_code == 2);
    CHECK(JsonCheck(j.out).document());
    CHECK(contains(j.out, R"("ok":false)"));
  }
}

TEST_CASE("inspect --values reads every parameter and reports NaN/inf", "[cli][inspect]") {
  TempDir dir;
  const std::string bad = dir.file("nan.npz");
  bool poisoned = false;
  gencast::testing::rewrite_npz(kTiny, bad, [&](std::string& name, std::string& bytes) {
    if (!poisoned && name.rfind("params:", 0) == 0) {
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::memcpy(bytes.data() + gencast::testing::npy_data_offset(bytes), &nan, sizeof nan);
      poisoned = true;
    }
    return true;
  });
  REQUIRE(poisoned);
  // Headers only (the default): the NaN is not seen, as documented.
  RunResult r = run_inspect(dir, "'" + bad + "'");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("values       not read") != std::string::npos);
  r = run_inspect(dir, "'" + bad + "' --values");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("expected finite values, found 1 NaN/inf") != std::string::npos);
  r = run_inspect(dir, "'" + kTiny + "' --values --json");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("\"values_checked\":true") != std::string::npos);
}
