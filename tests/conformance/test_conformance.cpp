// Corpus conformance: every model effopt converts still runs in ONNX Runtime
// 1.30 and gives the same answers.
//  - plain `convert` (lossless round trip): outputs bit-identical to the
//    original's, same session options;
//  - opset < 7 cases (ONNX Runtime refuses them): after conversion to 13,
//    within 1e-4 of the expected outputs;
//  - PaddleOCR models at opsets 13, 17 and 21: within 1e-4 of the expected
//    outputs;
//  - an unsorted copy of a corpus model imports, converts and runs.
// Calls test::skip when ../shared/corpus or ONNX Runtime is absent.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>

#include <google/protobuf/util/message_differencer.h>

#include "onnx/model_io.h"
#include "onnx/opset_convert.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string name;
  fs::path dir;
};

std::vector<Case> cases_under(const fs::path& root) {
  std::vector<Case> out;
  if (!fs::is_directory(root)) return out;
  for (auto& e : fs::directory_iterator(root))
    if (fs::exists(e.path() / "model.onnx")) out.push_back({e.path().filename().string(), e.path()});
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

bool prerequisites(test::OrtHarness** ort, fs::path* corpus) {
  auto c = test::corpus_or_skip();
  if (!c) return false;
  *ort = test::ort_or_skip();
  if (!*ort) return false;
  *corpus = *c;
  return true;
}

std::vector<std::pair<std::string, onnx::TensorProto>> case_inputs(const fs::path& model, const fs::path& dir) {
  auto proto = test::load_model(model.string());
  return test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()));
}

int64_t default_opset(const onnx::ModelProto& p) {
  for (auto& o : p.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 0;
}

// Loads, optionally converts, and saves with effopt's library.
std::string effopt_convert(const fs::path& in, const fs::path& out, int64_t opset) {
  auto m = load_model(in.string());
  if (!m) return "load: " + m.error().message;
  if (opset) {
    auto st = convert_opset(**m, opset);
    if (!st) return "convert_opset: " + st.error().message;
  }
  auto st = save_model(**m, out.string());
  if (!st) return "save: " + st.error().message;
  return "";
}

void check_bit_identical(const test::OrtRun& a, const test::OrtRun& b) {
  REQUIRE(a->outputs.size() == b->outputs.size());
  for (size_t i = 0; i < a->outputs.size(); ++i) {
    std::string why;
    INFO("output " << a->output_names[i]);
    CHECK(test::tensors_bit_identical(a->outputs[i], b->outputs[i], &why));
    if (!why.empty()) INFO(why);
  }
}

void check_close_to_expected(const test::OrtRun& r, const fs::path& dir, double tol) {
  auto expected = test::load_test_data_set((dir / "test_data_set_0").string(), "output_");
  REQUIRE(r->outputs.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i);
    if (expected[i].data_type() == onnx::TensorProto::FLOAT || expected[i].data_type() == onnx::TensorProto::DOUBLE ||
        expected[i].data_type() == onnx::TensorProto::FLOAT16) {
      double d = test::max_abs_diff(r->outputs[i], expected[i]);
      INFO("max abs diff " << d);
      CHECK(d <= tol);
    } else {
      std::string why;
      CHECK(test::tensors_bit_identical(r->outputs[i], expected[i], &why));
    }
  }
}

// Typed data fields (float_data, int32_data, ...) become raw_data, the form
// effopt writes, so messages can be compared for meaning.
void normalize_tensor(onnx::TensorProto& t) {
  if (t.data_type() == onnx::TensorProto::STRING || t.has_raw_data() ||
      t.data_location() == onnx::TensorProto::EXTERNAL)
    return;
  std::string raw = test::tensor_bytes(t);
  t.clear_float_data(); t.clear_int32_data(); t.clear_int64_data();
  t.clear_double_data(); t.clear_uint64_data();
  t.set_raw_data(raw);
}

void normalize_graph(onnx::GraphProto& g);

void normalize_attributes(google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes) {
  for (auto& n : nodes)
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) normalize_tensor(*a.mutable_t());
      for (auto& t : *a.mutable_tensors()) normalize_tensor(t);
      if (a.has_g()) normalize_graph(*a.mutable_g());
      for (auto& g : *a.mutable_graphs()) normalize_graph(g);
    }
}

void normalize_graph(onnx::GraphProto& g) {
  for (auto& t : *g.mutable_initializer()) normalize_tensor(t);
  for (auto& s : *g.mutable_sparse_initializer()) {
    normalize_tensor(*s.mutable_values());
    normalize_tensor(*s.mutable_indices());
  }
  normalize_attributes(*g.mutable_node());
}

// The round trip keeps the model's meaning: same nodes in the same order,
// names, attributes, tensor values, metadata, doc strings, value_info,
// functions and types (unset and default fields count as equal).
void check_same_meaning(const fs::path& original, const fs::path& converted) {
  auto a = test::load_model(original.string());
  auto b = test::load_model(converted.string());
  normalize_graph(*a.mutable_graph());
  normalize_graph(*b.mutable_graph());
  for (auto& f : *a.mutable_functions()) normalize_attributes(*f.mutable_node());
  for (auto& f : *b.mutable_functions()) normalize_attributes(*f.mutable_node());
  google::protobuf::util::MessageDifferencer diff;
  diff.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
  std::string report;
  diff.ReportDifferencesToString(&report);
  bool same = diff.Compare(a, b);
  INFO(report.substr(0, 2000));
  CHECK(same);
}

