#include "quant/method.h"

#include <charconv>

#include "core/error.h"
#include "kernels/decode_layout.h"

namespace segq {

const char* quantizer_name(Quantizer q) {
  switch (q) {
    case Quantizer::Rtn:
      return "rtn";
    case Quantizer::Mse:
      return "mse";
    case Quantizer::Hqq:
      return "hqq";
  }
  return "?";
}

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

constexpr const char* kFormats = "fp32, bf16, fp16, fp8, fp8-e4m3, fp8-e5m2, int8, int4, int2";

[[noreturn]] void bad(std::string_view method, const std::string& why) {
  throw UsageError(
      str_cat("invalid method '", method, "': ", why, " (see `segq methods` or docs/methods.md)"));
}

const char* scale_suffix(DType t) {
  switch (t) {
    case DType::F16:
      return "s16";
    case DType::BF16:
      return "sbf16";
    default:
      return "s32";
  }
}

std::string canonical_name(const MethodSpec& m) {
  std::string s = m.scope == MethodScope::Quanto ? "quanto:" : "";
  switch (m.format) {
    case WeightFormat::F32:
      return "fp32";  // nothing is quantized, whatever the scope
    case WeightFormat::F16:
      return s + "fp16";
    case WeightFormat::BF16:
      return s + "bf16";
    case WeightFormat::FP8_E4M3:
      s += "fp8";
      break;
    case WeightFormat::FP8_E5M2:
      s += "fp8-e5m2";
      break;
    case WeightFormat::INT8:
      s += "int8";
      break;
    case WeightFormat::INT4:
      s += "int4";
      break;
    case WeightFormat::INT2:
      s += "int2";
      break;
  }
  if (weight_format_is_int(m.format)) {
    const GroupRule default_rule =
        m.format == WeightFormat::INT8 ? GroupRule::PerChannel : GroupRule::Quanto;
    if (m.group_rule != default_rule) {
      if (m.group_rule == GroupRule::Fixed) s += str_cat("-g", m.group_size);
      if (m.group_rule == GroupRule::PerChannel) s += "-gc";
      if (m.group_rule == GroupRule::Quanto) s += "-gq";
    }
    if (m.quantizer != Quantizer::Rtn) s += str_cat("-", quantizer_name(m.quantizer));
    const bool default_sym = m.format == WeightFormat::INT8;
    if (m.symmetric != default_sym) s += m.symmetric ? "-sym" : "-asym";
  }
  if (m.scale_dtype != DType::F32) s += str_cat("-", scale_suffix(m.scale_dtype));
  if (m.w8a8) s += "-w8a8";
  return s;
}

}  // namespace

