#!/usr/bin/env python3
"""Checks a gencast-run forecast file the way a user's notebook sees it: opened
with xarray (a real CF client), not with our own reader.

Checks: dimension names and order per layout, coordinates (lead time decodes to
timedelta64, valid/init times to datetime64, latitude ascending, CF attributes),
variable names and units, values finite everywhere except sea-surface
temperature, and SST NaN exactly where it should be: the same pattern for every
member and lead time, some NaN and some finite, and, with --nan-mask-from, the
pattern of an input file. Lossless unless --expect-keep-bits N: then every
variable says BitRound N (netCDF's attribute) and every finite value has its
low 23 - N mantissa bits zero.

Exit codes: 0 all checks pass, 1 a check failed (every failure is printed),
2 bad usage, 77 xarray is not installed (the caller reports a skip).
"""
import argparse
import sys

EXIT_FAIL, EXIT_SKIP = 1, 77  # argparse itself exits 2 on bad usage

try:
    import numpy as np
    import xarray as xr
except ImportError as exc:  # the C++ test turns this into a skip
    print(f"GENCAST_SKIP: python3 cannot import numpy/xarray ({exc})")
    sys.exit(EXIT_SKIP)

# GenCast's target variables and their ERA5 units, typed independently of the
# writer's table (lib/io/cf_metadata.cpp) so that each checks the other.
SURFACE_UNITS = {
    "2m_temperature": "K",
    "mean_sea_level_pressure": "Pa",
    "10m_u_component_of_wind": "m s-1",
    "10m_v_component_of_wind": "m s-1",
    "total_precipitation_12hr": "m",
    "sea_surface_temperature": "K",
}
LEVEL_UNITS = {
    "temperature": "K",
    "geopotential": "m2 s-2",
    "u_component_of_wind": "m s-1",
    "v_component_of_wind": "m s-1",
    "vertical_velocity": "Pa s-1",
    "specific_humidity": "kg kg-1",
}
SST = "sea_surface_temperature"
STEP = np.timedelta64(12, "h")  # one GenCast step


class Checker:
    """Collects failures so that one run reports all of them."""

    def __init__(self):
        self.failures = []

    def check(self, condition, message):
        if not condition:
            self.failures.append(message)
        return bool(condition)


def layout_names(layout, ensemble_dim):
    """(member, lead, lat, lon, level) names and the leading dims of a variable."""
    if layout == "wb2":
        member = ensemble_dim or "number"
        return dict(member=member, lead="prediction_timedelta", lat="latitude",
                    lon="longitude", level="level",
                    lead_dims=("time", "prediction_timedelta", member))
    member = ensemble_dim or "sample"
    return dict(member=member, lead="time", lat="lat", lon="lon", level="level",
                lead_dims=(member, "batch", "time"))


