#include "io/partial_output.h"

#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace gencast {

PartialOutputPaths partial_output_paths(const std::string& output) {
  return {output + ".partial", output + ".partial.journal", output + ".partial.state",
          output + ".lock"};
}

void remove_partial_output(const std::string& output) {
  namespace fs = std::filesystem;
  const PartialOutputPaths p = partial_output_paths(output);
  // The data file first: a journal without its data file is recognised as
  // an orphan, never a data file with a journal it does not match.
  // (journal.tmp: a journal being replaced when the process died.)
  for (const std::string& path : {p.data, p.journal, p.journal + ".tmp", p.state_dir}) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) throw RuntimeFailure(path + ": cannot remove it: " + ec.message());
  }
}

}  // namespace gencast
