# Run by CTest (cmake -P): install twinsim from its build tree into a scratch
# prefix, then configure, build and run the consumer project against it.
set(prefix ${CONSUMER_BINARY_DIR}/prefix)
file(REMOVE_RECURSE ${CONSUMER_BINARY_DIR})

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test step failed (${rc}): ${ARGV}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${TWINSIM_BINARY_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${CONSUMER_BINARY_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${CONSUMER_BINARY_DIR}/build)
run(${CONSUMER_BINARY_DIR}/build/consumer)
