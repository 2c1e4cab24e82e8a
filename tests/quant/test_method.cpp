// The --methods grammar: canonical names, defaults, and errors that name the offending part.
#include <gtest/gtest.h>

#include "core/error.h"
#include "quant/method.h"

namespace segq {
namespace {

TEST(Method, CanonicalNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"fp32", "fp32"},
      {"quanto:fp32", "fp32"},
      {"bf16", "bf16"},
      {"fp16", "fp16"},
      {"fp8", "fp8"},
      {"fp8-e4m3", "fp8"},
      {"fp8-e5m2", "fp8-e5m2"},
      {"fp8-e4m3-s16", "fp8-s16"},
      {"all:int8", "int8"},
      {"int8-gc-rtn-sym-s32", "int8"},
      {"int4", "int4"},
      {"int4-gq-rtn-asym", "int4"},
      {"int4-g64", "int4-g64"},
      {"int4-s16-hqq-g32", "int4-g32-hqq-s16"},
      {"int2-sym-mse-g16", "int2-g16-mse-sym"},
      {"int4-gc", "int4-gc"},
      {"int8-gq", "int8-gq"},
      {"int8-hqq-asym", "int8-hqq-asym"},
      {"int8-asym-hqq", "int8-hqq-asym"},
      {"quanto:int4", "quanto:int4"},
      {"quanto:fp8", "quanto:fp8"},
      {"int8-w8a8", "int8-w8a8"},
      {"int4-sbf16", "int4-sbf16"},
  };
  for (const auto& [in, want] : cases) {
    const MethodSpec m = parse_method(in);
    EXPECT_EQ(m.name, want) << in;
    EXPECT_EQ(parse_method(m.name).name, m.name) << "canonical name must parse to itself";
  }
}

TEST(Method, Defaults) {
  const MethodSpec i4 = parse_method("int4");
  EXPECT_EQ(i4.format, WeightFormat::INT4);
  EXPECT_FALSE(i4.symmetric);
  EXPECT_EQ(i4.group_rule, GroupRule::Quanto);
  EXPECT_EQ(i4.quantizer, Quantizer::Rtn);
  EXPECT_EQ(i4.scale_dtype, DType::F32);
  EXPECT_EQ(i4.scope, MethodScope::All);
  const MethodSpec i8 = parse_method("quanto:int8");
  EXPECT_TRUE(i8.symmetric);
  EXPECT_EQ(i8.group_rule, GroupRule::PerChannel);
  EXPECT_EQ(i8.scope, MethodScope::Quanto);
  const MethodSpec g = parse_method("int2-g16-mse-sym");
  EXPECT_EQ(g.group_rule, GroupRule::Fixed);
  EXPECT_EQ(g.group_size, 16);
  EXPECT_EQ(g.quantizer, Quantizer::Mse);
  EXPECT_TRUE(g.symmetric);
  EXPECT_EQ(parse_method("int4-g32-hqq-s16").scale_dtype, DType::F16);
  EXPECT_EQ(parse_method("fp8-e5m2").format, WeightFormat::FP8_E5M2);
  EXPECT_FALSE(parse_method("fp32").quantizes_weights());
  EXPECT_TRUE(parse_method("bf16").quantizes_weights());
}

TEST(Method, ErrorsNameTheOffendingPart) {
  const std::pair<const char*, const char*> cases[] = {
      {"int3", "'int3'"},
      {"int4-g33", "33"},
      {"int4-g0", "0"},
      {"int4-gx", "'gx'"},
      {"int4-g32x", "g32x"},
      {"fp8-g32", "'g32'"},
      {"fp32-s16", "takes no options"},
      {"bf16-g32", "takes no options"},
      {"int4-sym-hqq", "hqq"},
      {"int8-hqq", "int8-hqq-asym"},
      {"int4-w8a8", "w8a8"},
      {"int8-w8a8-g32", "w8a8"},
      {"int4--g32", "empty option"},
      {"int4-", "empty option"},
      {"foo:int4", "'foo'"},
      {"int4-g32-g64", "group size given twice"},
      {"int4-rtn-mse", "quantizer given twice"},
      {"int4-bogus", "'bogus'"},
      {"", "empty"},
  };
  for (const auto& [in, needle] : cases) {
    try {
      parse_method(in);
      ADD_FAILURE() << "'" << in << "' should not parse";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "'" << in << "': " << e.what();
    }
  }
}

TEST(Method, Lists) {
  const auto ms = parse_method_list("fp32, int8,int4-g64 ,quanto:int2");
  ASSERT_EQ(ms.size(), 4u);
  EXPECT_EQ(ms[2].name, "int4-g64");
  EXPECT_EQ(ms[3].name, "quanto:int2");
  EXPECT_THROW(parse_method_list("fp32,,int8"), UsageError);
  EXPECT_THROW(parse_method_list("fp32,int9"), UsageError);
}

TEST(Method, GroupRules) {
  // optimum-quanto 0.2.7 (nn/qmodule.py) on every SegFormer b0/b2 row length.
  const std::pair<int64_t, int64_t> quanto[] = {{9, 9},
                                                {32, 32},
                                                {64, 64},
                                                {128, 128},
                                                {147, 147},
                                                {160, 32},
                                                {256, 128},
                                                {288, 96},
                                                {576, 96},
                                                {640, 128},
                                                {1024, 128},
                                                {1440, 96},
                                                {200, 200} /* no divisor >= 32 */,
                                                {130, 130}};
  for (const auto& [cols, g] : quanto) EXPECT_EQ(quanto_group_size(cols), g) << cols;
  EXPECT_EQ(resolve_group_size(parse_method("int4-g64"), 288), 64);  // last group of 32
  EXPECT_EQ(resolve_group_size(parse_method("int4-g64"), 9), 9);
  EXPECT_EQ(resolve_group_size(parse_method("int4-gc"), 288), 288);
  EXPECT_EQ(resolve_group_size(parse_method("int8"), 288), 288);
  EXPECT_EQ(resolve_group_size(parse_method("fp8"), 288), 288);
}

TEST(Method, CatalogParsesAndEveryMethodIsAvailable) {
  for (const MethodInfo& info : method_catalog()) {
    EXPECT_EQ(parse_method(info.name).name, info.name);
    EXPECT_FALSE(info.description.empty());
  }
  std::string why;
  EXPECT_TRUE(method_available(parse_method("int8-w8a8"), &why));
  EXPECT_TRUE(why.empty());
  EXPECT_TRUE(method_available(parse_method("int4-g32-hqq-s16")));
  EXPECT_NE(method_grammar_text().find("g<N>"), std::string::npos);
}

}  // namespace
}  // namespace segq
