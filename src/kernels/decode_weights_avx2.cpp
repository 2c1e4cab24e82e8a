// AVX2/F16C weight decoders, bit-identical to the scalar references (kernels/decode_weights.cpp,
// weight_format.cpp). Layouts: kernels/decode_layout.h.
//
// decode_panel works on blocks of 8 rows x 8 columns: each row's 8 consecutive codes become one
// vector of raw values (fp8 through F16C, integers through a variable shift of a broadcast word),
// an 8x8 transpose turns them into 8 k-vectors of 8 rows, and each k-vector is scaled by its
// group's 8 row scales (gathered once per group, not per element) and stored into the k-major
// panel. Rows beyond nr decode as zero (zero raw value times zero scale), which also gives the
// panel's zero padding. The tails (kc % 8 columns, ld % 8 lanes) reuse the same code on a zeroed
// copy of the tail bytes and masked stores, so they read no byte outside the rows.
//
// Only intrinsics, raw pointers and this file's own internal functions are used here, so no
// AVX2-compiled copy of a shared inline function can leak into the rest of the program.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/decode_layout.h"
#include "kernels/decode_weights.h"

namespace segq {

namespace {

template <WeightFormat F>
struct Traits {
  static constexpr int kBits = weight_format_bits(F);
  static constexpr bool kInt = weight_format_is_int(F);
  static constexpr bool kScaled = weight_format_has_scales(F);
  static constexpr int kSymBias = kInt ? (1 << (kBits - 1)) : 0;
  static constexpr int kCodeMask = kInt ? (1 << kBits) - 1 : 0;
};

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Raw values (before scaling) of codes k .. k+7 of one row; reads only the bytes holding them.
template <WeightFormat F>
inline __m256 raw8(const uint8_t* row, int64_t k, __m256i bias) {
  if constexpr (F == WeightFormat::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (F == WeightFormat::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  } else if constexpr (F == WeightFormat::BF16) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else if constexpr (F == WeightFormat::FP8_E5M2) {
    // e5m2 is the top byte of a binary16.
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k));
    return _mm256_cvtph_ps(_mm_slli_epi16(_mm_cvtepu8_epi16(b), 8));
  } else if constexpr (F == WeightFormat::FP8_E4M3) {
    // binary16 bits ((b & 0x7F) << 7) | ((b & 0x80) << 8) hold the e4m3 value times 2^-8 (exact
    // for every code, subnormals included); 0x7F / 0xFF are NaN in e4m3 and get patched in.
    const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k)));
    const __m128i mag = _mm_and_si128(b, _mm_set1_epi16(0x7F));
    const __m128i sign = _mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x80)), 8);
    const __m128i h = _mm_or_si128(_mm_slli_epi16(mag, 7), sign);
    const __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_set1_ps(256.0f));
    const __m128i nan16 = _mm_cmpeq_epi16(mag, _mm_set1_epi16(0x7F));
    const __m256 nan_mask = _mm256_castsi256_ps(_mm256_cvtepi16_epi32(nan16));
    return _mm256_blendv_ps(v, _mm256_set1_ps(__builtin_nanf("")), nan_mask);
  } else if constexpr (F == WeightFormat::INT8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(b), bias));
  } else if constexpr (F == WeightFormat::INT4) {
    // Nibbles k .. k+7 span 4 bytes (k even) or 5 bytes (k odd).
    const uint8_t* p = row + (k >> 1);
    uint64_t x = load_u32(p);
    if (k & 1) x = (x | (static_cast<uint64_t>(p[4]) << 32)) >> 4;
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    __m256i c = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(x))),
                                  shifts);
    c = _mm256_and_si256(c, _mm256_set1_epi32(0xF));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(c, bias));
  } else {
    static_assert(F == WeightFormat::INT2);
    // Crumbs k .. k+7 span 2 bytes (k % 4 == 0) or 3 bytes.
    const uint8_t* p = row + (k >> 2);
    uint32_t x = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8);
    const int s = static_cast<int>(k & 3);
    if (s) x = (x | (static_cast<uint32_t>(p[2]) << 16)) >> (2 * s);
    const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    __m256i c = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int32_t>(x)), shifts);
    c = _mm256_and_si256(c, _mm256_set1_epi32(0x3));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(c, bias));
  }
}

