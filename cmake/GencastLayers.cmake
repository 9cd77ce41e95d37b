# One static library per layer of lib/ (see README "How it's built").
#
# gencast_layer(NAME DEPS <layers below> [DIR <dir>] [LIBS <external targets>])
# makes the target gencast_<NAME> from <DIR>/*.cpp (default lib/<NAME>), links
# it to gencast_<dep> for each dep, and records which include prefixes its
# files may use: its own and those of its dependencies, transitively. A check
# (cmake/check_layer_includes.cmake) runs before the layer compiles: an
# `#include "<layer>/..."` of a layer that is not below fails the build.
set(GENCAST_LAYER_CHECK_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/check_layer_includes.cmake)

function(gencast_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 L "" "DIR" "DEPS;LIBS;CUDA_SOURCES")
  if(NOT L_DIR)
    set(L_DIR ${PROJECT_SOURCE_DIR}/lib/${name})
  endif()
  set(allowed ${name})
  foreach(dep IN LISTS L_DEPS)
    get_property(dep_allowed GLOBAL PROPERTY GENCAST_LAYER_ALLOWED_${dep} SET)
    if(NOT dep_allowed)
      message(FATAL_ERROR "layer ${name}: dependency ${dep} must be declared before it")
    endif()
    get_property(dep_allowed GLOBAL PROPERTY GENCAST_LAYER_ALLOWED_${dep})
    list(APPEND allowed ${dep} ${dep_allowed})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  set_property(GLOBAL PROPERTY GENCAST_LAYER_ALLOWED_${name} ${allowed})

  file(GLOB sources CONFIGURE_DEPENDS ${L_DIR}/*.cpp ${L_DIR}/*.cu)
  file(GLOB checked CONFIGURE_DEPENDS ${L_DIR}/*.h ${L_DIR}/*.cpp ${L_DIR}/*.cu ${L_DIR}/*.cuh)
  add_library(gencast_${name} STATIC ${sources})
  target_include_directories(gencast_${name} PUBLIC ${PROJECT_SOURCE_DIR}/lib
                                                     ${PROJECT_BINARY_DIR}/lib)
  target_compile_options(gencast_${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${GENCAST_WARNINGS}>)
  target_compile_definitions(gencast_${name} PUBLIC GENCAST_WITH_CUDA=$<BOOL:${GENCAST_WITH_CUDA}>
                                                    GENCAST_WITH_MPI=$<BOOL:${GENCAST_WITH_MPI}>)
  foreach(dep IN LISTS L_DEPS)
    target_link_libraries(gencast_${name} PUBLIC gencast_${dep})
  endforeach()
  if(L_LIBS)
    target_link_libraries(gencast_${name} PUBLIC ${L_LIBS})
  endif()

  string(REPLACE ";" "," allowed_csv "${allowed}")
  set(stamp ${CMAKE_CURRENT_BINARY_DIR}/layer_check_${name}.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DLAYER=${name} -DALLOWED=${allowed_csv} -DDIR=${L_DIR}
            -P ${GENCAST_LAYER_CHECK_SCRIPT}
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS ${checked} ${GENCAST_LAYER_CHECK_SCRIPT}
    COMMENT "Checking the includes of layer ${name}"
    VERBATIM)
  add_custom_target(gencast_${name}_layer_check DEPENDS ${stamp})
  add_dependencies(gencast_${name} gencast_${name}_layer_check)
endfunction()
