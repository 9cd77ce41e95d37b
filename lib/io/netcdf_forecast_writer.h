// The NetCDF-4 forecast sink (io/forecast_sink.h): writes an ensemble forecast, one (member, lead time) field set
// at a time, in one of two layouts:
//
//  - OutputLayout::predictions (default): the reference's `predictions`
//    dataset, so existing xarray notebooks work unchanged. Dims
//    (sample, batch=1, time, [level,] lat, lon); `time` = lead time (CF
//    int64 hours, decodes to timedelta64); coordinate `datetime(batch, time)`
//    = valid time; scalar coordinate `forecast_reference_time` = init time.
//  - OutputLayout::wb2: WeatherBench2's forecast convention. Dims
//    (time=1 (init), prediction_timedelta, number, [level,] latitude, longitude).
//
// Invariants:
//  - The final path appears only after close() succeeded: data goes to
//    "<path>.partial" in the same folder (io/partial_output.h) and is renamed
//    at the end; a writer destroyed without close() or suspend() deletes its
//    temporary file. The caller keeps a second writer off the same path
//    (io/output_lock.h).
//  - Resumable: flush() makes the steps written so far durable, suspend()
//    keeps the temporary file, and the reopening constructor continues it.
//  - Values are stored bit-exact as float32 (lossless shuffle + deflate)
//    unless keep_bits asks for BitRound; one chunk = one member x one lead
//    time x one level x the whole lat/lon field.
//  - The file is a plain NetCDF-4 file: netCDF-C defines it (dims, coordinates,
//    attributes, variables with their chunking, shuffle and deflate filters,
//    the quantize attribute), then the data chunks are encoded exactly as
//    those filters would (io/chunk_codec.h) -- the fields of a step on every
//    core at once -- and stored with HDF5 direct chunk writes
//    (io/hdf5_chunk_file.h). Any netCDF/HDF5 reader decodes them; no plugin.
//  - Members and lead times may be written in any order, each exactly once.
//  - Not thread-safe (neither is netCDF-C): use one writer from one thread;
//    write_step runs its own parallel loops (core/parallel.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/forecast_sink.h"

namespace gencast {


// Problems with the output path: empty, a folder, parent folder missing or
// not writable. Tries to create (and removes) a probe file in the folder, so
// that read-only mounts are caught even when running as root.
void check_output_path(const std::string& path, ProblemList& problems);

// `output.variables` names only target variables (the message lists the valid
// names). Shared by every sink's option check.
void check_output_variables(const ForecastOutputSpec& spec,
                            const std::vector<std::string>& target_variables,
                            ProblemList& problems);

// Every user-facing option problem: the path (as above), `variables` not in
// `target_variables` (the message lists the valid names), compression outside
// 0-9, keep_bits outside 0-23, an ensemble_dim that is not a valid name or
// clashes with another name.
void check_output_options(const ForecastOutputSpec& spec,
                          const std::vector<std::string>& target_variables, ProblemList& problems);

class Hdf5ChunkFile;

// One field's chunk as a file of ours stores it: the filtered bytes and the
// HDF5 filter mask. What `merge` copies from a part to the merged file
// without decoding it (io/forecast_chunk_reader.h).
struct ForecastChunk {
  std::vector<uint8_t> bytes;
  uint32_t filter_mask = 0;
};

// The first element of the chunk holding (member, lead, level index; -1 for
// a surface variable) in a forecast variable of `layout`: each chunk is one
// lat/lon field.
std::vector<uint64_t> forecast_chunk_offset(OutputLayout layout, int level, int member, int lead);

// Where write_step's time went, summed over the steps written (seconds).
struct WriterTimings {
  double gather = 0;  // fields -> one contiguous lat/lon field per variable and level
  double encode = 0;  // BitRound, shuffle and deflate, on every core
  double store = 0;   // HDF5 direct chunk writes (one thread)
  int64_t steps = 0;
  int64_t raw_bytes = 0;     // float32 bytes of the fields written
  int64_t stored_bytes = 0;  // chunk bytes handed to HDF5
};

class NetcdfForecastWriter final : public ForecastSink {
 public:
  // Validates the spec (InputError for user options, std::invalid_argument
  // for an inconsistent grid/channel description), creates the temporary
  // file, defines dims, variables and attributes and writes the coordinates.
  explicit NetcdfForecastWriter(ForecastOutputSpec spec);
  // Reopens the temporary file an interrupted writer of the same `spec` left
  // (its structure checked against `spec`) to write the steps it lacks;
  // `written` ([member][lead], 1 = the file holds the step) may only be
  // trusted for steps whose data were flushed. The steps marked 0 may be
  // written (again), once each. Appends a line to the history attribute.
  NetcdfForecastWriter(ForecastOutputSpec spec, std::vector<unsigned char> written);
  // Removes the temporary file unless close() succeeded.
  ~NetcdfForecastWriter();
  NetcdfForecastWriter(const NetcdfForecastWriter&) = delete;
  NetcdfForecastWriter& operator=(const NetcdfForecastWriter&) = delete;

