// The fuzz harnesses (fuzz/harnesses.h) in the ordinary test suite: every seed
// of fuzz/seeds.txt and every input that once broke a harness
// (tests/data/regressions/<harness>/, each with a line in
// tests/data/regressions/README.md saying what it broke) is replayed. Under
// scripts/sanitize.sh this runs with AddressSanitizer and UBSan too.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harnesses.h"

namespace fs = std::filesystem;
using gencast::fuzz::Harness;
using gencast::fuzz::harnesses;
using gencast::fuzz::read_bytes;

namespace {

// harness name -> seed paths (absolute).
std::map<std::string, std::vector<std::string>> seeds() {
  std::map<std::string, std::vector<std::string>> out;
  std::ifstream in(std::string(GENCAST_SOURCE_DIR) + "/fuzz/seeds.txt");
  REQUIRE(in);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, path;
    fields >> name >> path;
    out[name].push_back(std::string(GENCAST_SOURCE_DIR) + "/" + path);
  }
  return out;
}

void replay(const Harness& h, const std::string& path) {
  INFO(h.name << ": " << path);
  REQUIRE(fs::is_regular_file(path));
  const std::vector<uint8_t> bytes = read_bytes(path);
  CHECK_NOTHROW(h.run(bytes.data(), bytes.size()));
}

}  // namespace

TEST_CASE("every fuzz harness has seeds, and each seed passes its harness", "[fuzz]") {
  const auto all = seeds();
  for (const Harness& h : harnesses()) {
    INFO(h.name);
    const auto it = all.find(h.name);
    REQUIRE(it != all.end());
    for (const auto& path : it->second) replay(h, path);
  }
  for (const auto& [name, paths] : all) {
    bool known = false;
    for (const Harness& h : harnesses()) known = known || name == h.name;
    INFO("fuzz/seeds.txt names an unknown harness: " << name);
    CHECK(known);
  }
}

TEST_CASE("inputs that once broke a fuzz harness pass it now", "[fuzz][regression]") {
  const fs::path root = fs::path(GENCAST_TEST_DATA_DIR) / "regressions";
  std::string readme;
  {
    std::ifstream in(root / "README.md");
    std::stringstream ss;
    ss << in.rdbuf();
    readme = ss.str();
  }
  int replayed = 0;
  for (const Harness& h : harnesses()) {
    const fs::path dir = root / h.name;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      replay(h, e.path().string());
      // Each regression input says in the README what it broke.
      const std::string rel = std::string(h.name) + "/" + e.path().filename().string();
      INFO("tests/data/regressions/README.md has no line for " << rel);
      CHECK(readme.find(rel) != std::string::npos);
      ++replayed;
    }
  }
  CHECK(replayed > 0);
}
