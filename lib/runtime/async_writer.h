// Writing forecast steps in the background, to any ForecastSink: compressing and writing a 0.25°
// member-step (84 fields of 1 M points) takes seconds of CPU, about as long as
// the GPU needs for the next step, so the runner hands finished steps to a
// writer thread and carries on. At most `depth` steps wait in the queue (the
// runner blocks beyond that, bounding host memory). A write error is re-thrown
// on the runner's next call (or on close), never lost.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/array.h"
#include <memory>

#include "io/forecast_sink.h"

namespace gencast {

// The one-time warning when the runner waited `waited_seconds` to queue a
// step ("" below 1 s: a short wait is normal at the end of a member);
// `sink_hint` is the sink's own advice (ForecastSink::slow_write_hint).
std::string slow_writer_hint(double waited_seconds, const std::string& sink_hint);

class AsyncForecastWriter {
 public:
  // Takes ownership of any sink; writes go to it from a thread of their own.
  explicit AsyncForecastWriter(std::unique_ptr<ForecastSink> sink, size_t depth = 2);
  // Stops the thread; the underlying writer removes its temporary file unless
  // close() succeeded.
  ~AsyncForecastWriter();
  AsyncForecastWriter(const AsyncForecastWriter&) = delete;
  AsyncForecastWriter& operator=(const AsyncForecastWriter&) = delete;

  // Queues a copy-free handover of `fields` ([n_grid, channels], physical).
  void write_step(int member_index, int lead_index, ArrayF fields);
  // An array of `shape` for the next step, recycled from a written step when
  // possible (a 0.25 deg step is 350 MB: fresh memory costs page faults).
  ArrayF take_buffer(const Shape& shape);
  // Waits for every queued step, then closes and renames the file.
  void close();
  // After an interrupt: writes the steps already queued, then suspends the
  // sink (ForecastSink::suspend keeps its file for --resume). A write error
  // met meanwhile is logged, not thrown: what was recorded stays valid.
  void suspend();

 private:
  struct Item {
    int member, lead;
    ArrayF fields;
  };
  void run();
  void rethrow_if_failed();
  void drain_and_stop();  // waits for the queue (or an error), stops the thread

  std::unique_ptr<ForecastSink> sink_;
  size_t depth_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  std::vector<ArrayF> free_;  // written steps' arrays, for reuse
  bool stop_ = false;
  bool warned_slow_ = false;  // the "writer is the bottleneck" hint is given once
  bool busy_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace gencast
