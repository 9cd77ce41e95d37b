#!/usr/bin/env bash
# The installed tool is relocatable: `cmake --install` into a prefix, move the
# prefix elsewhere, check that no source or build path is in the binary, then
# -- with the source and build trees hidden when the system allows a private
# mount namespace (unshare -m), else merely unused -- run make-demo, a
# forecast of that demo, the embedded demo and a plot from a folder outside
# both trees. The embedded demo must read its model from the moved prefix.
# Usage: install_check.sh CMAKE BUILD_DIR SOURCE_DIR
set -euo pipefail
cmake_bin=$1 build=$(realpath "$2") src=$(realpath "$3")
unset GENCAST_DEMO_DIR
work=$(mktemp -d /tmp/gencast-install-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "install_check: FAIL: $*" >&2; exit 1; }

"$cmake_bin" --install "$build" --prefix "$work/first" >/dev/null
mv "$work/first" "$work/moved"
bin="$work/moved/bin/gencast-run"
share="$work/moved/share/gencast-run"
[[ -x $bin ]] || fail "no executable at $bin"
[[ -f $share/tests/data/gencast_tiny/tiny_checkpoint.npz ]] || fail "no tiny model under $share"
for path in "$src" "$build"; do
  if strings -n 6 "$bin" | grep -F -- "$path" >&2; then
    fail "$bin contains the path $path (lines above)"
  fi
done
mkdir "$work/elsewhere"

run_demo() {
  set -euo pipefail
  cd "$work/elsewhere"
  "$bin" make-demo --model tiny --dir demo
  "$bin" forecast demo/forecast.yaml
  [[ -s demo/forecast.nc ]] || fail "make-demo's forecast wrote no demo/forecast.nc"
  "$bin" forecast
  [[ -s gencast-demo-forecast.nc ]] || fail "the embedded demo wrote no gencast-demo-forecast.nc"
  # The embedded demo's resolved spec (kept in the file) names the moved prefix.
  # (Read whole first: grep -q would end the pipe early, and pipefail see SIGPIPE.)
  local header
  header=$(ncdump -h gencast-demo-forecast.nc)
  grep -F -q "$share/tests/data/gencast_tiny/tiny_checkpoint.npz" <<<"$header" ||
    fail "the embedded demo did not read its model from $share"
  "$bin" plot gencast-demo-forecast.nc -o map.png
  [[ -s map.png ]] || fail "plot wrote no map.png"
}
export -f run_demo fail
export work bin share src build

if unshare -m true 2>/dev/null; then
  # Empty folders mounted over both trees: any read of them finds nothing.
  unshare -m bash -c 'set -euo pipefail
    mount -t tmpfs none "$src"
    [[ $build == "$src"/* ]] || mount -t tmpfs none "$build"
    [[ -z $(ls -A "$src") ]] || fail "could not hide $src"
    run_demo'
  echo "install_check: ok, with the source and build trees hidden ($work/moved)"
else
  run_demo
  echo "install_check: ok; the source tree could not be hidden here (no unshare -m), only unused"
fi
