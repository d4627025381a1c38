# fdal-rank allocates nothing while it streams: its allocation count (every malloc of the process,
# counted by the LD_PRELOAD library malloc_counter) must be the same for 40 images in 40 chunks
# and for 1000 images in 143 chunks, for every strategy, with and without --scores.
#   cmake -DTOOL=fdal-rank-dynamic -DCOUNTER=libmalloc_counter.so -DGOLDEN=dir -DWORK=dir -P alloc_check.cmake
file(MAKE_DIRECTORY "${WORK}")
set(small "${GOLDEN}/tiny_pool.raw")
set(big "${WORK}/tiny_pool_x25.raw")
set(copies "")
foreach(i RANGE 1 25)
  list(APPEND copies "${small}")
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E cat ${copies} OUTPUT_FILE "${big}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot build the 1000-image pool")
endif()

function(count_allocs out model pool batch strategy extra)
  set(count_file "${WORK}/count.txt")
  file(REMOVE "${count_file}")
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=${COUNTER} FDAL_ALLOC_COUNT_FILE=${count_file}
            ${TOOL} ${model} ${pool} -k 5 --batch ${batch} --strategy ${strategy} ${extra}
    OUTPUT_QUIET RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS "${count_file}")
    message(FATAL_ERROR "fdal-rank failed (${rc}) or the counter wrote nothing: ${err}")
  endif()
  file(STRINGS "${count_file}" n)
  set(${out} ${n} PARENT_SCOPE)
endfunction()

foreach(extra "" "--scores")
  foreach(strategy margin entropy random)
    count_allocs(a "${GOLDEN}/tiny.fdal" "${small}" 1 ${strategy} "${extra}")
    count_allocs(b "${GOLDEN}/tiny.fdal" "${big}" 7 ${strategy} "${extra}")
    message(STATUS "${strategy} ${extra}: ${a} allocations for 40 images in 40 chunks, ${b} for 1000 images in 143 chunks")
    if(NOT a EQUAL b)
      message(FATAL_ERROR "fdal-rank ${extra}'s allocation count depends on the pool (${a} vs ${b}): it allocates while streaming")
    endif()
  endforeach()
  # fdal strategy (a model with a sampler) on the .npy pool: 32 chunks of 1 vs one chunk of 32.
  count_allocs(a "${GOLDEN}/alexnet_lite.fdal" "${GOLDEN}/pool.npy" 1 fdal "${extra}")
  count_allocs(b "${GOLDEN}/alexnet_lite.fdal" "${GOLDEN}/pool.npy" 32 fdal "${extra}")
  message(STATUS "fdal ${extra}: ${a} allocations in 32 chunks, ${b} in 1 chunk")
  if(NOT a EQUAL b)
    message(FATAL_ERROR "fdal-rank ${extra} allocates per chunk (${a} vs ${b})")
  endif()
endforeach()
