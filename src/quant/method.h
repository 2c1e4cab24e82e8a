// Quantization methods: the `--method(s)` grammar, parsed into a MethodSpec with a canonical name.
// Grammar and meaning: docs/methods.md; `segq methods` prints the catalog.
//
//   method   := [scope ":"] format { "-" option }
//   scope    := "all" (default: every Linear and Conv weight) | "quanto" (nn.Linear only, as
//               transformers' QuantoConfig does)
//   format   := fp32 | bf16 | fp16 | fp8 [-e4m3 | -e5m2] | int8 | int4 | int2
//   option   := g<N> | gc | gq      group size N along the input (N a multiple of 16), one group
//                                   per output channel, or optimum-quanto's rule
//             | rtn | mse | hqq     quantizer
//             | sym | asym          symmetric (no shift) or affine (scale + shift)
//             | s16 | sbf16 | s32   dtype of stored scales and shifts (default s32 = fp32)
//             | w8a8                int8 only: also quantize activations (dynamic, per token)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "kernels/weight_format.h"

namespace segq {

enum class Quantizer : uint8_t { Rtn, Mse, Hqq };
enum class MethodScope : uint8_t { All, Quanto };
enum class GroupRule : uint8_t {
  Quanto,      // optimum-quanto: start at 128; while cols % g != 0 and g > 32: g -= 32; per
               // channel unless cols > 128 and g divides cols
  PerChannel,  // one group per output channel (row)
  Fixed,       // group_size columns; the last group of a row may be shorter
};

const char* quantizer_name(Quantizer q);  // "rtn", "mse", "hqq"

struct MethodSpec {
  std::string name;  // canonical spelling (parse_method(name) gives back the same spec)
  MethodScope scope = MethodScope::All;
  WeightFormat format = WeightFormat::F32;  // F32: weights stay fp32 (the baseline)
  GroupRule group_rule = GroupRule::PerChannel;
  int64_t group_size = 0;  // GroupRule::Fixed only
  bool symmetric = true;   // integer formats
  Quantizer quantizer = Quantizer::Rtn;
  DType scale_dtype = DType::F32;  // scales and shifts as stored
  bool w8a8 = false;               // int8 weights + dynamic per-token int8 activations (issue 7)

  bool quantizes_weights() const { return format != WeightFormat::F32; }
  bool operator==(const MethodSpec& o) const { return name == o.name; }
};

// Parses one method string. Throws UsageError naming the offending part and what is allowed.
MethodSpec parse_method(std::string_view text);
// Comma-separated list ("fp32,int8,int4-g64"); empty items are errors.
std::vector<MethodSpec> parse_method_list(std::string_view text);

// The effective group size of a row of `cols` weights (== cols for one group per row). Meaningful
// for integer formats; float formats have one scale per row.
int64_t resolve_group_size(const MethodSpec& m, int64_t cols);
// optimum-quanto 0.2.7's rule (nn/qmodule.py), as a group size (== cols for per-channel).
int64_t quanto_group_size(int64_t cols);

// Whether the engine can run the method (every parsed method can today, int8-w8a8 included);
// `why` receives the reason when it cannot.
bool method_available(const MethodSpec& m, std::string* why = nullptr);

struct MethodInfo {
  std::string name;
  std::string description;
};
// Representative methods with one-line explanations, for `segq methods`.
std::vector<MethodInfo> method_catalog();
// The grammar as printed by `segq methods` (same content as the header comment above).
std::string method_grammar_text();

}  // namespace segq
