// Element types of tensors held in memory or read from checkpoints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace segq {

enum class DType : uint8_t { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "F32", "F16", ... (safetensors spelling)
// Parses a safetensors dtype name; returns false when unknown.
bool dtype_from_name(std::string_view name, DType* out);

template <class T>
struct dtype_of;
template <>
struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <>
struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <>
struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <>
struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <>
struct dtype_of<int16_t> { static constexpr DType value = DType::I16; };
template <>
struct dtype_of<int8_t> { static constexpr DType value = DType::I8; };
template <>
struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };

}  // namespace segq
