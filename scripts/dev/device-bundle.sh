#!/usr/bin/env bash
# Developer tool for GPU machines that lack our Debian packages (e.g. a lent
# cloud GPU with only the CUDA toolkit): builds the CUDA binaries here and packs
# them, with the non-glibc shared libraries they need, into
# .device/bundle.tar.xz. On the GPU machine, unpack and put the system library
# folder FIRST in LD_LIBRARY_PATH so that its own libraries win and the
# bundled ones only fill gaps:
#   tar -C /tmp/b -xJf .device/bundle.tar.xz
#   export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:/usr/local/cuda/lib64:/tmp/b/libs
# The binaries have this checkout's absolute path compiled in (test data,
# demo); link the GPU machine's checkout there (ln -sfn "$PWD" /work/main).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-gpu}
ARCHS=${GENCAST_BUNDLE_ARCHS:-90}
cmake -S . -B "$BUILD" -G Ninja -DGENCAST_CUDA=ON -DGENCAST_CUDA_ARCHITECTURES="$ARCHS" \
      -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$BUILD" -j"$(nproc)"
stage=.device/stage
rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/libs"
cp "$BUILD/app/gencast-run" "$BUILD/tests/gencast_tests" "$stage/bin/"
strip "$stage/bin/"* 2>/dev/null || true
# Everything ldd resolves except glibc, the C++/OpenMP runtimes, CUDA's own
# libraries (the GPU machine has the toolkit) and ICU (large; any libxml2 on
# the GPU machine brings its own).
ldd "$BUILD/app/gencast-run" "$BUILD/tests/gencast_tests" | awk '/=>/ {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libdl|libpthread|librt|libresolv|libgcc_s|libstdc\+\+|libgomp|libicu[a-z]*)\.so' |
  grep -v -E 'libcu(blas|blasLt|fft|rand|dart)' |
  while read -r lib; do cp -L "$lib" "$stage/libs/"; done
tar -C "$stage" -cJf .device/bundle.tar.xz .
ls -la .device/bundle.tar.xz
