// Ctrl-C / SIGTERM / SIGHUP / SIGQUIT handling for long runs. The first
// signal asks the run to stop at the next safe point (the next denoiser
// call): workers throw Interrupted, the steps already computed are written,
// and a resumable output (NetCDF) keeps its partial file for `--resume`
// (runtime/forecast_runner.cpp says so in the message); other outputs delete
// their temporary file. A second signal ends the process at once (exit
// 128 + signal); the partial file then holds every step its journal
// recorded, like after a kill -9.
//
// Ctrl-C is treated like SIGTERM, partial file kept: an interactive user who
// stops a long run by mistake loses nothing, and the next run to the same
// output says what was found and offers --resume or --overwrite.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

namespace gencast {

// A run stopped by a signal. Exit code 1, like any runtime failure.
class Interrupted : public RuntimeFailure {
 public:
  explicit Interrupted(std::string signal_name);
  // "SIGTERM", "SIGINT (Ctrl-C)", ...
  const std::string& signal_name() const { return signal_name_; }

 private:
  std::string signal_name_;
};

void install_interrupt_handlers();
bool interrupt_requested();
// Throws Interrupted when a stop was requested (a signal, or the stop poll).
void throw_if_interrupted();

// An extra reason to stop, polled by throw_if_interrupted (between denoiser
// calls, from any worker thread, so it must be thread-safe): "" = go on,
// else what interrupts the run (Interrupted's signal_name, e.g. "the
// failure of rank 3"), which stops it like a signal: a resumable output
// keeps its partial file. MPI ranks stop this way when another rank failed.
// An empty function removes it.
void set_stop_poll(std::function<std::string()> poll);

}  // namespace gencast
