// Test helper implementation: in-memory NetCDF copies and temporary folders
// (see test_input_files.h). No TEST_CASEs here.
#include "test_input_files.h"

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "io/netcdf_util.h"

namespace gencast::testing {
namespace {

void check(int status, const std::string& what) {
  if (status != NC_NOERR) throw std::runtime_error(what + ": " + nc_strerror(status));
}

std::vector<size_t> strides_of(const std::vector<size_t>& sizes) {
  std::vector<size_t> strides(sizes.size(), 1);
  for (size_t i = sizes.size(); i-- > 1;) strides[i - 1] = strides[i] * sizes[i];
  return strides;
}

size_t product(const std::vector<size_t>& sizes) {
  size_t n = 1;
  for (size_t s : sizes) n *= s;
  return n;
}

}  // namespace

size_t TestNcFile::dim_size(const std::string& dim) const {
  for (const auto& d : dims)
    if (d.first == dim) return d.second;
  throw std::runtime_error("test file has no dimension " + dim);
}

std::vector<size_t> TestNcFile::var_sizes(const TestNcVar& v) const {
  std::vector<size_t> sizes;
  for (const auto& d : v.dims) sizes.push_back(dim_size(d));
  return sizes;
}

TestNcVar& TestNcFile::var(const std::string& name) {
  for (auto& v : vars)
    if (v.name == name) return v;
  throw std::runtime_error("test file has no variable " + name);
}

void TestNcFile::remove_var(const std::string& name) {
  for (auto it = vars.begin(); it != vars.end(); ++it)
    if (it->name == name) {
      vars.erase(it);
      return;
    }
  throw std::runtime_error("test file has no variable " + name);
}

TestNcFile TestNcFile::load(const std::string& path) {
  NcFile file = NcFile::open_read(path);
  TestNcFile out;
  int ndims = 0;
  check(nc_inq_ndims(file.id(), &ndims), "ndims");
  for (int d = 0; d < ndims; ++d) {
    char name[NC_MAX_NAME + 1] = {};
    size_t len = 0;
    check(nc_inq_dim(file.id(), d, name, &len), "dim");
    out.dims.emplace_back(name, len);
  }
  for (const auto& name : nc_var_names(file.id())) {
    const NcVarInfo info = *nc_find_var(file.id(), name);
    TestNcVar v;
    v.name = name;
    v.dims = info.dims;
    v.type = info.type;
    v.values = nc_read_all_f64(info);
    int natts = 0;
    check(nc_inq_varnatts(file.id(), info.varid, &natts), "natts");
    for (int a = 0; a < natts; ++a) {
      char att[NC_MAX_NAME + 1] = {};
      check(nc_inq_attname(file.id(), info.varid, a, att), "attname");
      if (auto text = nc_text_attr(file.id(), info.varid, att)) v.text_attrs[att] = *text;
      if (auto number = nc_number_attr(file.id(), info.varid, att)) v.number_attrs[att] = *number;
    }
    out.vars.push_back(std::move(v));
  }
  return out;
}

void TestNcFile::write(const std::string& path) const {
  int ncid = -1;
  check(nc_create(path.c_str(), NC_NETCDF4 | NC_CLOBBER, &ncid), "create " + path);
  std::map<std::string, int> dim_ids;
  for (const auto& [name, len] : dims) {
    int id = -1;
    check(nc_def_dim(ncid, name.c_str(), len, &id), "def_dim " + name);
    dim_ids[name] = id;
  }
  std::vector<int> var_ids;
  for (const auto& v : vars) {
    std::vector<int> ids;
    for (const auto& d : v.dims) ids.push_back(dim_ids.at(d));
    int id = -1;
    check(nc_def_var(ncid, v.name.c_str(), v.type, static_cast<int>(ids.size()), ids.data(), &id),
          "def_var " + v.name);
    if (!v.chunks.empty())
      check(nc_def_var_chunking(ncid, id, NC_CHUNKED, v.chunks.data()), "chunking " + v.name);
    if (v.deflate > 0 || v.shuffle)
      check(nc_def_var_deflate(ncid, id, v.shuffle ? 1 : 0, v.deflate > 0 ? 1 : 0, v.deflate),
            "deflate " + v.name);
    if (v.fletcher32) check(nc_def_var_fletcher32(ncid, id, NC_FLETCHER32), "fletcher32 " + v.name);
    for (const auto& [att, text] : v.text_attrs)
      check(nc_put_att_text(ncid, id, att.c_str(), text.size(), text.c_str()), "att " + att);
    for (const auto& [att, value] : v.number_attrs) {
      // netCDF-4 requires _FillValue in the variable's own type.
      const int type = att == "_FillValue" ? v.type : NC_DOUBLE;
      check(nc_put_att_double(ncid, id, att.c_str(), type, 1, &value), "att " + att);
    }
    var_ids.push_back(id);
  }
  check(nc_enddef(ncid), "enddef");
  for (size_t i = 0; i < vars.size(); ++i)
    check(nc_put_var_double(ncid, var_ids[i], vars[i].values.data()), "put " + vars[i].name);
  check(nc_close(ncid), "close " + path);
}

void TestNcFile::select_along(const std::string& dim, const std::vector<size_t>& old_index) {
  for (auto& v : vars) {
    int axis = -1;
    for (size_t i = 0; i < v.dims.size(); ++i)
      if (v.dims[i] == dim) axis = static_cast<int>(i);
    if (axis < 0) continue;
    const std::vector<size_t> old_sizes = var_sizes(v);
    std::vector<size_t> new_sizes = old_sizes;
    new_sizes[static_cast<size_t>(axis)] = old_index.size();
    const std::vector<size_t> old_strides = strides_of(old_sizes);
    const std::vector<size_t> new_strides = strides_of(new_sizes);
    std::vector<double> out(product(new_sizes));
    for (size_t flat = 0; flat < out.size(); ++flat) {
      size_t rem = flat, src = 0;
      for (size_t k = 0; k < new_sizes.size(); ++k) {
        size_t idx = rem / new_strides[k];
        rem %= new_strides[k];
        if (k == static_cast<size_t>(axis)) idx = old_index[idx];
        src += idx * old_strides[k];
      }
      out[flat] = v.values[src];
    }
    v.values = std::move(out);
  }
  for (auto& d : dims)
    if (d.first == dim) d.second = old_index.size();
}

void TestNcFile::drop_dim(const std::string& dim) {
  if (dim_size(dim) != 1) throw std::runtime_error("drop_dim needs a length-1 dimension");
  for (auto& v : vars)
    for (auto it = v.dims.begin(); it != v.dims.end();)
      it = *it == dim ? v.dims.erase(it) : it + 1;
  for (auto it = dims.begin(); it != dims.end(); ++it)
    if (it->first == dim) {
      dims.erase(it);
      break;
    }
}

void TestNcFile::transpose_var(const std::string& name, const std::vector<std::string>& new_dims) {
  TestNcVar& v = var(name);
  const std::vector<size_t> old_sizes = var_sizes(v);
  const std::vector<size_t> old_strides = strides_of(old_sizes);
  std::vector<size_t> perm;  // new axis k reads old axis perm[k]
  for (const auto& d : new_dims)
    for (size_t i = 0; i < v.dims.size(); ++i)
      if (v.dims[i] == d) perm.push_back(i);
  if (perm.size() != v.dims.size()) throw std::runtime_error("transpose_var: bad dims");
  std::vector<size_t> new_sizes;
  for (size_t p : perm) new_sizes.push_back(old_sizes[p]);
  const std::vector<size_t> new_strides = strides_of(new_sizes);
  std::vector<double> out(v.values.size());
  for (size_t flat = 0; flat < out.size(); ++flat) {
    size_t rem = flat, src = 0;
    for (size_t k = 0; k < new_sizes.size(); ++k) {
      const size_t idx = rem / new_strides[k];
      rem %= new_strides[k];
      src += idx * old_strides[perm[k]];
    }
    out[flat] = v.values[src];
  }
  v.values = std::move(out);
  v.dims = new_dims;
}


std::string tiny_fixture(const std::string& name) {
  return std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/" + name;
}

}  // namespace gencast::testing
