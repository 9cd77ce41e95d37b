cmake_minimum_required(VERSION 3.25)
# Fails when a file of layer LAYER (the sources in DIR) includes a header of a
# layer it may not use. ALLOWED: comma-separated include prefixes the layer
# may use (itself and the layers below it). Includes without a '/' are the
# folder's own headers; system headers (<...>) are not checked.
#   cmake -DLAYER=io -DALLOWED=io,config,core -DDIR=lib/io -P check_layer_includes.cmake
if(NOT DEFINED LAYER OR NOT DEFINED ALLOWED OR NOT DEFINED DIR)
  message(FATAL_ERROR "usage: cmake -DLAYER=name -DALLOWED=a,b -DDIR=folder -P ${CMAKE_CURRENT_LIST_FILE}")
endif()
string(REPLACE "," ";" allowed "${ALLOWED}")
file(GLOB files ${DIR}/*.h ${DIR}/*.cpp ${DIR}/*.cu ${DIR}/*.cuh)
set(violations "")
foreach(f IN LISTS files)
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]+/")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "\"([^\"/]+)/[^\"]*\"" inc "${line}")
    set(prefix ${CMAKE_MATCH_1})
    if(NOT prefix IN_LIST allowed)
      get_filename_component(name ${f} NAME)
      string(STRIP "${line}" line)
      string(APPEND violations "\n  ${DIR}/${name}: ${line} (layer '${prefix}' is not below '${LAYER}')")
    endif()
  endforeach()
endforeach()
if(violations)
  message(FATAL_ERROR "layer ${LAYER} may include only ${ALLOWED}; found:${violations}\n"
                      "Move the code to the layer that owns it, or pass plain structs down (README: How it's built).")
endif()
