#include "runtime/interrupt.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.h"

namespace gencast {
namespace {

std::atomic<int> g_signals{0};
std::atomic<int> g_first_signal{0};
std::mutex g_poll_mutex;
std::shared_ptr<const std::function<std::string()>> g_poll;  // guarded by g_poll_mutex

extern "C" void on_signal(int sig) {
  int none = 0;
  g_first_signal.compare_exchange_strong(none, sig);
  if (g_signals.fetch_add(1) >= 1) std::_Exit(128 + sig);
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT (Ctrl-C)";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
  }
  return "a signal";
}

}  // namespace

void install_interrupt_handlers() {
  // SIGHUP (a closed terminal or ssh session) and SIGQUIT end a run as
  // cleanly as Ctrl-C and SIGTERM.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, on_signal);
}

bool interrupt_requested() { return g_signals.load() > 0; }

Interrupted::Interrupted(std::string name)
    : RuntimeFailure("interrupted by " + name +
                     ": stopped before finishing; no output file was written"),
      signal_name_(std::move(name)) {}

void throw_if_interrupted() {
  if (interrupt_requested()) throw Interrupted(signal_name(g_first_signal.load()));
  std::shared_ptr<const std::function<std::string()>> poll;
  {
    std::lock_guard lock(g_poll_mutex);
    poll = g_poll;
  }
  if (poll) {
    const std::string reason = (*poll)();
    if (!reason.empty()) throw Interrupted(reason);
  }
}

void set_stop_poll(std::function<std::string()> poll) {
  std::lock_guard lock(g_poll_mutex);
  g_poll = poll ? std::make_shared<const std::function<std::string()>>(std::move(poll)) : nullptr;
}

}  // namespace gencast