MethodSpec parse_method(std::string_view text) {
  MethodSpec m;
  if (text.empty()) throw UsageError("empty method name (expected e.g. fp32, int8, int4-g64)");
  std::string_view body = text;
  const size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    const std::string_view scope = text.substr(0, colon);
    if (scope == "quanto") {
      m.scope = MethodScope::Quanto;
    } else if (scope == "all") {
      m.scope = MethodScope::All;
    } else {
      bad(text, str_cat("unknown scope '", scope, "' (expected 'all' or 'quanto')"));
    }
    body = text.substr(colon + 1);
  }
  std::vector<std::string_view> tokens = split(body, '-');
  size_t next = 1;
  const std::string_view fmt = tokens[0];
  if (fmt == "fp32") {
    m.format = WeightFormat::F32;
  } else if (fmt == "bf16") {
    m.format = WeightFormat::BF16;
  } else if (fmt == "fp16") {
    m.format = WeightFormat::F16;
  } else if (fmt == "fp8") {
    m.format = WeightFormat::FP8_E4M3;
    if (tokens.size() > 1 && (tokens[1] == "e4m3" || tokens[1] == "e5m2")) {
      if (tokens[1] == "e5m2") m.format = WeightFormat::FP8_E5M2;
      next = 2;
    }
  } else if (fmt == "int8" || fmt == "int4" || fmt == "int2") {
    m.format = fmt == "int8"   ? WeightFormat::INT8
               : fmt == "int4" ? WeightFormat::INT4
                               : WeightFormat::INT2;
    m.symmetric = m.format == WeightFormat::INT8;
    m.group_rule = m.format == WeightFormat::INT8 ? GroupRule::PerChannel : GroupRule::Quanto;
  } else {
    bad(text, str_cat("unknown format '", fmt, "' (expected one of ", kFormats, ")"));
  }

  const bool is_int = weight_format_is_int(m.format);
  const bool is_fp8 = weight_format_is_fp8(m.format);
  bool seen_group = false, seen_quantizer = false, seen_sym = false, seen_scale = false;
  bool explicit_sym = false;
  auto once = [&](bool& seen, std::string_view what) {
    if (seen) bad(text, str_cat(what, " given twice"));
    seen = true;
  };
  for (size_t i = next; i < tokens.size(); ++i) {
    const std::string_view t = tokens[i];
    if (t.empty()) bad(text, "empty option (two '-' in a row or a trailing '-')");
    const bool takes_options = is_int || is_fp8;
    if (!takes_options) {
      bad(text, str_cat("format '", fmt, "' takes no options, got '", t, "'"));
    }
    if (t == "s16" || t == "sbf16" || t == "s32") {
      once(seen_scale, "scale dtype");
      m.scale_dtype = t == "s16" ? DType::F16 : t == "sbf16" ? DType::BF16 : DType::F32;
      continue;
    }
    if (is_fp8) {
      bad(text, str_cat("option '", t,
                        "' does not apply to fp8 (one scale per output channel; "
                        "only s16, sbf16, s32 are allowed)"));
    }
    if (t == "rtn" || t == "mse" || t == "hqq") {
      once(seen_quantizer, "quantizer");
      m.quantizer = t == "rtn" ? Quantizer::Rtn : t == "mse" ? Quantizer::Mse : Quantizer::Hqq;
    } else if (t == "sym" || t == "asym") {
      once(seen_sym, "symmetry");
      m.symmetric = t == "sym";
      explicit_sym = true;
    } else if (t == "gc" || t == "gq") {
      once(seen_group, "group size");
      m.group_rule = t == "gc" ? GroupRule::PerChannel : GroupRule::Quanto;
    } else if (t.size() > 1 && t[0] == 'g' && t[1] >= '0' && t[1] <= '9') {
      once(seen_group, "group size");
      int64_t g = 0;
      const auto [ptr, ec] = std::from_chars(t.data() + 1, t.data() + t.size(), g);
      if (ec != std::errc() || ptr != t.data() + t.size()) {
        bad(text, str_cat("group size '", t, "' is not g<N> with N an integer"));
      }
      if (g < 16 || g % 16 != 0) {
        bad(text, str_cat("group size ", g, " is not a positive multiple of 16"));
      }
      m.group_rule = GroupRule::Fixed;
      m.group_size = g;
    } else if (t == "w8a8") {
      if (m.format != WeightFormat::INT8) bad(text, "w8a8 applies to int8 only");
      if (m.w8a8) bad(text, "w8a8 given twice");
      m.w8a8 = true;
    } else {
      bad(text, str_cat("unknown option '", t,
                        "' (expected g<N>, gc, gq, rtn, mse, hqq, sym, asym, s16, sbf16, s32, "
                        "w8a8)"));
    }
  }
  if (is_int && m.quantizer == Quantizer::Hqq && m.symmetric) {
    bad(text, explicit_sym || m.format != WeightFormat::INT8
                  ? std::string("hqq optimizes the shift of an affine format; it cannot be sym")
                  : std::string("hqq optimizes the shift of an affine format and int8 is "
                                "symmetric by default: write int8-hqq-asym"));
  }
  if (m.w8a8 && (!m.symmetric || m.group_rule != GroupRule::PerChannel)) {
    bad(text, "w8a8 needs symmetric per-channel int8 weights (no g<N>, gq or asym)");
  }
  m.name = canonical_name(m);
  return m;
}

std::vector<MethodSpec> parse_method_list(std::string_view text) {
  std::vector<MethodSpec> out;
  for (std::string_view item : split(text, ',')) {
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) throw UsageError(str_cat("empty method in list '", text, "'"));
    out.push_back(parse_method(item));
  }
  return out;
}

