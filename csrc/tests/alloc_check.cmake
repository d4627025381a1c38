# fdal-rank allocates nothing while it streams: its allocation count (every malloc of the process,
# counted by the LD_PRELOAD library malloc_counter) must be the same for 40 images in 40 chunks
# and for 1000 images in 143 chunks, for every strategy, with and without --scores (a sampler's and
# the pool-level strategies on a 32-image pool: 32 chunks of 1 vs one chunk of 32).
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

# The same count for (pool_a in chunks of batch_a) and (pool_b in chunks of batch_b); `what` says which.
function(same_allocs model strategy extra pool_a batch_a pool_b batch_b what)
  count_allocs(a "${model}" "${pool_a}" ${batch_a} ${strategy} "${extra}")
  count_allocs(b "${model}" "${pool_b}" ${batch_b} ${strategy} "${extra}")
  message(STATUS "${strategy} ${extra}: ${a} and ${b} allocations for ${what}")
  if(NOT a EQUAL b)
    message(FATAL_ERROR "fdal-rank ${extra} with ${strategy}: the allocation count depends on the pool or "
                        "its chunks (${a} vs ${b}): it allocates while streaming")
  endif()
endfunction()

# The 32-image .npy pool in 32 chunks of 1 and in one chunk of 32.
function(npy_chunk_allocs model strategy extra)
  same_allocs("${model}" ${strategy} "${extra}" "${GOLDEN}/pool.npy" 1 "${GOLDEN}/pool.npy" 32
              "32 images in 32 chunks and in 1 chunk")
endfunction()

foreach(extra "" "--scores")
  foreach(strategy margin entropy random)
    same_allocs("${GOLDEN}/tiny.fdal" ${strategy} "${extra}" "${small}" 1 "${big}" 7
                "40 images in 40 chunks and 1000 images in 143 chunks")
  endforeach()
  # fdal strategy (a model with a sampler) on the .npy pool.
  npy_chunk_allocs("${GOLDEN}/alexnet_lite.fdal" fdal "${extra}")
  # Pool-level strategies (a model with an embedding): candidates are allocated at creation.
  foreach(strategy kcenter typiclust probcover power classbalanced)
    npy_chunk_allocs("${GOLDEN}/embedding_branch.fdal" ${strategy} "${extra}")
  endforeach()
endforeach()