  // fields: [n_lat * n_lon, channels.size()] float32, grid-node-major
  // (node = ilat * n_lon + ilon), physical units. Indices are positions in
  // member_ids / lead_hours. Each (member, lead) may be written once.
  void write_step(int member_index, int lead_index, const float* fields) override;

  // The same step as chunks already encoded with this file's settings (its
  // compression and keep_bits; chunks[c] = channel c, every channel written):
  // stored as they are. For copying between files of the same settings.
  void write_chunks(int member_index, int lead_index, const std::vector<ForecastChunk>& chunks);

  // Makes everything written so far durable (HDF5 metadata flushed, fsync):
  // a later process can read the temporary file even after a kill -9.
  void flush() override;
  // Flushes, closes and keeps the temporary file for a later reopening.
  void suspend() override;

  // Checks that every (member, lead) was written, flushes, closes and renames
  // the file to its final path. On any failure the temporary file is deleted
  // and RuntimeFailure is thrown.
  void close() override;

  const std::string& path() const override { return spec_.path; }
  // What to try when even compression on every core is slower than the
  // forecast ("" when compression is off).
  std::string slow_write_hint() const override;
  const WriterTimings& timings() const { return timings_; }
  const std::string& temp_path() const { return temp_path_; }
  // The variables written, in file order (channel order, filtered).
  const std::vector<std::string>& variables() const { return variable_names_; }

 private:
  // One written channel: its column in `fields`, target variable and level.
  struct ChannelTarget {
    int channel = 0;
    std::string variable;
    int level = -1;
    int dataset = -1;  // Hdf5ChunkFile handle
  };

  void prepare();  // validation, variable names, the temporary path
  void define_file();
  void reopen_file();
  void add_targets(const std::string& variable);
  void open_for_chunks();
  void encode_targets(int64_t begin, int64_t end);
  std::vector<uint64_t> chunk_offset(const ChannelTarget& target, int member, int lead) const;
  unsigned char& unwritten_step(int member_index, int lead_index, const char* caller);
  void discard() noexcept;

  ForecastOutputSpec spec_;
  std::string temp_path_;
  int ncid_ = -1;                      // open only while the file is defined
  std::unique_ptr<Hdf5ChunkFile> h5_;  // open from then until close()
  bool closed_ = false;  // closed (published) or suspended: nothing to delete
  std::vector<std::string> variable_names_;
  std::vector<ChannelTarget> targets_;
  // Targets in the order the parallel encode visits them: level by level,
  // so that each thread's contiguous range mixes cheap and costly variables.
  std::vector<int> encode_order_;
  std::vector<unsigned char> written_;  // [member][lead]
  // Per target a contiguous lat/lon field, then (encode_targets) in place the
  // bytes its chunk stores: stored_[t].size of them, with that filter mask.
  std::vector<float> scratch_;
  struct StoredChunk {
    size_t size = 0;
    uint32_t filter_mask = 0;
  };
  std::vector<StoredChunk> stored_;
  WriterTimings timings_;
};

}  // namespace gencast
