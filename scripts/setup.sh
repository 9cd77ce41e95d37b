#!/usr/bin/env bash
# Installs every build and test dependency of gencast-run from Debian packages.
# Idempotent: re-running it only installs what is missing. The CUDA toolkit is
# not installed here; when nvcc is on PATH the CUDA backend is built too.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libcli11-dev libspdlog-dev libyaml-cpp-dev
  libnetcdf-dev libnetcdf-c++4-dev libhdf5-dev netcdf-bin
  libdeflate-dev                   # forecast chunks compressed on every core (io/chunk_codec.h)
  libzip-dev zlib1g-dev
  libeccodes-dev     # GRIB2 output and GRIB input (ecCodes)
  libeccodes-tools   # grib_ls / grib_get_data read our GRIB back in the tests
  catch2
  python3-xarray python3-netcdf4   # a real client reads our output in the tests
  python3-cfgrib     # cfgrib (xarray's GRIB engine) reads our GRIB output in the tests
  libcairo2-dev                     # `plot`: PNG maps (drawing, text, PNG encoding)
  fonts-dejavu-core                 # `plot`: a font for the map labels (cairo finds it via fontconfig)
  gmt-gshhg-low                     # `plot`: GSHHG coastlines, read at run time from /usr/share/gmt-gshhg
  clang libclang-rt-dev            # scripts/fuzz.sh: libFuzzer harnesses (fuzz/)
  libopenmpi-dev                    # MPI across nodes: mpirun/srun forecasts (cmake -DGENCAST_MPI=AUTO finds it)
  openmpi-bin                       # mpirun, which the MPI tests launch
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all dependencies present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
