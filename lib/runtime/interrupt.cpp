#include "runtime/interrupt.h"

#include <atomic>
#include <csignal>
#include <cstdlib>

#include "core/error.h"

namespace gencast {
namespace {

std::atomic<int> g_signals{0};

extern "C" void on_signal(int sig) {
  if (g_signals.fetch_add(1) >= 1) std::_Exit(128 + sig);
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() { return g_signals.load() > 0; }

void throw_if_interrupted() {
  if (interrupt_requested())
    throw RuntimeFailure("interrupted: stopped before finishing; no output file was written");
}

}  // namespace gencast
