// The ONNX Runtime 1.30 CPU optimizer rules the prediction (ort_prediction.h) replays on a Sim
// (sim_graph.h), one file per rule level: rules_basic.cpp (level basic), rules_qdq.cpp and
// rules_extended.cpp (level extended: the QDQ fusions, then the float fusions), rules_nchwc.cpp (level
// all). Rule conditions follow ORT's sources (onnxruntime/core/optimizer/*.cc,
// qdq_transformer/selectors_actions/*.cc, nchwc_transformer.cc); each rule names its ORT transformer and
// counts its applications in Sim::hits. Internal to lib/ort.
#pragma once

#include "ort/ort_prediction.h"
#include "ort/sim_graph.h"

namespace effopt::ort_sim {

// What ORT's partitioning does after level 1 (and before level 2): function ops without a CPU kernel
// replaced by their bodies.
void inline_functions(Sim& s);

// Level basic: ORT's level-1 transformers, to a fixed point.
void run_level1(Sim& s);
// ConstantFolding by itself (level extended runs it again at its end).
bool fold_constants(Sim& s);

// Level extended, the QDQ rules: QDQS8ToU8Transformer, QDQSelectorActionTransformer,
// DQMatMulToMatMulNBits.
bool convert_s8_activations(Sim& s);
bool fuse_qdq(Sim& s, const OrtPredictionOptions& o);
bool fuse_dq_matmul_nbits(Sim& s);

// Level extended: the QDQ rules, then the float fusions, in ORT's order.
void run_level2(Sim& s, const OrtPredictionOptions& o);

// Marks the input-model nodes whose fate depends on a level-2 transformer effopt does not encode
// (Sim::not_predicted): where such a transformer's pattern starts in the predicted graph.
void mark_not_predicted(Sim& s);

// Level all: NchwcTransformer with MLAS's NCHWc block size (OrtPredictionOptions::nchwc_block_size).
void run_nchwc(Sim& s, int block_size, int conv_input_alignment);

}  // namespace effopt::ort_sim
