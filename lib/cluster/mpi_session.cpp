#include "cluster/mpi_session.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <thread>

#include "core/error.h"
#include "core/log.h"

namespace gencast {

void mpi_check(int status, const char* what) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw RuntimeFailure(std::string("MPI: ") + what + " failed: " + std::string(text, static_cast<size_t>(length)));
}

void mpi_wait_gently(MPI_Request& request) {
  // Short sleeps keep the latency of a phase's end well under a second
  // while a waiting rank uses next to no CPU.
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    int done = 0;
    mpi_check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
  }
}

MpiSession::MpiSession() : uncaught_at_start_(std::uncaught_exceptions()) {
  int provided = 0;
  int argc = 0;
  char** argv = nullptr;
  mpi_check(MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  serialized_ = provided >= MPI_THREAD_SERIALIZED;
  MPI_Comm_rank(MPI_COMM_WORLD, &place_.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &place_.size);
  MPI_Comm node = MPI_COMM_NULL;
  mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, place_.rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  MPI_Comm_rank(node, &place_.local_rank);
  MPI_Comm_size(node, &place_.local_size);
  MPI_Comm_free(&node);
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(host, &length);
  place_.node.assign(host, static_cast<size_t>(length));
  place_.nodes = static_cast<int>(allreduce(place_.local_rank == 0 ? 1 : 0, MPI_SUM));
  if (place_.size > 1) set_log_rank(place_.rank, place_.size);
  spdlog::debug("MPI rank {} of {} on {} (node-local {} of {}), thread level {}", place_.rank,
                place_.size, place_.node, place_.local_rank, place_.local_size, provided);
}

MpiSession::~MpiSession() {
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    // Last resort: this rank leaves the protocol mid-way; end the job rather
    // than leave the others waiting.
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
}

std::vector<int64_t> MpiSession::allreduce(std::vector<int64_t> values, MPI_Op op) const {
  std::vector<int64_t> out(values.size());
  MPI_Request request = MPI_REQUEST_NULL;
  mpi_check(MPI_Iallreduce(values.data(), out.data(), static_cast<int>(values.size()), MPI_INT64_T,
                           op, comm(), &request),
            "MPI_Iallreduce");
  mpi_wait_gently(request);
  return out;
}

int64_t MpiSession::allreduce(int64_t value, MPI_Op op) const {
  return allreduce(std::vector<int64_t>{value}, op).front();
}

std::vector<std::string> MpiSession::gather(const std::string& text) const {
  const int length = static_cast<int>(text.size());
  std::vector<int> lengths(root() ? static_cast<size_t>(size()) : 0);
  mpi_check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, comm()), "MPI_Gather");
  std::vector<int> offsets(lengths.size());
  int total = 0;
  for (size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::string all(static_cast<size_t>(total), '\0');
  mpi_check(MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                        MPI_CHAR, 0, comm()),
            "MPI_Gatherv");
  std::vector<std::string> out;
  for (size_t r = 0; r < lengths.size(); ++r)
    out.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(lengths[r])));
  return out;
}

}  // namespace gencast
