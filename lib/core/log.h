// Logging set-up: spdlog to stderr, as human text or as JSON lines for
// batch scripts (--log-format json). Library code logs through spdlog's
// default logger; only the CLI decides level and format.
#pragma once

#include <string>

namespace gencast {

enum class LogFormat { text, json };

// level: trace|debug|info|warn|error|off. Throws InputError on unknown names.
void init_logging(const std::string& level, LogFormat format);
LogFormat log_format();

// One of several MPI ranks (cluster/): every log line, error and JSON object
// then names the rank ("[rank 3/16]" in text, "rank": 3 in JSON), so that the
// launcher's merged output stays readable. Call after init_logging.
void set_log_rank(int rank, int size);
// The rank given to set_log_rank, or -1 (one process).
int log_rank();
// "[rank 3/16] " after set_log_rank, else "".
std::string log_rank_prefix();

}  // namespace gencast
