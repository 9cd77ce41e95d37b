#include "io/forecast_chunk_reader.h"

#include <algorithm>

#include "io/hdf5_chunk_reader.h"

namespace gencast {

struct ForecastChunkReader::Opened {
  std::string variable;
  Hdf5ChunkReader::Dataset dataset;
};

ForecastChunkReader::ForecastChunkReader(const std::string& path, const ForecastFileInfo& info)
    : path_(path), spec_(info.spec) {}

ForecastChunkReader::~ForecastChunkReader() = default;

bool ForecastChunkReader::compatible_with(const ForecastOutputSpec& out, std::string& why) {
  why.clear();
  if (out.layout != spec_.layout || out.ensemble_dim != spec_.ensemble_dim) why = "another layout";
  else if (out.compression != spec_.compression) why = "another compression level";
  else if (out.keep_bits != spec_.keep_bits) why = "another keep_bits";
  else if (out.channels != spec_.channels) why = "other variables";
  if (!why.empty()) return false;
  try {
    reader_ = std::make_unique<Hdf5ChunkReader>(path_);
    // The form our writer stores for these settings: one lat/lon field per
    // chunk, shuffle then deflate when compressed, float32.
    const std::vector<int> filters =
        spec_.compression > 0 ? std::vector<int>{kHdf5ShuffleFilter, kHdf5DeflateFilter} : std::vector<int>{};
    const uint64_t field = static_cast<uint64_t>(spec_.lat.size() * spec_.lon.size());
    for (const ChannelSlot& channel : spec_.channels) {
      auto it = std::find_if(datasets_.begin(), datasets_.end(),
                             [&](const auto& d) { return d->variable == channel.variable; });
      if (it == datasets_.end()) {
        auto opened = std::make_unique<Opened>();
        opened->variable = channel.variable;
        opened->dataset = reader_->open_dataset(channel.variable);
        uint64_t chunk_values = 1;
        for (uint64_t c : opened->dataset.chunk) chunk_values *= c;
        if (!opened->dataset.float32_le || chunk_values != field || opened->dataset.filters != filters) {
          why = channel.variable + " is not stored as this tool stores it";
          break;
        }
        datasets_.push_back(std::move(opened));
        it = datasets_.end() - 1;
      }
      channel_dataset_.push_back(static_cast<int>(it - datasets_.begin()));
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (why.empty()) return true;
  // Nothing stays open: the caller reads the file through netCDF instead.
  datasets_.clear();
  channel_dataset_.clear();
  reader_.reset();
  return false;
}

void ForecastChunkReader::read_step(int member_index, int lead_index,
                                    std::vector<ForecastChunk>& chunks) {
  if (!reader_ || channel_dataset_.size() != spec_.channels.size())
    throw std::logic_error("ForecastChunkReader::read_step before a successful compatible_with");
  chunks.resize(spec_.channels.size());
  for (size_t c = 0; c < spec_.channels.size(); ++c) {
    const Opened& d = *datasets_[static_cast<size_t>(channel_dataset_[c])];
    reader_->read_chunk(d.dataset,
                        forecast_chunk_offset(spec_.layout, spec_.channels[c].level, member_index, lead_index),
                        chunks[c].bytes, chunks[c].filter_mask);
  }
}

}  // namespace gencast
