// Weight decode throughput per format: the cost the GEMM driver pays per (N-tile, K-tile) panel
// (decode_panel, kc x nr into a k-major panel) and per row (decode_rows), for the scalar reference
// and the run-time (AVX2) decoders, on b0 shapes. items/s = weights decoded per second.
//   build/segq_bench --benchmark_filter=Decode
#include <benchmark/benchmark.h>

#include <vector>

#include "quant/quantize_tensor.h"

namespace segq {
namespace {

const char* const kMethods[] = {"fp32", "bf16", "fp16",     "fp8",  "fp8-e5m2",
                                "int8", "int4", "int4-g32", "int2", "int2-g16-sym"};

// A b0-sized weight: rows N outputs x cols K inputs (mlp.dense1 of stage 4 is 1024 x 256).
struct BenchWeight {
  QTensor q;
  Tensor dense;  // for fp32
  WeightView view;
};

BenchWeight make_weight(const char* method, int64_t rows, int64_t cols) {
  std::vector<float> v(static_cast<size_t>(rows * cols));
  uint32_t s = 12345;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
  }
  BenchWeight w;
  w.dense = Tensor::from_vector(v, {rows, cols});
  const MethodSpec m = parse_method(method);
  if (!m.quantizes_weights()) {
    w.view.format = WeightFormat::F32;
    w.view.rows = rows;
    w.view.cols = cols;
    w.view.codes = w.dense.raw();
    w.view.group_size = cols;
    w.view.row_stride_bytes = cols * 4;
    return w;
  }
  w.q = quantize_tensor(w.dense, tensor_quant_spec(m, w.dense.shape()));
  w.view = w.q.view();
  return w;
}

// args: method index, reference (1) or run-time (0) decoder, kc, nr.
void BM_DecodePanel(benchmark::State& state) {
  const char* method = kMethods[state.range(0)];
  const bool ref = state.range(1) != 0;
  const int kc = static_cast<int>(state.range(2));
  const int nr = static_cast<int>(state.range(3));
  const int64_t rows = 1024, cols = 256;
  const BenchWeight w = make_weight(method, rows, cols);
  const WeightFormatKernels& k =
      ref ? weight_format_kernels_ref(w.view.format) : weight_format_kernels(w.view.format);
  std::vector<float> panel(static_cast<size_t>(kc) * nr);
  int64_t n0 = 0;
  for (auto _ : state) {
    k.decode_panel(w.view, n0, nr, 0, kc, panel.data(), nr);
    benchmark::DoNotOptimize(panel.data());
    n0 = (n0 + nr) % (rows - nr);
  }
  state.SetItemsProcessed(state.iterations() * kc * nr);
  state.SetLabel(std::string(method) + (ref ? " ref" : " fast"));
}

void BM_DecodeRows(benchmark::State& state) {
  const char* method = kMethods[state.range(0)];
  const bool ref = state.range(1) != 0;
  const int64_t rows = 256, cols = state.range(2);
  const BenchWeight w = make_weight(method, rows, cols);
  const WeightFormatKernels& k =
      ref ? weight_format_kernels_ref(w.view.format) : weight_format_kernels(w.view.format);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (auto _ : state) {
    k.decode_rows(w.view, 0, rows, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
  state.SetLabel(std::string(method) + (ref ? " ref" : " fast"));
}

void panel_args(benchmark::internal::Benchmark* b) {
  for (int64_t m = 0; m < static_cast<int64_t>(std::size(kMethods)); ++m) {
    for (int64_t ref : {0, 1}) b->Args({m, ref, 256, 16});
  }
}

void rows_args(benchmark::internal::Benchmark* b) {
  for (int64_t m = 0; m < static_cast<int64_t>(std::size(kMethods)); ++m) {
    for (int64_t ref : {0, 1}) b->Args({m, ref, 1024});
  }
}

BENCHMARK(BM_DecodePanel)->Apply(panel_args);
BENCHMARK(BM_DecodeRows)->Apply(rows_args);

}  // namespace
}  // namespace segq

