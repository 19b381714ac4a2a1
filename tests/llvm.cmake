# The LLVM backend against the C backend (tests/run_llvm.sh), registered
# when nnc is built with LLVM (NNC_LLVM; else one skipped test, llvm.skipped): for each example and a set of
# PyTorch fixtures covering every op and recipe (folded linear chains, folded
# batch norm, packed weights, literals, conv/pool, identity, residual adds
# fused into a conv2d), the programs of
# both backends must print byte-identical `infer` output, the emitted .ll must
# be deterministic, valid (llvm-as-14, opt-14 -verify, clang-14 -c) and agree
# with the C headers' signatures; for train fixtures (and the examples whose
# data ships), the weights both programs save after training are
# byte-identical. Included from tests/CMakeLists.txt; run
# them with `ctest -L llvm`.
if(NOT NNC_LLVM_ENABLED)
  # One visible test that says so (ctest reports it as skipped; scripts/test.sh
  # prints why), rather than nothing.
  add_test(NAME llvm.skipped
    COMMAND sh -c "echo 'skipped: nnc was built without LLVM (no llvm-config of LLVM 14-16, or NNC_LLVM=OFF; Debian: llvm-14-dev), so the LLVM backend tests did not run'; exit 77")
  set_tests_properties(llvm.skipped PROPERTIES LABELS llvm SKIP_RETURN_CODE 77)
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
    flatten mnist_cnn batchnorm1d silu elu_alpha softplus_beta tensor_residual tensor_chain
    example_digits_resnet graph_resid upsample_bilinear_frac)
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

# The training step: each backend emits its own from the one training graph,
# and the saved weights after an epoch must be byte-identical (run_llvm.sh's
# train step, required here): an MLP with sgd and with adam, a CNN, graph
# models (a residual, a layer called twice, weight tying), batch norm,
# layer norm, dropout that draws masks (tests/llvm/dropout.nnet), recurrent
# and attention layers, a sequence loss.
set(NNC_LLVM_TRAIN_FIXTURES opt_sgd opt_adam cnn conv_mix graph_resid graph_shared batchnorm2d layernorm
    seq_lstm_adam seq2_mha_self_causal seq2_tagger_smooth tie_lm_head_adam resize_bilinear)
foreach(fx ${NNC_LLVM_TRAIN_FIXTURES})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/train/${fx})
  add_test(NAME llvm.train.${fx}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_llvm.sh $<TARGET_FILE:nnc>
            ${CMAKE_CURRENT_BINARY_DIR}/llvm/train_${fx} ${dir}/model.nnet)
  set_tests_properties(llvm.train.${fx} PROPERTIES LABELS llvm TIMEOUT 600
                       ENVIRONMENT NNC_LLVM_TRAIN_REQUIRED=1)
endforeach()
add_test(NAME llvm.train.dropout
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_llvm.sh $<TARGET_FILE:nnc>
          ${CMAKE_CURRENT_BINARY_DIR}/llvm/train_dropout ${CMAKE_CURRENT_SOURCE_DIR}/llvm/dropout.nnet)
set_tests_properties(llvm.train.dropout PROPERTIES LABELS llvm TIMEOUT 600 ENVIRONMENT NNC_LLVM_TRAIN_REQUIRED=1)
