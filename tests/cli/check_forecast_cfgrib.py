#!/usr/bin/env python3
"""Checks a gencast-run GRIB2 forecast the way an ai-models / earthkit user
sees it: opened with cfgrib (xarray's GRIB engine), not with our own code.

Checks: one dataset per level type and step type as cfgrib splits them; every
GenCast target variable under its cfgrib name (t2m, u10, v10, msl, sst, tp, t,
z, u, v, w, q) with ERA5 units; dims (number, step, [isobaricInhPa,]
latitude, longitude); the member numbers and lead times expected; tp
accumulated over 12 h (its step is the end of the window); latitude north to
south; values finite except SST, whose land points are missing (NaN) in the
same pattern for every member and step, some NaN and some not.

Exit codes: 0 all checks pass, 1 a check failed (every failure is printed),
2 bad usage, 77 cfgrib is not installed (the caller reports a skip).
"""
import argparse
import sys

EXIT_FAIL, EXIT_SKIP = 1, 77

try:
    import numpy as np
    import cfgrib
except ImportError as exc:
    print(f"GENCAST_SKIP: python3 cannot import numpy/cfgrib ({exc})")
    sys.exit(EXIT_SKIP)

# cfgrib name -> (GRIB shortName, units, on pressure levels), typed
# independently of lib/io/grib_params.cpp so that each checks the other.
EXPECTED = {
    "t2m": ("2t", "K", False),
    "u10": ("10u", "m s**-1", False),
    "v10": ("10v", "m s**-1", False),
    "msl": ("msl", "Pa", False),
    "sst": ("sst", "K", False),
    "tp": ("tp", "m", False),
    "t": ("t", "K", True),
    "z": ("z", "m**2 s**-2", True),
    "u": ("u", "m s**-1", True),
    "v": ("v", "m s**-1", True),
    "w": ("w", "Pa s**-1", True),
    "q": ("q", "kg kg**-1", True),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("path")
    ap.add_argument("--expect-members", type=int, required=True)
    ap.add_argument("--expect-steps", type=int, required=True)
    ap.add_argument("--expect-levels", type=int, required=True)
    args = ap.parse_args()

    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    found = {}
    for ds in cfgrib.open_datasets(args.path, backend_kwargs={"indexpath": ""}):
        for name, var in ds.data_vars.items():
            check(name not in found, f"{name} appears in two datasets")
            found[name] = var
    check(set(found) == set(EXPECTED), f"variables {sorted(found)}, expected {sorted(EXPECTED)}")

    hours = [12 * (k + 1) for k in range(args.expect_steps)]
    for name, (short, units, levels) in EXPECTED.items():
        if name not in found:
            continue
        var = found[name]
        dims = ("number", "step") + (("isobaricInhPa",) if levels else ()) + ("latitude", "longitude")
        check(var.dims == dims, f"{name}: dims {var.dims}, expected {dims}")
        check(var.attrs.get("GRIB_shortName") == short, f"{name}: shortName {var.attrs.get('GRIB_shortName')}")
        check(var.attrs.get("units") == units, f"{name}: units {var.attrs.get('units')}, expected {units}")
        check(var.attrs.get("GRIB_dataType") == "pf", f"{name}: dataType {var.attrs.get('GRIB_dataType')}")
        numbers = list(var["number"].values)
        check(numbers == list(range(args.expect_members)), f"{name}: numbers {numbers}")
        steps = [int(s / np.timedelta64(1, "h")) for s in np.atleast_1d(var["step"].values)]
        check(steps == hours, f"{name}: steps {steps} h, expected {hours}")
        if levels:
            check(var.sizes["isobaricInhPa"] == args.expect_levels,
                  f"{name}: {var.sizes['isobaricInhPa']} levels")
        lat = var["latitude"].values
        check(lat[0] == 90 and lat[-1] == -90, f"{name}: latitude from {lat[0]} to {lat[-1]}")
        data = var.values
        if name == "sst":
            mask = np.isnan(data)
            first = mask.reshape(-1, *mask.shape[-2:])[0]
            check(first.any() and not first.all(), "sst: land mask empty or everything missing")
            check((mask == first).all(), "sst: the missing points differ between members/steps")
            check(np.isfinite(data[~mask]).all(), "sst: non-finite sea values")
        else:
            check(np.isfinite(data).all(), f"{name}: non-finite values")
        if name == "tp":
            check(var.attrs.get("GRIB_stepType") == "accum", f"tp: stepType {var.attrs.get('GRIB_stepType')}")

    for f in failures:
        print("FAIL:", f)
    if failures:
        return EXIT_FAIL
    print(f"OK: {args.path} reads with cfgrib ({len(found)} variables)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
