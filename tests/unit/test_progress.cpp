// ForecastProgress shared by worker threads (one per GPU): every step is
// counted, and each JSON progress line comes out whole, with the same keys
// in the same order as batch scripts expect.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "runtime/progress.h"
#include "test_temp_dir.h"

using namespace gencast;

namespace {

constexpr int kThreads = 4, kStepsPerThread = 50;

// Sets the log format for one test and puts the previous logger back after.
class LoggingScope {
 public:
  explicit LoggingScope(LogFormat format) : saved_(spdlog::default_logger()) {
    init_logging("off", format);
  }
  ~LoggingScope() {
    init_logging("info", LogFormat::text);
    spdlog::set_default_logger(saved_);
  }

 private:
  std::shared_ptr<spdlog::logger> saved_;
};

// Sends stderr (fd 2) to `path` while alive.
class StderrToFile {
 public:
  explicit StderrToFile(const std::string& path) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrToFile() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
  }

 private:
  int saved_ = -1;
};

// kThreads workers, each reporting kStepsPerThread steps of its own member.
void report_from_threads(ForecastProgress& progress) {
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&progress, t] {
      for (int s = 0; s < kStepsPerThread; ++s) progress.step_done(t, 100 + t, s, 0.5);
    });
  }
  for (auto& w : workers) w.join();
}

}  // namespace

TEST_CASE("ForecastProgress counts every step reported from several threads", "[progress]") {
  LoggingScope logging(LogFormat::text);
  ForecastProgress progress(kThreads, kStepsPerThread);
  CHECK(progress.done() == 0);
  report_from_threads(progress);
  CHECK(progress.done() == kThreads * kStepsPerThread);
}

TEST_CASE("JSON progress lines from several threads are whole and count up", "[progress]") {
  testing::TempDir dir;
  const std::string path = dir.file("stderr.txt");
  ForecastProgress progress(kThreads, kStepsPerThread);
  {
    LoggingScope logging(LogFormat::json);
    StderrToFile redirect(path);
    report_from_threads(progress);
  }
  CHECK(progress.done() == kThreads * kStepsPerThread);

  const std::regex key(R"re("([a-z_]+)":)re");
  const std::vector<std::string> expected_keys = {
      "event",        "member",          "member_index", "members", "step",  "steps",
      "lead_hours",   "step_seconds",    "elapsed_seconds", "eta_seconds", "done", "total"};
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    INFO(line);
    ++lines;
    std::vector<std::string> keys;
    for (auto it = std::sregex_iterator(line.begin(), line.end(), key); it != std::sregex_iterator();
         ++it)
      keys.push_back((*it)[1]);
    CHECK(keys == expected_keys);
    CHECK(line.starts_with(R"({"event":"step","member":)"));
    // Lines leave in the order their counts were taken.
    CHECK(line.ends_with(",\"done\":" + std::to_string(lines) +
                         ",\"total\":" + std::to_string(kThreads * kStepsPerThread) + "}"));
  }
  CHECK(lines == kThreads * kStepsPerThread);
}
