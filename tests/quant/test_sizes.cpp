// Acceptance 4: the size report for b0 (all-layer scope, defaults) equals, to the byte, the size
// computed here independently from the format definitions (codes: bits per weight rounded up to
// whole bytes per row; one scale, and for affine formats one shift, per group; every other tensor
// in fp32), and the derived totals follow llama.cpp's bits-per-weight definition. The printed
// table is the README's.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "quant/size_report.h"
#include "quant_test_util.h"

namespace segq {
namespace {

struct FormulaMethod {
  const char* method;
  int bits;          // 32 (unquantized), 16, 8, 4, 2
  bool has_scales;   // per-group scale
  bool has_shifts;   // affine
  int scale_bytes;   // 4 (fp32) or 2 (fp16)
  int64_t group;     // 0: per row; -1: quanto's rule; else fixed (capped at the row)
  bool linear_only;  // quanto scope
};

// optimum-quanto 0.2.7, nn/qmodule.py, re-stated: in_features > 128: g = 128, minus 32 while it
// does not divide and g > 32; per row otherwise.
int64_t groups_per_row(int64_t cols, int64_t group) {
  if (group == 0) return 1;
  if (group < 0) {
    if (cols <= 128) return 1;
    int64_t g = 128;
    while (cols % g != 0 && g > 32) g -= 32;
    return cols % g == 0 ? cols / g : 1;
  }
  return group >= cols ? 1 : (cols + group - 1) / group;
}

struct Expected {
  int64_t bytes = 0, params = 0, qbytes = 0, qparams = 0;
};

Expected formula(const std::string& model, const FormulaMethod& m) {
  Expected e;
  const SafetensorsFile f =
      read_safetensors(test::fixture_path("models/" + model + "/model.safetensors"));
  for (const auto& [name, t] : f.tensors) {
    if (t.dtype() == DType::I64) continue;  // num_batches_tracked: not a weight, not kept
    const int64_t n = t.numel();
    e.params += n;
    const bool is_weight = name.size() > 7 && name.substr(name.size() - 7) == ".weight";
    const bool candidate = is_weight && (t.ndim() == 4 || t.ndim() == 2);
    if (m.bits == 32 || !candidate || (m.linear_only && t.ndim() != 2)) {
      e.bytes += 4 * n;
      continue;
    }
    const int64_t rows = t.dim(0), cols = n / rows;
    int64_t b = rows * ((cols * m.bits + 7) / 8);
    const int64_t groups = rows * groups_per_row(cols, m.group);
    if (m.has_scales) b += groups * m.scale_bytes;
    if (m.has_shifts) b += groups * m.scale_bytes;
    e.bytes += b;
    e.qbytes += b;
    e.qparams += n;
  }
  return e;
}

const FormulaMethod kMethods[] = {
    {"fp32", 32, false, false, 0, 0, false},
    {"bf16", 16, false, false, 0, 0, false},
    {"fp8", 8, true, false, 4, 0, false},
    {"fp8-e5m2-s16", 8, true, false, 2, 0, false},
    {"int8", 8, true, false, 4, 0, false},
    {"int4", 4, true, true, 4, -1, false},
    {"int2", 2, true, true, 4, -1, false},
    {"int4-g64", 4, true, true, 4, 64, false},
    {"int4-g32-s16", 4, true, true, 2, 32, false},
    {"int2-g16-sym-s16", 2, true, false, 2, 16, false},
    {"quanto:int8", 8, true, false, 4, 0, true},
    {"quanto:int4", 4, true, true, 4, -1, true},
};

const WeightSet& b0() {
  static const WeightSet w = test::fixture_weights("b0");
  return w;
}

TEST(Sizes, B0MatchesTheFormulasToTheByte) {
  std::printf("\n%-18s %12s %8s %10s %10s %8s %7s\n", "method (b0)", "bytes", "MB", "bits/w",
              "bits/qw", "x fp32", "quant%");
  for (const FormulaMethod& m : kMethods) {
    PlanOptions o;
    o.method = parse_method(m.method);
    const WeightSet q = quantize_weights(b0(), make_quant_plan(b0(), o));
    const SizeReport r = make_size_report(q, m.method, &b0());
    const Expected e = formula("b0", m);
    EXPECT_EQ(r.total_bytes, e.bytes) << m.method;
    EXPECT_EQ(r.total_params, e.params) << m.method;
    EXPECT_EQ(r.quantized_bytes, e.qbytes) << m.method;
    EXPECT_EQ(r.quantized_params, e.qparams) << m.method;
    EXPECT_DOUBLE_EQ(r.bits_per_weight(), 8.0 * e.bytes / e.params);
    EXPECT_DOUBLE_EQ(r.compression_vs_fp32(), 4.0 * e.params / e.bytes);
    // The report's per-tensor bytes add up to the total and equal what the tensors hold.
    int64_t sum = 0;
    for (const TensorSizeRow& t : r.tensors) {
      sum += t.bytes();
      const Weight& w = q.at(t.name);
      EXPECT_EQ(static_cast<size_t>(t.bytes()), w.stored_bytes()) << t.name;
    }
    EXPECT_EQ(sum, r.total_bytes);
    std::printf("%-18s %12lld %8.3f %10.3f %10.3f %8.2f %6.1f%%\n", m.method,
                static_cast<long long>(r.total_bytes), r.total_mb(), r.bits_per_weight(),
                r.bits_per_quantized_weight(), r.compression_vs_fp32(),
                100.0 * r.quantized_param_share());
  }
}

TEST(Sizes, B0Fp32Is15MB) {
  PlanOptions o;
  o.method = parse_method("fp32");
  const SizeReport r = make_size_report(quantize_weights(b0(), make_quant_plan(b0(), o)), "fp32");
  // 3,752,694 parameters + 512 BatchNorm running statistics, 4 bytes each.
  EXPECT_EQ(r.total_params, 3752694 + 512);
  EXPECT_EQ(r.total_bytes, 4 * (3752694 + 512));
  EXPECT_EQ(r.bits_per_weight(), 32.0);
  EXPECT_NEAR(r.total_mb(), 15.0, 0.05);
}

TEST(Sizes, DistortionAndRendering) {
  PlanOptions o;
  o.method = parse_method("int4");
  const WeightSet q = quantize_weights(b0(), make_quant_plan(b0(), o));
  const SizeReport r = make_size_report(q, "int4", &b0());
  int with_sqnr = 0;
  for (const TensorSizeRow& t : r.tensors) {
    if (!t.quantized) {
      EXPECT_FALSE(t.sqnr_db.has_value());
      continue;
    }
    ASSERT_TRUE(t.sqnr_db.has_value()) << t.name;
    // 4-bit affine rtn: roughly 6 dB per bit minus range effects; clearly between 5 and 40 dB.
    EXPECT_GT(*t.sqnr_db, 5.0) << t.name;
    EXPECT_LT(*t.sqnr_db, 40.0) << t.name;
    EXPECT_NEAR(*t.rel_error, std::pow(10.0, -*t.sqnr_db / 20.0), 1e-9) << t.name;
    ++with_sqnr;
  }
  EXPECT_EQ(with_sqnr, 72);
  const std::string text = size_report_text(r);
  EXPECT_NE(text.find("segformer.encoder.patch_embeddings.0.proj.weight"), std::string::npos);
  EXPECT_NE(text.find("float tensors"), std::string::npos);
  EXPECT_NE(text.find("bits/weight"), std::string::npos);
  const nlohmann::json j = size_report_json(r);
  EXPECT_EQ(j["totals"]["bytes"].get<int64_t>(), r.total_bytes);
  EXPECT_EQ(j["tensors"].size(), r.tensors.size());
  EXPECT_EQ(j["method"], "int4");
  // Exact tensors (a bf16 copy of bf16-representable weights) report infinite SQNR as "inf".
  o.method = parse_method("fp16");
  const WeightSet h = quantize_weights(b0(), make_quant_plan(b0(), o));
  const nlohmann::json jh = size_report_json(make_size_report(h, "fp16", &b0()));
  bool saw_inf = false;
  for (const auto& t : jh["tensors"]) saw_inf |= t.contains("sqnr_db") && t["sqnr_db"] == "inf";
  EXPECT_TRUE(saw_inf) << "the fixture weights are fp16 values, so fp16 is exact";
}

// The same numbers through the command line: `segq inspect --method X --json` on b0 reports, to the
// byte, the formula's sizes (acceptance 4: the README's table), per layer and in total.
std::string run_segq(const std::string& args, int* code) {
  const std::string cmd = std::string(SEGQ_EXE) + " " + args + " 2>/dev/null";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(Sizes, InspectMethodReportsTheFormulaBytes) {
  for (const char* method : {"fp32", "fp8", "int8", "int4", "int2", "int4-g32-s16"}) {
    const FormulaMethod* m = nullptr;
    for (const FormulaMethod& x : kMethods) {
      if (std::string(x.method) == method) m = &x;
    }
    ASSERT_NE(m, nullptr);
    int code = -1;
    const std::string out = run_segq(str_cat("inspect --model ", test::fixture_path("models/b0"),
                                             " --method ", method, " --json"),
                                     &code);
    ASSERT_EQ(code, 0) << method << ": " << out;
    const nlohmann::json j = nlohmann::json::parse(out);
    const nlohmann::json& t = j.at("quantization").at("totals");
    const Expected e = formula("b0", *m);
    EXPECT_EQ(t.at("bytes").get<int64_t>(), e.bytes) << method;
    EXPECT_EQ(t.at("params").get<int64_t>(), e.params) << method;
    EXPECT_EQ(t.at("quantized_bytes").get<int64_t>(), e.qbytes) << method;
    EXPECT_DOUBLE_EQ(t.at("bits_per_weight").get<double>(), 8.0 * e.bytes / e.params) << method;
    EXPECT_EQ(j.at("quantization").at("method"), method);
    int64_t sum = 0, quantized = 0;
    for (const auto& row : j.at("quantization").at("tensors")) {
      sum += row.at("bytes").get<int64_t>();
      EXPECT_EQ(row.at("bytes").get<int64_t>(), row.at("bytes_codes").get<int64_t>() +
                                                    row.at("bytes_scales").get<int64_t>() +
                                                    row.at("bytes_shifts").get<int64_t>());
      if (row.at("quantized").get<bool>()) {
        ++quantized;
        EXPECT_TRUE(row.contains("sqnr_db")) << row.at("name");
        EXPECT_TRUE(row.contains("rel_error")) << row.at("name");
        EXPECT_TRUE(row.contains("group_size")) << row.at("name");
      }
    }
    EXPECT_EQ(sum, e.bytes) << method;
    EXPECT_EQ(quantized, std::string(method) == "fp32" ? 0 : 72) << method;
  }
}

TEST(Sizes, InspectTextShowsLayersAndTotals) {
  int code = -1;
  const std::string out = run_segq(
      str_cat("inspect --model ", test::fixture_path("models/b0"), " --method int4"), &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("parameters: 3,752,694"), std::string::npos) << out;  // model summary kept
  EXPECT_NE(out.find("method int4"), std::string::npos) << out;
  EXPECT_NE(out.find("segformer.encoder.block.3.1.mlp.dense2.weight"), std::string::npos) << out;
  EXPECT_NE(out.find("total: 2,329,336 bytes (2.33 MB)"), std::string::npos) << out;
  EXPECT_NE(out.find("SQNR dB"), std::string::npos) << out;
}

}  // namespace
}  // namespace segq
