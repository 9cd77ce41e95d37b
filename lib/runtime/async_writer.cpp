#include "runtime/async_writer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace gencast {

std::string slow_writer_hint(double waited_seconds, const std::string& sink_hint) {
  if (!(waited_seconds > 1.0)) return "";
  char waited[32];
  std::snprintf(waited, sizeof waited, "%.1f", waited_seconds);
  return std::string("the output writer is the bottleneck (the forecast waited ") + waited +
         " s for it)" +
         (sink_hint.empty() ? "" : "; " + sink_hint);
}

AsyncForecastWriter::AsyncForecastWriter(std::unique_ptr<ForecastSink> sink, size_t depth)
    : sink_(std::move(sink)), depth_(depth == 0 ? 1 : depth), thread_([this] { run(); }) {
  if (!sink_) throw std::invalid_argument("AsyncForecastWriter: no sink");
}

AsyncForecastWriter::~AsyncForecastWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    queue_.clear();
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AsyncForecastWriter::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop requested and nothing left
    Item item = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    try {
      sink_->write_step(item.member, item.lead, item.fields.ptr());
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      busy_ = false;
      changed_.notify_all();
      continue;
    }
    lock.lock();
    if (free_.size() < depth_ + 1) free_.push_back(std::move(item.fields));
    busy_ = false;
    changed_.notify_all();
  }
}

ArrayF AsyncForecastWriter::take_buffer(const Shape& shape) {
  std::lock_guard<std::mutex> lock(mutex_);
  while (!free_.empty()) {
    ArrayF a = std::move(free_.back());
    free_.pop_back();
    if (a.shape == shape) return a;
  }
  return ArrayF(shape);
}

void AsyncForecastWriter::rethrow_if_failed() {
  if (error_) std::rethrow_exception(error_);
}

void AsyncForecastWriter::write_step(int member_index, int lead_index, ArrayF fields) {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto start = std::chrono::steady_clock::now();
  changed_.wait(lock, [this] { return queue_.size() < depth_ || error_; });
  rethrow_if_failed();
  // Waiting here means the forecast runs at the writer's pace, not the GPU's.
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!warned_slow_) {
    const std::string hint = slow_writer_hint(waited, sink_->slow_write_hint());
    if (!hint.empty()) {
      warned_slow_ = true;
      spdlog::warn("{}", hint);
    }
  }
  queue_.push_back(Item{member_index, lead_index, std::move(fields)});
  changed_.notify_all();
}

void AsyncForecastWriter::drain_and_stop() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return (queue_.empty() && !busy_) || error_; });
    stop_ = true;
    if (error_) queue_.clear();
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AsyncForecastWriter::close() {
  drain_and_stop();
  rethrow_if_failed();
  sink_->close();
}

void AsyncForecastWriter::suspend() {
  drain_and_stop();
  if (error_) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      spdlog::warn("writing the last steps failed: {}", e.what());
    }
  }
  sink_->suspend();
}

}  // namespace gencast