// raw8 for the `count` (< 8) codes k .. k+count-1 at the end of a range: copies exactly the bytes
// holding them into a zeroed buffer first. Lanes >= count are meaningless.
template <WeightFormat F>
inline __m256 raw8_tail(const uint8_t* row, int64_t k, int count, __m256i bias) {
  constexpr int kBits = Traits<F>::kBits;
  alignas(32) uint8_t tmp[40] = {};
  const int64_t byte_begin = (k * kBits) / 8;
  const int64_t byte_end = ((k + count) * kBits + 7) / 8;
  std::memcpy(tmp, row + byte_begin, static_cast<size_t>(byte_end - byte_begin));
  return raw8<F>(tmp, k - (byte_begin * 8) / kBits, bias);
}

inline float scalar_from(const void* p, DType dt, int64_t i) {
  if (dt == DType::F16) {
    const uint16_t h = static_cast<const uint16_t*>(p)[i];
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
  }
  if (dt == DType::BF16) {
    const uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(p)[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  return static_cast<const float*>(p)[i];
}

// Scales (or shifts) of group g for rows n .. n+valid-1, zero in the other lanes.
inline __m256 gather_rows(const void* p, DType dt, int64_t n, int valid, int64_t groups_per_row,
                          int64_t g) {
  alignas(32) float v[8] = {};
  for (int i = 0; i < valid; ++i) v[i] = scalar_from(p, dt, (n + i) * groups_per_row + g);
  return _mm256_load_ps(v);
}

inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);
  const __m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);
  const __m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]);
  const __m256 t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]);
  const __m256 t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

