# The CUDA version gate of the top-level CMakeLists: with an nvcc older than
# GENCAST_MIN_CUDA (simulated by raising the minimum past the installed one),
# GENCAST_CUDA=AUTO configures without the CUDA backend and says why, and
# GENCAST_CUDA=ON stops with the reason. Without nvcc the gate never runs:
# the test prints the skip marker.
cmake_minimum_required(VERSION 3.25)
find_program(NVCC nvcc PATHS /usr/local/cuda/bin)
if(NOT NVCC)
  message("GENCAST_SKIP: no nvcc, the CUDA version gate is not reached")
  return()
endif()
get_filename_component(nvcc_dir ${NVCC} DIRECTORY)
set(ENV{PATH} "${nvcc_dir}:$ENV{PATH}")
foreach(mode AUTO ON)
  set(build ${WORK_DIR}/cuda_gate_${mode})
  file(REMOVE_RECURSE ${build})
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G Ninja -DGENCAST_CUDA=${mode}
            -DGENCAST_MIN_CUDA=999.0 -DGENCAST_MPI=OFF
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  file(REMOVE_RECURSE ${build})
  if(mode STREQUAL "AUTO")
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "AUTO with a too old nvcc failed to configure:\n${out}\n${err}")
    endif()
    foreach(expected "CUDA backend OFF" "is older than the" "CPU backend only")  # CMake wraps warnings
      string(FIND "${out}${err}" "${expected}" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "AUTO's output lacks '${expected}':\n${out}\n${err}")
      endif()
    endforeach()
  else()
    if(rc EQUAL 0)
      message(FATAL_ERROR "ON with a too old nvcc configured")
    endif()
    string(FIND "${err}" "GENCAST_CUDA=ON but nvcc" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "ON's error lacks the reason:\n${err}")
    endif()
  endif()
endforeach()
