# The layer check must reject an upward include (exit non-zero, naming the
# file, the include and the layer) and accept a folder that respects the rule.
cmake_minimum_required(VERSION 3.25)
set(bad ${DATA_DIR}/layer_check/io)
execute_process(
  COMMAND ${CMAKE_COMMAND} -DLAYER=io -DALLOWED=io,config,core -DDIR=${bad} -P ${SCRIPT}
  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "the layer check accepted io including runtime/")
endif()
foreach(expected "reader_with_upward_include.cpp" "runtime/interrupt.h" "layer 'runtime' is not below 'io'")
  string(FIND "${err}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the layer check's message lacks '${expected}':\n${err}")
  endif()
endforeach()
string(FIND "${err}" "config/model_config.h" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "the layer check rejected an allowed include:\n${err}")
endif()
execute_process(
  COMMAND ${CMAKE_COMMAND} -DLAYER=io -DALLOWED=io,config,core,runtime -DDIR=${bad} -P ${SCRIPT}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the layer check rejected allowed includes:\n${err}")
endif()
