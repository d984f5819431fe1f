// resizeSquare(src, width, height, sc, scale, size, channels, start, count, weights, weightOffset) →
// Float32Array: datasets/image/resize.ts's toSquarePixels (centre crop, colour → grey, separable resize,
// grey → RGB) on a decoded image, done here so a decoding worker goes from the decoder's samples to the
// float32 pixels without running the resize in JavaScript (about a third of a first load's CPU).
//
// The pixels must be bit-identical to resize.ts's: they are hashed into the dataset's cache keys and
// fingerprints. So every step is the JavaScript's, operation for operation: samples widen exactly to
// double, products and sums are double in the same order (a sum starts at 0 and adds tap after tap, never
// reassociated), the scale is a multiplication by the caller's double `scale` where the JavaScript
// multiplies, and a value rounds to float only where the JavaScript stores into a Float32Array. The build
// (binding.gyp) adds -ffp-contract=off so no multiply-add is ever fused, and has no -ffast-math.
// The 1-D kernel (resize.ts's resampleKernel(side, size)) comes from the caller, so its weights are the
// JavaScript's own doubles; a square crop needs the same kernel on both axes.
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

napi_value fail(napi_env env, const char* what) {
  napi_throw_error(env, nullptr, what);
  return nullptr;
}

struct Kernel {
  const int32_t* start;
  const int32_t* count;
  const double* weights;
  const int32_t* offset;
};

// The first passes (resizeCrop, resize2d) are vectorised (GCC's tree-vectorize, for these two functions
// only): each row element still gets the same double multiply and add in the same tap order, two or four
// at a time, which rounds exactly as one at a time; only sums across elements would change, and there are
// none (no -ffast-math, so GCC never reassociates a reduction). __restrict: the samples are bytes, which
// could alias the double row as far as C++ knows, and would block it.
//
// The first pass's rows, kept per thread (each decoding worker is one) and grown to the largest image: a
// fresh 350 kB buffer per image would come from mmap and cost its page faults every call.
double* scratch(size_t n) {
  thread_local std::vector<double> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// resize.ts's greyToRgb: replicate.
void greyToRgb(const float* in, float* out, size_t pixels) {
  for (size_t p = 0; p < pixels; p++) out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = in[p];
}

// resize.ts's resizeRows: pass 2, each of the `size` rows of tmp (side pixels of c channels) along x.
void resizeRows(const double* tmp, int side, int c, int size, const Kernel& k, float* out) {
  const size_t rowLen = static_cast<size_t>(side) * c;
  size_t o = 0;
  for (int y = 0; y < size; y++) {
    const double* row = tmp + y * rowLen;
    for (int j = 0; j < size; j++) {
      const int cnt = k.count[j];
      const double* w = k.weights + k.offset[j];
      const double* s = row + static_cast<size_t>(k.start[j]) * c;
      if (c == 3) {
        double a0 = 0, a1 = 0, a2 = 0;
        for (int t = 0; t < cnt; t++, s += 3) {
          const double wt = w[t];
          a0 += wt * s[0];
          a1 += wt * s[1];
          a2 += wt * s[2];
        }
        out[o++] = static_cast<float>(a0);
        out[o++] = static_cast<float>(a1);
        out[o++] = static_cast<float>(a2);
      } else {
        double a = 0;
        for (int t = 0; t < cnt; t++, s++) a += w[t] * s[0];
        out[o++] = static_cast<float>(a);
      }
    }
  }
}

// resize.ts's resizeCrop: pass 1 straight from the stored samples of the side × side square at (x0, y0),
// each output summed over its taps and then multiplied by scale; then pass 2.
template <typename T>
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic"))) void resizeCrop(const T* src, int width, int x0, int y0, int side, int c, double scale, int size, const Kernel& k, float* out) {
  const size_t rowLen = static_cast<size_t>(side) * c;
  const size_t stride = static_cast<size_t>(width) * c;
  double* tmp = scratch(static_cast<size_t>(size) * rowLen);
  for (int j = 0; j < size; j++) {
    const int cnt = k.count[j];
    const double* w = k.weights + k.offset[j];
    const T* r0 = src + (static_cast<size_t>(y0 + k.start[j]) * width + x0) * c;
    double* o = tmp + j * rowLen;
    // Tap after tap over the whole row (contiguous, so the compiler can use vector instructions): each
    // o[q] still sees 0 + w0·s0 + w1·s1 + … in tap order, the JavaScript's sum, and then · scale.
    for (size_t q = 0; q < rowLen; q++) o[q] = 0;
    for (int t = 0; t < cnt; t++) {
      const double wt = w[t];
      const T* __restrict r = r0 + t * stride;
      double* __restrict oo = o;
      for (size_t q = 0; q < rowLen; q++) oo[q] += wt * static_cast<double>(r[q]);
    }
    for (size_t q = 0; q < rowLen; q++) o[q] *= scale;
  }
  resizeRows(tmp, side, c, size, k, out);
}

