# The emitted C as a person reads it (issue 10 item 7; tests/run_emit_c.sh):
# for every example of examples/ and a set of PyTorch fixture models (an
# inference fixture with its weights compiled in; a training one with its
# training step), NAME.[ch] and NAME_load.[ch] compile with
# `cc -std=c11 -pedantic -Wall -Wextra -Wmissing-prototypes -Werror -c`,
# name no absolute path, carry no 0-arithmetic and no (void) cast at all,
# and emitting twice gives identical files; with LLVM, the same of
# `--backend=llvm`'s NAME.ll and NAME.h. Included from
# tests/CMakeLists.txt; run them with `ctest -R emit_c`.
file(GLOB NNC_EMIT_C_EXAMPLES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*.nnet)
# resnet18: its 11.7 million compiled-in floats take the C compiler minutes;
# its blocks are emitted as digits_resnet's are, which is checked.
list(REMOVE_ITEM NNC_EMIT_C_EXAMPLES ${PROJECT_SOURCE_DIR}/examples/resnet18.nnet)
list(SORT NNC_EMIT_C_EXAMPLES)
foreach(model ${NNC_EMIT_C_EXAMPLES})
  get_filename_component(name ${model} NAME_WE)
  add_test(NAME emit_c.example.${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_emit_c.sh $<TARGET_FILE:nnc>
            ${CMAKE_CURRENT_BINARY_DIR}/emit_c/example_${name} ${PROJECT_SOURCE_DIR} ${model})
  set_tests_properties(emit_c.example.${name} PROPERTIES LABELS examples TIMEOUT 300)
endforeach()

# Fixtures chosen for what the emitter does differently: no parameters
# (relu, identity), folded linear chains, folded batch norm, literals,
# labels, conv/pool shape structs, views, dropout; training steps with
# batch norm, convolutions, freezing and each optimizer family.
set(NNC_EMIT_C_FIXTURES)
foreach(c infer/relu infer/identity infer/chain3_linear infer/chain3_relu infer/bn_mlp
          infer/conv_bn2d infer/literal_bias infer/named infer/mnist_cnn infer/conv2d_nobias
          infer/avgpool2d_k3s2p1 infer/flatten infer/dropout infer/softmax_dims_chw
          train/batchnorm2d train/cnn train/conv_mix train/freeze_names train/opt_adam train/opt_sgd_momentum)
  list(APPEND NNC_EMIT_C_FIXTURES ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/${c})
endforeach()
foreach(dir ${NNC_EMIT_C_FIXTURES})
  if(NOT IS_DIRECTORY ${dir} OR NOT EXISTS ${dir}/model.nnet)
    continue()
  endif()
  get_filename_component(case ${dir} NAME)
  get_filename_component(kind_dir ${dir} DIRECTORY)
  get_filename_component(kind ${kind_dir} NAME)
  set(name ${kind}.${case})
  set(weights "")
  if(kind STREQUAL "infer" AND EXISTS ${dir}/weights.safetensors)
    set(weights ${dir}/weights.safetensors)
  endif()
  add_test(NAME emit_c.fixture.${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_emit_c.sh $<TARGET_FILE:nnc>
            ${CMAKE_CURRENT_BINARY_DIR}/emit_c/fixture_${kind}_${case} ${PROJECT_SOURCE_DIR}
            ${dir}/model.nnet ${weights})
  set_tests_properties(emit_c.fixture.${name} PROPERTIES LABELS golden TIMEOUT 300)
endforeach()
