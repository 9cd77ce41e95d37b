#include "commands/run_check_print.h"

#include <cstdio>

#include "core/log.h"

namespace gencast::app {

int print_run_check(const RunCheck& check, const std::string& resolved_yaml, bool json) {
  if (json) {
    std::printf("{\"ok\":%s,\"plan\":{", check.ok() ? "true" : "false");
    for (size_t i = 0; i < check.plan.size(); ++i)
      std::printf("%s\"%s\":\"%s\"", i ? "," : "", json_escape(check.plan[i].first).c_str(),
                  json_escape(check.plan[i].second).c_str());
    std::printf("},\"problems\":[");
    for (size_t i = 0; i < check.problems.size(); ++i) {
      const Problem& p = check.problems[i];
      std::printf("%s{\"file\":\"%s\",\"field\":\"%s\",\"expected\":\"%s\",\"found\":\"%s\","
                  "\"hint\":\"%s\"}",
                  i ? "," : "", json_escape(p.file).c_str(), json_escape(p.field).c_str(),
                  json_escape(p.expected).c_str(), json_escape(p.found).c_str(),
                  json_escape(p.hint).c_str());
    }
    std::printf("],\"resolved_spec\":\"%s\"}\n", json_escape(resolved_yaml).c_str());
  } else {
    std::printf("What will run:\n");
    for (const auto& [key, value] : check.plan) std::printf("  %-11s %s\n", key.c_str(), value.c_str());
    if (check.ok()) {
      std::printf("\nResolved run spec:\n%s\ncheck-config: OK\n", resolved_yaml.c_str());
    } else {
      std::fprintf(stderr, "\ncheck-config: %zu problem%s found:\n", check.problems.size(),
                   check.problems.size() == 1 ? "" : "s");
      for (const Problem& p : check.problems) std::fprintf(stderr, "  - %s\n", p.to_string().c_str());
    }
  }
  return check.ok() ? 0 : 2;
}

}  // namespace gencast::app