// resize.ts's resize2d on a square float crop (both kernels are k): pass 1 adds tap after tap into a
// zeroed row, then pass 2.
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic"))) void resize2d(const float* src, int side, int c, int size, const Kernel& k, float* out) {
  const size_t rowLen = static_cast<size_t>(side) * c;
  double* tmp = scratch(static_cast<size_t>(size) * rowLen);
  for (size_t q = 0; q < static_cast<size_t>(size) * rowLen; q++) tmp[q] = 0;
  for (int j = 0; j < size; j++) {
    double* o = tmp + j * rowLen;
    for (int t = 0; t < k.count[j]; t++) {
      const double wt = k.weights[k.offset[j] + t];
      const float* __restrict r = src + static_cast<size_t>(k.start[j] + t) * rowLen;
      double* __restrict oo = o;
      for (size_t q = 0; q < rowLen; q++) oo[q] += wt * static_cast<double>(r[q]);
    }
  }
  resizeRows(tmp, side, c, size, k, out);
}

// resize.ts's toSquarePixels after its size check; `out` holds size · size · channels floats.
template <typename T>
void toSquare(const T* src, int width, int height, int sc, double scale, int size, int channels, const Kernel& k, float* out) {
  const int side = width < height ? width : height;
  const int x0 = (width - side) / 2;  // both differences are ≥ 0, so this is Math.floor
  const int y0 = (height - side) / 2;
  const int work = sc == 3 && channels == 3 ? 3 : 1;
  const size_t px = static_cast<size_t>(size) * size;
  if (sc == work && side != size) {
    if (work == channels) {
      resizeCrop(src, width, x0, y0, side, sc, scale, size, k, out);
    } else {
      std::vector<float> grey(px);
      resizeCrop(src, width, x0, y0, side, sc, scale, size, k, grey.data());
      greyToRgb(grey.data(), out, px);
    }
    return;
  }
  std::vector<float> cropped(static_cast<size_t>(side) * side * work);
  // The luma weights as resize.ts's LUMA_BT601 (the same decimal literals, so the same doubles).
  const double wr = 0.299, wg = 0.587, wb = 0.114;
  for (int y = 0; y < side; y++) {
    const T* s = src + (static_cast<size_t>(y0 + y) * width + x0) * sc;
    float* d = cropped.data() + static_cast<size_t>(y) * side * work;
    if (sc == work) {
      const size_t e = static_cast<size_t>(side) * sc;
      // The JavaScript copies float input at scale 1 unchanged; v · 1 rounds back to v, so no branch.
      for (size_t q = 0; q < e; q++) d[q] = static_cast<float>(static_cast<double>(s[q]) * scale);
    } else {
      for (int x = 0; x < side; x++, s += 3) {
        d[x] = static_cast<float>(wr * (static_cast<double>(s[0]) * scale) + wg * (static_cast<double>(s[1]) * scale) + wb * (static_cast<double>(s[2]) * scale));
      }
    }
  }
  const float* resized = cropped.data();
  std::vector<float> res;
  if (side != size) {
    res.resize(px * work);
    resize2d(cropped.data(), side, work, size, k, res.data());
    resized = res.data();
  }
  if (work == channels) {
    for (size_t q = 0; q < px * work; q++) out[q] = resized[q];
  } else {
    greyToRgb(resized, out, px);
  }
}

