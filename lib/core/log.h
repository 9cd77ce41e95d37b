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

}  // namespace gencast