// The round-trip check for one case.
void round_trip_case(test::OrtHarness& ort, const Case& c, const test::TempDir& tmp) {
  fs::path model = c.dir / "model.onnx";
  auto proto = test::load_model(model.string());
  int64_t opset = default_opset(proto);
  auto inputs = case_inputs(model, c.dir);
  fs::path out = tmp.path() / (c.name + ".onnx");
  if (opset < 7) {
    // ONNX Runtime refuses these; run them after conversion to opset 13.
    std::string err = effopt_convert(model, out, 13);
    INFO(err);
    REQUIRE(err.empty());
    auto r = ort.run(out.string(), inputs);
    INFO(r.error);
    REQUIRE(r.ok);
    check_close_to_expected(r, c.dir, 1e-4);
    return;
  }
  std::string err = effopt_convert(model, out, 0);
  INFO(err);
  REQUIRE(err.empty());
  check_same_meaning(model, out);
  if (!test::ort_host_can_run_case(c.name)) return;
  auto a = ort.run(model.string(), inputs);
  auto it = test::ort_cannot_run().find(c.name);
  if (it != test::ort_cannot_run().end()) {
    INFO("expected ONNX Runtime to refuse the original: " << it->second);
    CHECK_FALSE(a.ok);
    return;
  }
  INFO("original: " << a.error);
  REQUIRE(a.ok);
  auto b = ort.run(out.string(), inputs);
  INFO("converted: " << b.error);
  REQUIRE(b.ok);
  check_bit_identical(a, b);
}

}  // namespace

TEST_CASE("convert round trip is bit-identical in ONNX Runtime: models/", "[conformance]") {
  test::OrtHarness* ort;
  fs::path corpus;
  if (!prerequisites(&ort, &corpus)) return;
  test::TempDir tmp;
  auto cases = cases_under(corpus / "models");
  test::skip_if_no_corpus_case(cases.size(), (corpus / "models").string());
  for (auto& c : cases) {
    DYNAMIC_SECTION(c.name) { round_trip_case(*ort, c, tmp); }
  }
}

TEST_CASE("convert round trip is bit-identical in ONNX Runtime: onnx-backend/", "[conformance]") {
  test::OrtHarness* ort;
  fs::path corpus;
  if (!prerequisites(&ort, &corpus)) return;
  test::TempDir tmp;
  size_t found = 0;
  for (const char* group : {"light", "pytorch-converted", "pytorch-operator", "simple"}) {
    auto cases = cases_under(corpus / "onnx-backend" / group);
    found += cases.size();
    for (auto& c : cases) {
      DYNAMIC_SECTION(group << "/" << c.name) { round_trip_case(*ort, c, tmp); }
    }
  }
  test::skip_if_no_corpus_case(found, (corpus / "onnx-backend").string());
}

TEST_CASE("PaddleOCR models convert to opsets 13, 17 and 21 and still match", "[conformance][opset]") {
  test::OrtHarness* ort;
  fs::path corpus;
  if (!prerequisites(&ort, &corpus)) return;
  test::TempDir tmp;
  for (const char* name : {"ppocr_cls_v2", "ppocr_det_v4"}) {
    auto case_dir = test::corpus_case_or_skip(std::string("models/") + name);
    if (!case_dir) continue;
    fs::path dir = *case_dir;
    for (int64_t opset : {13, 17, 21}) {
      DYNAMIC_SECTION(name << " -> opset " << opset) {
        fs::path out = tmp.path() / (std::string(name) + "_" + std::to_string(opset) + ".onnx");
        std::string err = effopt_convert(dir / "model.onnx", out, opset);
        INFO(err);
        REQUIRE(err.empty());
        auto r = ort->run(out.string(), case_inputs(dir / "model.onnx", dir));
        INFO(r.error);
        REQUIRE(r.ok);
        check_close_to_expected(r, dir, 1e-4);
      }
    }
  }
}

TEST_CASE("an unsorted model imports, converts and runs", "[conformance][sort]") {
  test::OrtHarness* ort;
  fs::path corpus;
  if (!prerequisites(&ort, &corpus)) return;
  test::TempDir tmp;
  for (const char* name : {"digits_cnn", "tiny_bert"}) {
    auto case_dir = test::corpus_case_or_skip(std::string("models/") + name);
    if (!case_dir) continue;
    DYNAMIC_SECTION(name) {
      fs::path dir = *case_dir;
      auto proto = test::load_model((dir / "model.onnx").string());
      // Reverse the node list: the most unsorted order there is.
      auto* nodes = proto.mutable_graph()->mutable_node();
      std::reverse(nodes->begin(), nodes->end());
      fs::path shuffled = tmp.path() / (std::string(name) + "_unsorted.onnx");
      test::write_file(shuffled.string(), proto.SerializeAsString());
      fs::path out = tmp.path() / (std::string(name) + "_sorted.onnx");
      ImportStats st;
      auto m = load_model(shuffled.string(), {}, &st);
      REQUIRE(m);
      CHECK_FALSE(st.was_sorted);
      REQUIRE(save_model(**m, out.string()));
      auto r = ort->run(out.string(), case_inputs(dir / "model.onnx", dir));
      INFO(r.error);
      REQUIRE(r.ok);
      check_close_to_expected(r, dir, 1e-4);
    }
  }
}
