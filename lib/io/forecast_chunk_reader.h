// The stored chunks of a forecast file of ours, read as they are (not
// decoded): `merge` copies them into a merged file whose settings are the
// same (layout, compression, keep_bits, channels), so that combining parts
// costs file I/O only instead of inflating and deflating every field again
// (the merge of an MPI run happens on rank 0 alone).
//
// Invariants: the file is only read; a file whose stored form is not the one
// our writer produces for its settings is never "compatible", so the caller
// falls back to decoding (ForecastReader) and nothing wrong is copied.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/forecast_reader.h"
#include "io/netcdf_forecast_writer.h"

namespace gencast {

class Hdf5ChunkReader;

class ForecastChunkReader {
 public:
  // `info` = ForecastReader(path).info() of the same file.
  ForecastChunkReader(const std::string& path, const ForecastFileInfo& info);
  ~ForecastChunkReader();
  ForecastChunkReader(const ForecastChunkReader&) = delete;
  ForecastChunkReader& operator=(const ForecastChunkReader&) = delete;

  // Whether this file's chunks can be stored unchanged in a NetCDF file
  // written with `out` (same layout, compression, keep_bits and channels, one
  // field per chunk, our filters); else "" is false and `why` says why.
  bool compatible_with(const ForecastOutputSpec& out, std::string& why);

  // The chunks of (member, lead), one per channel in channel order.
  void read_step(int member_index, int lead_index, std::vector<ForecastChunk>& chunks);

 private:
  std::string path_;
  ForecastOutputSpec spec_;
  std::unique_ptr<Hdf5ChunkReader> reader_;
  std::vector<int> channel_dataset_;  // per channel: index into datasets_
  struct Opened;
  std::vector<std::unique_ptr<Opened>> datasets_;
};

}  // namespace gencast