int64_t quanto_group_size(int64_t cols) {
  int64_t g = 128;
  if (cols > g) {
    while (cols % g != 0 && g > 32) g -= 32;
    if (cols % g == 0) return g;
  }
  return cols;
}

int64_t resolve_group_size(const MethodSpec& m, int64_t cols) {
  if (!weight_format_is_int(m.format)) return cols;
  switch (m.group_rule) {
    case GroupRule::Quanto:
      return quanto_group_size(cols);
    case GroupRule::PerChannel:
      return cols;
    case GroupRule::Fixed:
      return m.group_size < cols ? m.group_size : cols;
  }
  return cols;
}

bool method_available(const MethodSpec& m, std::string* why) {
  (void)m;
  if (why) why->clear();
  return true;
}

std::vector<MethodInfo> method_catalog() {
  return {
      {"fp32", "no quantization: the fp32 baseline"},
      {"bf16", "weights stored as bfloat16 (8-bit mantissa)"},
      {"fp16", "weights stored as IEEE half precision"},
      {"fp8",
       "float8 e4m3fn, one fp32 scale per output channel (amax/448), clamp + round to "
       "nearest even (= optimum-quanto qfloat8)"},
      {"fp8-e5m2", "float8 e5m2, one fp32 scale per output channel (amax/57344)"},
      {"int8", "symmetric int8, one fp32 scale per output channel (amax/127) (= quanto qint8)"},
      {"int4",
       "affine int4 (scale + shift) per group along the input, quanto's group rule "
       "(128, stepping down by 32 to a divisor >= 32, else per channel) (= quanto qint4)"},
      {"int2", "affine int2, like int4 with 4 levels (= quanto qint2)"},
      {"int4-g64", "int4 with groups of 64 inputs (a row's last group may be shorter)"},
      {"int4-g32-hqq-s16", "int4, groups of 32, HQQ-optimized shifts, fp16 scales and shifts"},
      {"int4-mse", "int4 with a clip-ratio search per group (GPTQ's mse grid, norm 2.4)"},
      {"int2-g16-mse-sym", "symmetric int2 (levels -2..1), groups of 16, clip search"},
      {"int8-mse", "int8 per channel with a clip-ratio search on the symmetric range"},
      {"quanto:int4",
       "the Python pipeline's semantics: nn.Linear weights only (transformers "
       "QuantoConfig); Conv2d weights stay fp32"},
      {"quanto:fp8", "quanto qfloat8 on nn.Linear weights only"},
      {"int8-w8a8",
       "int8 per-channel weights + dynamic per-token int8 activations, integer GEMM (Linear and "
       "Conv layers; depthwise convs weight-only int8)"},
  };
}

std::string method_grammar_text() {
  return R"(method  := [scope ":"] format { "-" option }
scope   := all       every Linear and Conv weight (default)
         | quanto    nn.Linear weights only, as transformers' QuantoConfig quantizes
format  := fp32 | bf16 | fp16 | fp8 | fp8-e4m3 | fp8-e5m2 | int8 | int4 | int2
option  := g<N>      groups of N inputs (N a multiple of 16; a row's last group may be shorter)
         | gc        one group per output channel (default for int8)
         | gq        optimum-quanto's group rule (default for int4, int2)
         | rtn       round to nearest from min/max (default)
         | mse       clip-ratio grid search per group (p = 1 - i/100, i < 80, |err|^2.4)
         | hqq       half-quadratic optimization of the shift (affine formats only)
         | sym       symmetric: no shift (default for int8)
         | asym      affine: scale + shift (default for int4, int2)
         | s16 | sbf16 | s32   scales/shifts stored as fp16 | bf16 | fp32 (default fp32)
         | w8a8      int8 only: dynamic per-token int8 activations, integer GEMM
fp8 takes only s16 | sbf16 | s32; fp32, bf16, fp16 take no options.
Biases, norms and BatchNorm stay fp32 in every method.
)";
}

}  // namespace segq
