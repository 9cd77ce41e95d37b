// Error types and the exit-code contract.
//
// Every user-facing failure is a typed exception; only app/main.cpp turns them
// into exit codes: InputError -> 2 (usage, config or input problem),
// anything else -> 1 (runtime failure). Messages name the file, the field,
// what was expected and what was found, plus an optional hint line.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace gencast {

enum class ExitCode : int { ok = 0, runtime_failure = 1, usage_error = 2 };

// One concrete problem with something the user supplied.
struct Problem {
  std::string file;      // path of the file (or "command line"), may be empty
  std::string field;     // variable, key, flag or member inside that file
  std::string expected;  // what a valid value looks like
  std::string found;     // what was actually there
  std::string hint;      // optional: how to fix it

  // "file: field: expected X, found Y" (+ "\n  hint: ..." when set).
  std::string to_string() const;
};

// A problem with user input (files, spec, flags). Exit code 2.
// May carry several problems so that check-config can report all of them.
class InputError : public std::runtime_error {
 public:
  explicit InputError(Problem problem);
  explicit InputError(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

// A failure while running (device, I/O, numerical breakdown). Exit code 1.
class RuntimeFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws InputError for one problem; keeps call sites to one line.
[[noreturn]] void fail_input(std::string file, std::string field, std::string expected,
                             std::string found, std::string hint = {});

// Collects problems so that validation can report every one, not just the first.
class ProblemList {
 public:
  void add(Problem problem) { problems_.push_back(std::move(problem)); }
  void add(std::string file, std::string field, std::string expected, std::string found,
           std::string hint = {});
  // Runs `check` and records the InputError's problems instead of propagating.
  template <class F>
  void collect(F&& check) {
    try {
      check();
    } catch (const InputError& e) {
      for (const auto& p : e.problems()) problems_.push_back(p);
    }
  }
  bool empty() const { return problems_.empty(); }
  size_t size() const { return problems_.size(); }
  const std::vector<Problem>& problems() const { return problems_; }
  // Throws InputError with every problem, if there are any.
  void throw_if_any() const;

 private:
  std::vector<Problem> problems_;
};

}  // namespace gencast
