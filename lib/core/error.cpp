#include "core/error.h"

#include <utility>

namespace gencast {
namespace {

std::string join_problems(const std::vector<Problem>& problems) {
  std::string out;
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i) out += "\n";
    out += problems[i].to_string();
  }
  return out;
}

}  // namespace

std::string Problem::to_string() const {
  std::string out;
  if (!file.empty()) out += file + ": ";
  if (!field.empty()) out += field + ": ";
  if (!expected.empty()) out += "expected " + expected;
  if (!found.empty()) out += (expected.empty() ? "found " : ", found ") + found;
  if (!hint.empty()) out += "\n  hint: " + hint;
  return out;
}

InputError::InputError(Problem problem)
    : InputError(std::vector<Problem>{std::move(problem)}) {}

InputError::InputError(std::vector<Problem> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

void fail_input(std::string file, std::string field, std::string expected, std::string found,
                std::string hint) {
  throw InputError(Problem{std::move(file), std::move(field), std::move(expected),
                           std::move(found), std::move(hint)});
}

void ProblemList::add(std::string file, std::string field, std::string expected,
                      std::string found, std::string hint) {
  problems_.push_back(Problem{std::move(file), std::move(field), std::move(expected),
                              std::move(found), std::move(hint)});
}

void ProblemList::throw_if_any() const {
  if (!problems_.empty()) throw InputError(problems_);
}

}  // namespace gencast