def expected_mask_from(path, var_name, lat, lon, c):
    """NaN mask (lat, lon) that SST must have, taken from an input file."""
    src = xr.open_dataset(path)
    lat_name = "lat" if "lat" in src.coords else "latitude"
    lon_name = "lon" if "lon" in src.coords else "longitude"
    name = var_name or (SST if SST in src else "land_sea_mask")
    if not c.check(name in src, f"{path}: no variable {name} to take the NaN mask from"):
        return None
    field = src[name]
    if name == SST:
        other = [d for d in field.dims if d not in (lat_name, lon_name)]
        mask = field.isnull().any(dim=other) if other else field.isnull()
    else:
        mask = field > 0.5  # land where the land fraction exceeds one half
    mask = mask.assign_coords({lon_name: np.mod(mask[lon_name].values, 360.0)})
    mask = mask.sortby(lat_name).sortby(lon_name).transpose(lat_name, lon_name)
    same_grid = (mask.sizes[lat_name] == lat.size and mask.sizes[lon_name] == lon.size
                 and np.allclose(mask[lat_name].values, lat, atol=1e-4)
                 and np.allclose(mask[lon_name].values, lon, atol=1e-4))
    if not c.check(same_grid, f"{path}: its lat/lon grid differs from the forecast's"):
        return None
    return mask.values.astype(bool)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--layout", choices=["predictions", "wb2"], default="predictions")
    parser.add_argument("--ensemble-dim", default="",
                        help="member dimension name (default: sample / number)")
    parser.add_argument("--expect-members", type=int)
    parser.add_argument("--expect-steps", type=int)
    parser.add_argument("--expect-levels", type=int)
    parser.add_argument("--expect-variables", help="comma-separated variable names")
    parser.add_argument("--nan-mask-from", help="input NetCDF file giving the SST NaN mask")
    parser.add_argument("--nan-mask-var", default="",
                        help="variable of --nan-mask-from: sea_surface_temperature (NaN "
                             "anywhere) or a land fraction such as land_sea_mask (> 0.5)")
    parser.add_argument("--expect-keep-bits", type=int,
                        help="output.keep_bits the file was written with (default: lossless)")
    args = parser.parse_args()

    c = Checker()
    try:
        ds = xr.open_dataset(args.path)
    except Exception as exc:  # noqa: BLE001 - any failure to open is the finding
        print(f"FAIL: {args.path}: xarray cannot open it: {exc}")
        return EXIT_FAIL
    n = layout_names(args.layout, args.ensemble_dim)

    # Global attributes.
    c.check(str(ds.attrs.get("Conventions", "")).startswith("CF-"),
            f"global attribute Conventions = {ds.attrs.get('Conventions')!r}, expected CF-x.y")
    c.check(str(ds.attrs.get("source", "")).startswith("gencast-run"),
            f"global attribute source = {ds.attrs.get('source')!r}, expected 'gencast-run ...'")

    # Variables.
    known = {**SURFACE_UNITS, **LEVEL_UNITS}
    names = list(ds.data_vars)
    c.check(names, "no data variables")
    for name in names:
        c.check(name in known, f"unexpected data variable {name!r} (not a GenCast target; "
                               "a coordinate written as data?)")
    if args.expect_variables:
        wanted = sorted(args.expect_variables.split(","))
        c.check(sorted(names) == wanted, f"variables {sorted(names)}, expected {wanted}")
    any_levels = any(name in LEVEL_UNITS for name in names)

    # Dimensions and coordinates.
    for dim in (*n["lead_dims"], n["lat"], n["lon"]) + ((n["level"],) if any_levels else ()):
        c.check(dim in ds.dims, f"missing dimension {dim!r} (dims: {dict(ds.sizes)})")
    for coord in (n["member"], n["lead"], n["lat"], n["lon"]):
        c.check(coord in ds.coords, f"missing coordinate {coord!r}")
    if c.failures:
        return report(c, args.path)

    lead = ds[n["lead"]]
    c.check(np.issubdtype(lead.dtype, np.timedelta64),
            f"{n['lead']} decodes to {lead.dtype}, expected timedelta64")
    if np.issubdtype(lead.dtype, np.timedelta64):
        values = lead.values
        c.check(np.all(values > np.timedelta64(0, "h")), f"lead times {values} not all positive")
        c.check(np.all(np.diff(values) > np.timedelta64(0, "h")), "lead times not increasing")
        c.check(np.all(values % STEP == np.timedelta64(0, "h")),
                f"lead times {values} are not multiples of 12 h")
    c.check(lead.attrs.get("standard_name") == "forecast_period",
            f"{n['lead']}: standard_name {lead.attrs.get('standard_name')!r}, expected forecast_period")
    if args.expect_steps is not None:
        c.check(lead.size == args.expect_steps, f"{lead.size} lead times, expected {args.expect_steps}")

    if args.layout == "predictions":
        c.check(ds.sizes.get("batch") == 1, f"batch has size {ds.sizes.get('batch')}, expected 1")
        ok = c.check("datetime" in ds.coords, "missing coordinate 'datetime'")
        ok = c.check("forecast_reference_time" in ds.coords,
                     "missing coordinate 'forecast_reference_time'") and ok
        if ok:
            valid, init = ds["datetime"], ds["forecast_reference_time"]
            c.check(valid.dims == ("batch", "time"), f"datetime dims {valid.dims}, expected (batch, time)")
            c.check(np.issubdtype(valid.dtype, np.datetime64),
                    f"datetime decodes to {valid.dtype}, expected datetime64")
            c.check(np.issubdtype(init.dtype, np.datetime64) and init.ndim == 0,
                    f"forecast_reference_time is {init.dtype} with dims {init.dims}, "
                    "expected a scalar datetime64")
            if np.issubdtype(valid.dtype, np.datetime64) and np.issubdtype(init.dtype, np.datetime64):
                c.check(np.array_equal(valid.values[0], init.values + lead.values),
                        "datetime != forecast_reference_time + time")
    else:
        init = ds["time"]
        c.check(init.size == 1, f"time (init) has size {init.size}, expected 1")
        c.check(np.issubdtype(init.dtype, np.datetime64),
                f"time decodes to {init.dtype}, expected datetime64")
        c.check(init.attrs.get("standard_name") == "forecast_reference_time",
                "time: standard_name should be forecast_reference_time")

    member = ds[n["member"]]
    c.check(member.attrs.get("standard_name") == "realization",
            f"{n['member']}: standard_name {member.attrs.get('standard_name')!r}, expected realization")
    c.check(np.unique(member.values).size == member.size, f"{n['member']} values are not unique")
    if args.expect_members is not None:
        c.check(member.size == args.expect_members,
                f"{member.size} members, expected {args.expect_members}")

    lat, lon = ds[n["lat"]], ds[n["lon"]]
    c.check(np.all(np.diff(lat.values) > 0), "latitude is not strictly ascending")
    c.check(lat.min() >= -90 and lat.max() <= 90, "latitude outside [-90, 90]")
    c.check(np.all(np.diff(lon.values) > 0), "longitude is not strictly increasing")
    c.check(lon.min() >= 0 and lon.max() < 360, "longitude outside [0, 360)")
    c.check(lat.attrs.get("units") == "degrees_north", f"lat units {lat.attrs.get('units')!r}")
    c.check(lon.attrs.get("units") == "degrees_east", f"lon units {lon.attrs.get('units')!r}")
    if any_levels:
        level = ds[n["level"]]
        c.check(np.issubdtype(level.dtype, np.integer), f"level dtype {level.dtype}, expected integer")
        c.check(level.attrs.get("units") == "hPa", f"level units {level.attrs.get('units')!r}")
        if args.expect_levels is not None:
            c.check(level.size == args.expect_levels, f"{level.size} levels, expected {args.expect_levels}")

    expected_mask = None
    if args.nan_mask_from and SST in names:
        expected_mask = expected_mask_from(args.nan_mask_from, args.nan_mask_var,
                                           lat.values, lon.values, c)

    # Per variable: dims, units, values. One member at a time to bound memory.
    for name in names:
        var = ds[name]
        dims = n["lead_dims"] + ((n["level"],) if name in LEVEL_UNITS else ()) + (n["lat"], n["lon"])
        c.check(var.dims == dims, f"{name}: dims {var.dims}, expected {dims}")
        c.check(var.dtype == np.float32, f"{name}: dtype {var.dtype}, expected float32")
        c.check(var.attrs.get("units") == known.get(name),
                f"{name}: units {var.attrs.get('units')!r}, expected {known.get(name)!r}")
        bitround = var.attrs.get("_QuantizeBitRoundNumberOfSignificantBits")
        if args.expect_keep_bits is None:
            c.check(bitround is None, f"{name}: BitRound to {bitround} bits in a lossless file")
        else:
            c.check(bitround == args.expect_keep_bits,
                    f"{name}: _QuantizeBitRoundNumberOfSignificantBits {bitround!r}, "
                    f"expected {args.expect_keep_bits}")
        if var.dims != dims:
            continue
        reference = None  # SST NaN pattern of the first field
        for i in range(ds.sizes[n["member"]]):
            values = var.isel({n["member"]: i}).values
            if args.expect_keep_bits is not None and var.dtype == np.float32:
                dropped = np.uint32((1 << (23 - args.expect_keep_bits)) - 1)
                bits = values[np.isfinite(values)].view(np.uint32)
                c.check(np.all(bits & dropped == 0),
                        f"{name}: values with more than {args.expect_keep_bits} mantissa bits")
            if name != SST:
                bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
                c.check(bad == 0, f"{name}: {bad} non-finite values in member index {i}")
                continue
            fields = np.isnan(values).reshape(-1, lat.size, lon.size)
            if reference is None:
                reference = fields[0]
            same = np.all(fields == reference, axis=(1, 2))
            c.check(same.all(), f"{name}: member index {i}: the NaN pattern differs from member 0 "
                                f"lead 0 in {int((~same).sum())} of {same.size} fields")
            c.check(np.all(np.isfinite(values) | np.isnan(values)), f"{name}: infinite values")
        if name == SST and reference is not None:
            c.check(reference.any(), f"{name}: no NaN at all (expected NaN over land)")
            c.check(not reference.all(), f"{name}: NaN everywhere")
            if expected_mask is not None:
                diff = int(np.count_nonzero(reference != expected_mask))
                c.check(diff == 0, f"{name}: NaN pattern differs from {args.nan_mask_from} "
                                   f"at {diff} grid points")
    return report(c, args.path)


def report(c, path):
    if c.failures:
        for message in c.failures:
            print(f"FAIL: {path}: {message}")
        print(f"{len(c.failures)} check(s) failed")
        return EXIT_FAIL
    print(f"OK: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
