# The LLVM backend against the C backend (tests/run_llvm.sh), registered only
# when nnc is built with LLVM (NNC_LLVM): for each example and a set of
# PyTorch fixtures covering every op and recipe (folded linear chains, folded
# batch norm, packed weights, literals, conv/pool, identity), the programs of
# both backends must print byte-identical `infer` output, the emitted .ll must
# be deterministic, valid (llvm-as-14, opt-14 -verify, clang-14 -c) and agree
# with the C headers' signatures. Included from tests/CMakeLists.txt; run
# them with `ctest -L llvm`.
if(NOT NNC_LLVM_ENABLED)
  return()
endif()

set(NNC_LLVM_EXAMPLES slide slide_product chain chain_relu classifier multiclass mnist_cnn digits)
foreach(ex ${NNC_LLVM_EXAMPLES})
  add_test(NAME llvm.example.${ex}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_llvm.sh $<TARGET_FILE:nnc>
            ${CMAKE_CURRENT_BINARY_DIR}/llvm/example_${ex} ${PROJECT_SOURCE_DIR}/examples/${ex}.nnet)
  set_tests_properties(llvm.example.${ex} PROPERTIES LABELS llvm TIMEOUT 600)
endforeach()

set(NNC_LLVM_FIXTURES bn_mlp chain3_linear conv_bn2d conv2d_nobias conv2d_s2p1 avgpool2d_k3s2p1
    maxpool2d_k3s2p1 gelu leaky_relu_02 softmax_dim1 log_softmax identity literal_bias dropout
    flatten mnist_cnn batchnorm1d silu elu_alpha softplus_beta tensor_residual tensor_chain)
foreach(fx ${NNC_LLVM_FIXTURES})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/infer/${fx})
  if(NOT EXISTS ${dir}/model.nnet)
    continue()
  endif()
  set(weights "")
  if(EXISTS ${dir}/weights.safetensors)
    set(weights ${dir}/weights.safetensors)
  endif()
  add_test(NAME llvm.fixture.${fx}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_llvm.sh $<TARGET_FILE:nnc>
            ${CMAKE_CURRENT_BINARY_DIR}/llvm/fixture_${fx} ${dir}/model.nnet ${dir}/input.csv ${weights})
  set_tests_properties(llvm.fixture.${fx} PROPERTIES LABELS llvm TIMEOUT 600)
endforeach()
