// Run identity: the hash does not depend on how data is fed to it, every
// result-changing setting changes the digest, and differences are named.
#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "core/hash64.h"
#include "runtime/run_fingerprint.h"
#include "test_temp_dir.h"

using namespace gencast;

TEST_CASE("hash64: digest independent of how the bytes are split", "[fingerprint]") {
  std::mt19937 rng(11);
  std::vector<unsigned char> bytes(1000);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng());
  Hash64 whole;
  whole.update(bytes.data(), bytes.size());
  for (size_t cut : {size_t{1}, size_t{3}, size_t{8}, size_t{13}, size_t{999}}) {
    Hash64 parts;
    parts.update(bytes.data(), cut);
    parts.update(bytes.data() + cut, bytes.size() - cut);
    CHECK(parts.hex() == whole.hex());
  }
  Hash64 changed;
  bytes[500] ^= 1;
  changed.update(bytes.data(), bytes.size());
  CHECK(changed.hex() != whole.hex());
  Hash64 shorter;  // a trailing zero byte changes the digest
  shorter.update(bytes.data(), bytes.size() - 1);
  Hash64 zero_padded;
  zero_padded.update(bytes.data(), bytes.size() - 1);
  const unsigned char zero = 0;
  zero_padded.update(&zero, 1);
  CHECK(shorter.hex() != zero_padded.hex());
}

TEST_CASE("run fingerprint: each result-changing setting changes the digest", "[fingerprint]") {
  RunSpec spec;
  spec.forecast.seed = 7;
  spec.forecast.steps = 4;
  SamplerConfig sampler;
  const auto base = make_run_fingerprint(spec, sampler, 1, "c", "s", "i", 100);
  CHECK(base.digest().size() == 16);
  CHECK(make_run_fingerprint(spec, sampler, 1, "c", "s", "i", 100).digest() == base.digest());
  std::vector<RunFingerprint> changed;
  changed.push_back(make_run_fingerprint(spec, sampler, 2, "c", "s", "i", 100));
  changed.push_back(make_run_fingerprint(spec, sampler, 1, "C", "s", "i", 100));
  changed.push_back(make_run_fingerprint(spec, sampler, 1, "c", "S", "i", 100));
  changed.push_back(make_run_fingerprint(spec, sampler, 1, "c", "s", "I", 100));
  changed.push_back(make_run_fingerprint(spec, sampler, 1, "c", "s", "i", 43300));
  RunSpec seed = spec;
  seed.forecast.seed = 8;
  changed.push_back(make_run_fingerprint(seed, sampler, 1, "c", "s", "i", 100));
  RunSpec steps = spec;
  steps.forecast.steps = 5;
  changed.push_back(make_run_fingerprint(steps, sampler, 1, "c", "s", "i", 100));
  RunSpec precision = spec;
  precision.model.precision = Precision::bf16;
  changed.push_back(make_run_fingerprint(precision, sampler, 1, "c", "s", "i", 100));
  SamplerConfig churn = sampler;
  churn.stochastic_churn_rate = 0;
  changed.push_back(make_run_fingerprint(spec, churn, 1, "c", "s", "i", 100));
  for (const auto& f : changed) {
    CHECK(f.digest() != base.digest());
    CHECK(identity_differences(base.text(), f.text()).size() == 1);
  }
  // Member selection and devices are not part of the identity.
  RunSpec members = spec;
  members.forecast.member_ids = {5, 6};
  members.runtime.devices = {"cpu", "cpu"};
  CHECK(make_run_fingerprint(members, sampler, 1, "c", "s", "i", 100).digest() == base.digest());
  const auto diff = identity_differences(base.text(), changed[5].text());
  REQUIRE(diff.size() == 1);
  CHECK(diff[0] == "seed: 7 vs 8");
}

TEST_CASE("run fingerprint: file digest follows the content", "[fingerprint]") {
  gencast::testing::TempDir dir;
  const auto a = (dir.path() / "a.bin").string(), b = (dir.path() / "b.bin").string();
  std::ofstream(a) << "checkpoint bytes";
  std::ofstream(b) << "checkpoint bytes";
  CHECK(file_digest(a) == file_digest(b));
  std::ofstream(b) << "checkpoint bytez";
  CHECK(file_digest(a) != file_digest(b));
  CHECK_THROWS(file_digest((dir.path() / "none").string()));
}
