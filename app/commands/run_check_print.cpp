#include "commands/run_check_print.h"

#include <cstdio>

#include "core/json.h"

namespace gencast::app {

int print_run_check(const RunCheck& check, const std::string& resolved_yaml, bool json) {
  if (json) {
    JsonWriter out;
    out.begin_object().key("ok").value(check.ok()).key("plan").begin_object();
    for (const auto& [key, value] : check.plan) out.key(key).value(value);
    out.end_object().key("problems").begin_array();
    for (const Problem& p : check.problems) {
      out.begin_object()
          .key("file").value(p.file)
          .key("field").value(p.field)
          .key("expected").value(p.expected)
          .key("found").value(p.found)
          .key("hint").value(p.hint)
          .end_object();
    }
    out.end_array().key("resolved_spec").value(resolved_yaml).end_object();
    std::printf("%s\n", out.str().c_str());
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
