# Runs fdal-rank once (under the cross-compiling emulator when there is one) and checks its exit
# code, its stdout against a golden file, and its stderr against a regex.
#   cmake -DEMULATOR=a|b -DTOOL=path -DARGS=x|y|z -DEXPECT_RC=0 [-DEXPECT_STDOUT=file]
#         [-DEXPECT_STDERR=regex] -P run_tool.cmake
# Lists use "|" so that they survive add_test's argument handling.
string(REPLACE "|" ";" emulator "${EMULATOR}")
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${emulator} ${TOOL} ${args}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(REPLACE ";" " " shown "${args}")
message(STATUS "fdal-rank ${shown} -> exit ${rc}")
if(NOT rc STREQUAL EXPECT_RC)
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECT_RC}; stderr: ${err}")
endif()
if(DEFINED EXPECT_STDOUT)
  file(READ "${EXPECT_STDOUT}" want)
  if(NOT out STREQUAL want)
    message(FATAL_ERROR "stdout differs from ${EXPECT_STDOUT}\n--- got:\n${out}--- expected:\n${want}")
  endif()
endif()
if(DEFINED EXPECT_STDERR)
  if(NOT err MATCHES "${EXPECT_STDERR}")
    message(FATAL_ERROR "stderr does not match '${EXPECT_STDERR}': ${err}")
  endif()
  # One clear line: the message, a newline, nothing else.
  string(REGEX MATCHALL "\n" lines "${err}")
  list(LENGTH lines n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "stderr should be one line, got ${n}: ${err}")
  endif()
endif()
