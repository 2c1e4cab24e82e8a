// This CPU's measured fp32 FMA peak: a register-only loop (12 independent 8-lane FMA chains, no
// memory traffic) run on `threads` threads at once for about `seconds`. It is the yardstick the
// GEMM figures are quoted against ("% of FMA peak"), measured in the same process and conditions
// as the figure itself rather than taken from a nominal clock.
#pragma once

#include <cstdint>

namespace segq {

// Total GFLOP/s (2 flops per lane per FMA) of `threads` threads; 0 without AVX2/FMA.
double measure_fma_peak_gflops(int threads, double seconds = 0.2);

// `iters` iterations of the loop on the calling thread (12 FMAs of 8 lanes each per iteration);
// returns a value that depends on every result, so nothing is optimized away.
float fma_peak_loop_avx2(int64_t iters);

}  // namespace segq