inline __m256i lanes_below(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Scales and shifts of the current group for one 8-row block of the panel.
struct GroupState {
  int64_t next_boundary = 0;  // first column of the next group
  __m256 scale = _mm256_setzero_ps();
  __m256 shift = _mm256_setzero_ps();
};

// dst[k * ld + j] = W[n0 + j][k0 + k] for j < nr, k < kc; zero for j in [nr, ld).
template <WeightFormat F>
void decode_panel_avx2(const WeightView& w, int64_t n0, int nr, int64_t k0, int kc, float* dst,
                       int ld) {
  using T = Traits<F>;
  const __m256i bias = _mm256_set1_epi32(w.symmetric ? T::kSymBias : 0);
  const int64_t group = w.group_size > 0 ? w.group_size : w.cols;
  const bool affine = T::kScaled && w.shifts != nullptr;
  const uint8_t* codes = static_cast<const uint8_t*>(w.codes);
  for (int jb = 0; jb < ld; jb += 8) {
    const int valid = nr - jb < 0 ? 0 : (nr - jb > 8 ? 8 : nr - jb);
    const int width = ld - jb < 8 ? ld - jb : 8;
    const __m256i store_mask = lanes_below(width);
    float* out = dst + jb;
    if (valid == 0) {
      for (int k = 0; k < kc; ++k)
        _mm256_maskstore_ps(out + k * ld, store_mask, _mm256_setzero_ps());
      continue;
    }
    const uint8_t* rows[8];
    for (int i = 0; i < valid; ++i) rows[i] = codes + (n0 + jb + i) * w.row_stride_bytes;
    GroupState gs;
    gs.next_boundary = k0;  // forces a load at the first column
    if constexpr (!T::kScaled) gs.next_boundary = INT64_MAX;
    // Scales and stores k-vectors r[0 .. count) for columns k0 + kk + c.
    auto emit = [&](__m256 r[8], int kk, int count) {
      for (int c = 0; c < count; ++c) {
        __m256 v = r[c];
        if constexpr (T::kScaled) {
          const int64_t col = k0 + kk + c;
          if (col >= gs.next_boundary) {
            const int64_t g = col / group;
            gs.next_boundary = (g + 1) * group;
            gs.scale = gather_rows(w.scales, w.scale_dtype, n0 + jb, valid, w.groups_per_row, g);
            if (affine) {
              gs.shift = gather_rows(w.shifts, w.scale_dtype, n0 + jb, valid, w.groups_per_row, g);
            }
          }
          v = _mm256_mul_ps(v, gs.scale);
          if (affine) v = _mm256_sub_ps(v, gs.shift);
        }
        float* p = out + static_cast<int64_t>(kk + c) * ld;
        if (width == 8) {
          _mm256_storeu_ps(p, v);
        } else {
          _mm256_maskstore_ps(p, store_mask, v);
        }
      }
    };
    __m256 r[8];
    int kk = 0;
    for (; kk + 8 <= kc; kk += 8) {
      for (int i = 0; i < 8; ++i) {
        r[i] = i < valid ? raw8<F>(rows[i], k0 + kk, bias) : _mm256_setzero_ps();
      }
      transpose8(r);
      emit(r, kk, 8);
    }
    if (kk < kc) {
      const int count = kc - kk;
      for (int i = 0; i < 8; ++i) {
        r[i] = i < valid ? raw8_tail<F>(rows[i], k0 + kk, count, bias) : _mm256_setzero_ps();
      }
      transpose8(r);
      emit(r, kk, count);
    }
  }
}

// dst[r * cols + k] = W[row0 + r][k].
template <WeightFormat F>
void decode_rows_avx2(const WeightView& w, int64_t row0, int64_t nrows, float* dst) {
  using T = Traits<F>;
  const __m256i bias = _mm256_set1_epi32(w.symmetric ? T::kSymBias : 0);
  const int64_t cols = w.cols;
  const int64_t group = T::kScaled && w.group_size > 0 ? w.group_size : cols;
  const bool affine = T::kScaled && w.shifts != nullptr;
  const uint8_t* codes = static_cast<const uint8_t*>(w.codes);
  for (int64_t r = 0; r < nrows; ++r) {
    const int64_t n = row0 + r;
    const uint8_t* row = codes + n * w.row_stride_bytes;
    float* out = dst + r * cols;
    for (int64_t g = 0, begin = 0; begin < cols; ++g, begin += group) {
      const int64_t end = begin + group < cols ? begin + group : cols;
      __m256 scale = _mm256_set1_ps(1.0f);
      __m256 shift = _mm256_setzero_ps();
      if constexpr (T::kScaled) {
        scale = _mm256_set1_ps(scalar_from(w.scales, w.scale_dtype, n * w.groups_per_row + g));
        if (affine)
          shift = _mm256_set1_ps(scalar_from(w.shifts, w.scale_dtype, n * w.groups_per_row + g));
      }
      int64_t k = begin;
      for (; k + 8 <= end; k += 8) {
        __m256 v = raw8<F>(row, k, bias);
        if constexpr (T::kScaled) {
          v = _mm256_mul_ps(v, scale);
          if (affine) v = _mm256_sub_ps(v, shift);
        }
        _mm256_storeu_ps(out + k, v);
      }
      if (k < end) {
        const int count = static_cast<int>(end - k);
        __m256 v = raw8_tail<F>(row, k, count, bias);
        if constexpr (T::kScaled) {
          v = _mm256_mul_ps(v, scale);
          if (affine) v = _mm256_sub_ps(v, shift);
        }
        _mm256_maskstore_ps(out + k, lanes_below(count), v);
      }
    }
  }
}

template <WeightFormat F>
constexpr WeightFormatKernels kernels_for() {
  return WeightFormatKernels{decode_panel_avx2<F>, decode_rows_avx2<F>};
}

const WeightFormatKernels kF32 = kernels_for<WeightFormat::F32>();
const WeightFormatKernels kF16 = kernels_for<WeightFormat::F16>();
const WeightFormatKernels kBF16 = kernels_for<WeightFormat::BF16>();
const WeightFormatKernels kFp8E4m3 = kernels_for<WeightFormat::FP8_E4M3>();
const WeightFormatKernels kFp8E5m2 = kernels_for<WeightFormat::FP8_E5M2>();
const WeightFormatKernels kInt8 = kernels_for<WeightFormat::INT8>();
const WeightFormatKernels kInt4 = kernels_for<WeightFormat::INT4>();
const WeightFormatKernels kInt2 = kernels_for<WeightFormat::INT2>();

}  // namespace

const WeightFormatKernels* decode_weights_avx2_kernels(WeightFormat f) {
  switch (f) {
    case WeightFormat::F32:
      return &kF32;
    case WeightFormat::F16:
      return &kF16;
    case WeightFormat::BF16:
      return &kBF16;
    case WeightFormat::FP8_E4M3:
      return &kFp8E4m3;
    case WeightFormat::FP8_E5M2:
      return &kFp8E5m2;
    case WeightFormat::INT8:
      return &kInt8;
    case WeightFormat::INT4:
      return &kInt4;
    case WeightFormat::INT2:
      return &kInt2;
  }
  return nullptr;
}

}  // namespace segq
