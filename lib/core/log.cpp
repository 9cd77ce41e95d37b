#include "core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/json.h"

namespace gencast {
namespace {

LogFormat g_format = LogFormat::text;
int g_rank = -1, g_ranks = 0;

// --log-format json: each record as one line
// {"time":"2024-05-01T12:00:00.123+02:00","level":"info","message":"..."},
// built by JsonWriter so that any message text keeps the line valid JSON.
class JsonLineFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t stamp;
    time_.format(msg, stamp);
    const auto& level = spdlog::level::to_string_view(msg.level);  // as %l writes it
    JsonWriter json;
    json.begin_object()
        .key("time").value(std::string_view(stamp.data(), stamp.size()))
        .key("level").value(std::string_view(level.data(), level.size()))
        .key("message").value(std::string_view(msg.payload.data(), msg.payload.size()));
    if (g_rank >= 0) json.key("rank").value(static_cast<int64_t>(g_rank));
    json.end_object();
    const std::string& line = json.str();
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }

 private:
  // Local time with milliseconds and UTC offset; no end of line.
  spdlog::pattern_formatter time_{"%Y-%m-%dT%H:%M:%S.%e%z", spdlog::pattern_time_type::local, ""};
};

std::unique_ptr<spdlog::formatter> make_formatter(LogFormat format) {
  if (format == LogFormat::json) return std::make_unique<JsonLineFormatter>();
  return std::make_unique<spdlog::pattern_formatter>("[%H:%M:%S] " + log_rank_prefix() +
                                                      "%^%l%$: %v");
}

}  // namespace

void init_logging(const std::string& level, LogFormat format) {
  auto parsed = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    fail_input("command line", "--log-level", "one of trace, debug, info, warn, error, off",
               "'" + level + "'");
  }
  auto logger = std::make_shared<spdlog::logger>(
      "gencast", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(make_formatter(format));
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  g_format = format;
}

LogFormat log_format() { return g_format; }

void set_log_rank(int rank, int size) {
  g_rank = rank;
  g_ranks = size;
  spdlog::default_logger()->set_formatter(make_formatter(g_format));
}

int log_rank() { return g_rank; }

std::string log_rank_prefix() {
  if (g_rank < 0) return "";
  return "[rank " + std::to_string(g_rank) + "/" + std::to_string(g_ranks) + "] ";
}

}  // namespace gencast
