#include "cli/cli_runner.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace gencast::testing {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CliResult run_gencast(const std::string& args, const std::string& cwd) {
  std::string cmd;
  if (!cwd.empty()) cmd = "cd " + shell_quote(cwd) + " && ";
  return run_shell(cmd + shell_quote(GENCAST_RUN_BINARY) + " " + args);
}

CliResult run_shell(const std::string& command) {
  namespace fs = std::filesystem;
  std::random_device rd;
  const fs::path tmp = fs::temp_directory_path() / ("gencast_cli_" + std::to_string(rd()));
  fs::create_directories(tmp);
  // A subshell, so that a command's own redirections and `exec` stay inside.
  const std::string cmd = "( " + command + " ) >" + shell_quote((tmp / "out").string()) + " 2>" +
                          shell_quote((tmp / "err").string());
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(tmp / "out");
  r.err = slurp(tmp / "err");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return r;
}

}  // namespace gencast::testing
