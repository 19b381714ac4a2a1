# The sequence examples (examples/gpt.nnet, examples/lstm.nnet) on data
# their test makes itself (run_seq_examples.sh).
foreach(ex gpt lstm)
  add_test(NAME examples.seq_${ex}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_seq_examples.sh $<TARGET_FILE:nnc>
            ${CMAKE_CURRENT_BINARY_DIR}/seq_examples/${ex} ${ex})
  set_tests_properties(examples.seq_${ex} PROPERTIES LABELS examples TIMEOUT 900)
endforeach()

# generate's key/value cache against the recompute loop (run_generate_cache.sh)
add_test(NAME seq.generate_cache
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_generate_cache.sh $<TARGET_FILE:nnc>
          ${CMAKE_CURRENT_BINARY_DIR}/seq_generate_cache)
set_tests_properties(seq.generate_cache PROPERTIES LABELS numeric TIMEOUT 600)