bool int32Array(napi_env env, napi_value v, size_t minLen, const int32_t** p) {
  napi_typedarray_type type;
  size_t len;
  void* data;
  napi_value buf;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, &buf, &off) != napi_ok || type != napi_int32_array || len < minLen) return false;
  *p = static_cast<const int32_t*>(data);
  return true;
}

}  // namespace

napi_value ResizeSquare(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value a[11];
  napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  if (argc < 11) return fail(env, "resizeSquare expects 11 arguments");
  napi_typedarray_type type;
  size_t length;
  void* src;
  napi_value buf;
  size_t offset;
  if (napi_get_typedarray_info(env, a[0], &type, &length, &src, &buf, &offset) != napi_ok ||
      (type != napi_uint8_array && type != napi_uint16_array && type != napi_float32_array)) {
    return fail(env, "resizeSquare: the samples must be a Uint8Array, Uint16Array or Float32Array");
  }
  int32_t width, height, sc, size, channels;
  double scale;
  if (napi_get_value_int32(env, a[1], &width) != napi_ok || napi_get_value_int32(env, a[2], &height) != napi_ok ||
      napi_get_value_int32(env, a[3], &sc) != napi_ok || napi_get_value_double(env, a[4], &scale) != napi_ok ||
      napi_get_value_int32(env, a[5], &size) != napi_ok || napi_get_value_int32(env, a[6], &channels) != napi_ok) {
    return fail(env, "resizeSquare: width, height, channels, scale and size must be numbers");
  }
  if (width < 1 || height < 1 || size < 1 || (sc != 1 && sc != 3) || (channels != 1 && channels != 3) ||
      length < static_cast<size_t>(width) * height * sc) {
    return fail(env, "resizeSquare: bad image geometry");
  }
  const int side = width < height ? width : height;
  Kernel k;
  napi_value wbuf;
  void* wdata;
  size_t wlen;
  napi_typedarray_type wtype;
  if (!int32Array(env, a[7], size, &k.start) || !int32Array(env, a[8], size, &k.count) || !int32Array(env, a[10], size, &k.offset) ||
      napi_get_typedarray_info(env, a[9], &wtype, &wlen, &wdata, &wbuf, &offset) != napi_ok || wtype != napi_float64_array) {
    return fail(env, "resizeSquare: the kernel must be Int32Arrays and a Float64Array of weights");
  }
  k.weights = static_cast<const double*>(wdata);
  // Every tap must lie inside the weights and the crop: a wrong kernel fails here rather than reading past.
  for (int j = 0; j < size; j++) {
    if (k.count[j] < 1 || k.start[j] < 0 || k.start[j] + k.count[j] > side || k.offset[j] < 0 ||
        static_cast<size_t>(k.offset[j]) + k.count[j] > wlen) {
      return fail(env, "resizeSquare: the kernel does not fit the image");
    }
  }
  const size_t n = static_cast<size_t>(size) * size * channels;
  void* outData;
  napi_value outBuf, out;
  if (napi_create_arraybuffer(env, n * sizeof(float), &outData, &outBuf) != napi_ok) return fail(env, "resizeSquare: out of memory");
  float* o = static_cast<float*>(outData);
  if (type == napi_uint8_array) toSquare(static_cast<const uint8_t*>(src), width, height, sc, scale, size, channels, k, o);
  else if (type == napi_uint16_array) toSquare(static_cast<const uint16_t*>(src), width, height, sc, scale, size, channels, k, o);
  else toSquare(static_cast<const float*>(src), width, height, sc, scale, size, channels, k, o);
  napi_create_typedarray(env, napi_float32_array, n, outBuf, 0, &out);
  return out;
}
