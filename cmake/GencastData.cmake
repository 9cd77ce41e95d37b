# The data files the binary reads at run time (core/install_paths.h): the
# example specs and the tiny model the built-in demo and make-demo use.
# They are copied into <build>/share/gencast-run at configure time (so that
# build/app/gencast-run finds them as an installed binary would) and installed
# to <prefix>/share/gencast-run, with the source tree's relative layout.
set(GENCAST_DATA_FILES
  configs/demo.yaml
  configs/tiny.yaml
  configs/1p0deg.yaml
  configs/1p0deg_mini.yaml
  configs/0p25deg.yaml
  tests/data/gencast_tiny/README.md
  tests/data/gencast_tiny/tiny_checkpoint.npz
  tests/data/gencast_tiny/source_tiny.nc
  tests/data/gencast_tiny/mean_by_level.nc
  tests/data/gencast_tiny/stddev_by_level.nc
  tests/data/gencast_tiny/diffs_stddev_by_level.nc
  tests/data/gencast_tiny/min_by_level.nc)
set(GENCAST_BUILD_DATA_DIR ${PROJECT_BINARY_DIR}/share/gencast-run)
foreach(file IN LISTS GENCAST_DATA_FILES)
  # COPYONLY re-copies (and re-runs CMake) whenever the source file changes.
  configure_file(${PROJECT_SOURCE_DIR}/${file} ${GENCAST_BUILD_DATA_DIR}/${file} COPYONLY)
  get_filename_component(dir ${file} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${file} DESTINATION share/gencast-run/${dir})
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
        DESTINATION share/doc/gencast-run)
