"""Writes the small seed inputs of the fuzz harnesses that are not fixtures
themselves (fuzz/seeds.txt lists every seed). Run with /usr/bin/python3 from
the repository root; the outputs are checked in.

  fuzz/seeds/source_6x10.nc   the tiny fixture input cut to a 6 x 10 grid (36
                              degrees), 2 frames, zlib in small chunks, with
                              variable-length string attributes like the
                              fixture's: a valid input of a few dozen KB, so
                              mutations reach the chunk index, the filters, the
                              global heap and the field reads.
  fuzz/seeds/*.npy            single .npy members (header + data).
"""
import io

import netCDF4
import numpy as np
import xarray as xr

src = xr.open_dataset("tests/data/gencast_tiny/source_tiny.nc", decode_times=False)
small = src.isel(lat=slice(0, None, 9), lon=slice(0, None, 9), time=slice(0, 2))
encoding = {v: {"zlib": True, "complevel": 4,
                "chunksizes": tuple(min(7, n) if d == "level" else (n if d in ("lat", "lon") else 1)
                                   for d, n in small[v].sizes.items())} for v in small.data_vars}
small.to_netcdf("fuzz/seeds/source_6x10.nc", format="NETCDF4", encoding=encoding)
with netCDF4.Dataset("fuzz/seeds/source_6x10.nc", "a") as nc:
    for v in nc.variables.values():
        if "coordinates" in v.ncattrs():
            text = v.getncattr("coordinates")
            v.delncattr("coordinates")
            v.setncattr_string("coordinates", text)

for name, array in {"f32_2x3": np.arange(6, dtype="<f4").reshape(2, 3),
                    "unicode_scalar": np.array("splash_mha"),
                    "i64_scalar": np.array(16, dtype="<i8")}.items():
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    open("fuzz/seeds/%s.npy" % name, "wb").write(buf.getvalue())
