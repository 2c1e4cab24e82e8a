// An approximation of OpenCV's cv::resize(..., INTER_LINEAR) on 8-bit images, for the `mmseg`
// protocol (mmcv.imrescale uses it). It follows OpenCV's scalar path (resizeGeneric_ with
// HResizeLinear / VResizeLinear and FixedPtCast): source coordinate (dst + 0.5) * scale - 0.5 in
// float, borders clamped, 11-bit fixed-point weights rounded half to even, horizontal products
// kept in int, vertical sum rounded by (+2^21) >> 22. OpenCV's SIMD and IPP paths round
// differently in some cases (off by one on a few pixels), so this is NOT bit-exact with OpenCV.
#pragma once

#include "io/image.h"

namespace segq {

// image [H, W, C] -> [out_h, out_w, C], bilinear without antialiasing.
ImageU8 cv_resize_linear(const ImageU8& image, int out_h, int out_w);

}  // namespace segq
