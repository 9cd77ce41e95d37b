// Test helper: an editable in-memory copy of a NetCDF file (root group only),
// used to build input-file variants (no batch dim, flipped latitude, rolled
// longitude, missing variables, ...) at test time and write them with the
// netCDF C API into a temporary folder.
//
// Invariants: every value is held as double (exact for the float32/int
// values of the fixtures, NaN preserved); attributes are kept (numeric ones
// by their first value). Not part of the library.
#pragma once

#include "test_temp_dir.h"

#include <netcdf.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gencast::testing {

struct TestNcVar {
  std::string name;
  std::vector<std::string> dims;
  int type = NC_FLOAT;
  std::vector<double> values;
  std::map<std::string, std::string> text_attrs;
  std::map<std::string, double> number_attrs;  // first value; written in the variable's type
                                               // (_FillValue) or as double (others)
  // Storage: chunk shape (empty = netCDF's default), deflate level (0 = none),
  // shuffle, Fletcher-32 checksums.
  std::vector<size_t> chunks;
  int deflate = 0;
  bool shuffle = false;
  bool fletcher32 = false;
};

struct TestNcFile {
  std::vector<std::pair<std::string, size_t>> dims;  // name, length (file order)
  std::vector<TestNcVar> vars;

  size_t dim_size(const std::string& dim) const;
  std::vector<size_t> var_sizes(const TestNcVar& var) const;
  TestNcVar& var(const std::string& name);  // throws if absent
  void remove_var(const std::string& name);

  // Reads every variable of the root group of `path`.
  static TestNcFile load(const std::string& path);
  // Writes a NetCDF-4 file (clobbering).
  void write(const std::string& path) const;

  // For every variable with `dim`: new[i] = old[old_index[i]] along `dim`;
  // the dimension gets old_index.size() entries. Covers flips, rolls, subsets
  // and duplicated entries.
  void select_along(const std::string& dim, const std::vector<size_t>& old_index);
  // Removes a length-1 dimension from the file and every variable.
  void drop_dim(const std::string& dim);
  // Reorders the dimensions of one variable (data permuted accordingly).
  void transpose_var(const std::string& name, const std::vector<std::string>& new_dims);
};


// Paths of the fixtures.
std::string tiny_fixture(const std::string& name);

}  // namespace gencast::testing
