// Where the running program's data lives, found at run time so that the
// binary can be moved anywhere (no build or source path is compiled in).
//
// The layout, the same in the build tree and in an install prefix P:
//   P/bin/gencast-run                   (build tree: build/app/gencast-run)
//   P/share/gencast-run/configs/        the example run specs
//   P/share/gencast-run/tests/data/gencast_tiny/
//                                       the tiny model, its statistics and input:
//                                       what the built-in demo and make-demo read
// The data folder mirrors the source tree's relative paths, so the specs in
// configs/ work unchanged from all three places. The build copies the files
// into build/share/gencast-run; `cmake --install` puts them under P/share.
#pragma once

#include <filesystem>

namespace gencast {

// The folder of the running executable (/proc/self/exe, symlinks resolved).
// Empty when /proc is not available.
std::filesystem::path executable_dir();

// <executable_dir>/../share/gencast-run, normalized. The build tree's
// executables sit one folder below build/, so this is build/share/gencast-run
// for them (tests included).
std::filesystem::path bundled_data_dir();

}  // namespace gencast
