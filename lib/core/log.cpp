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
        .key("message").value(std::string_view(msg.payload.data(), msg.payload.size()))
        .end_object();
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
  if (format == LogFormat::json) {
    logger->set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>("[%H:%M:%S] %^%l%$: %v"));
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  g_format = format;
}

LogFormat log_format() { return g_format; }

}  // namespace gencast
