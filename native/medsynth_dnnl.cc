// medsynth's optional native kernels: convolution (forward, backward-data, backward-weights) and matmul
// on oneDNN, per-example conv weight gradients, and sums over leading axes (plain C++ with OpenMP), the CPU library PyTorch's own convolutions use. Built only where Debian's libdnnl-dev is
// installed (scripts/build-native.mjs); src/backend/native.ts registers these as the wasm backend's
// Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter / BatchMatMul kernels, reading and writing the
// tensors in place in the wasm heap, so nothing is copied and every other op stays on wasm.
//
// Layouts (tfjs's): activations NHWC, conv filters HWIO ([KH, KW, Cin, Cout]), matmul operands row-major
// [batch, rows, cols]. oneDNN picks its own blocked weight layout ("any"); weights are reordered in and
// gradients out. Primitives are cached by shape, since creating one JIT-compiles code.
#include <node_api.h>
#include <dnnl.hpp>

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

napi_value ResizeSquare(napi_env env, napi_callback_info info);  // medsynth_resize.cc
#ifdef MEDSYNTH_JPEG
napi_value DecodeJpeg(napi_env env, napi_callback_info info);  // medsynth_jpeg.cc
#endif

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

struct ConvParams {
  int64_t n, h, w, ci, co, kh, kw, oh, ow, sh, sw, pt, pl, pb, pr;
  std::string key(int kind) const {
    std::string k = std::to_string(kind);
    for (int64_t v : {n, h, w, ci, co, kh, kw, oh, ow, sh, sw, pt, pl, pb, pr}) k += "," + std::to_string(v);
    return k;
  }
};

// A cached convolution: the forward primitive descriptor (the hint backward primitives need), the
// primitive for the requested direction, and the reorder between user HWIO weights and oneDNN's layout.
struct ConvEntry {
  memory::desc src, dst, wUser, wPrim;
  dnnl::primitive prim;
  bool needsReorder = false;
  dnnl::reorder reorderW;
};

std::unordered_map<std::string, std::unique_ptr<ConvEntry>>& convCache() {
  static std::unordered_map<std::string, std::unique_ptr<ConvEntry>> c;
  return c;
}

// kind: 0 forward (x, w -> y), 1 backward data (dy, w -> dx), 2 backward weights (x, dy -> dw).
ConvEntry& convEntry(int kind, const ConvParams& p) {
  auto& cache = convCache();
  std::string key = p.key(kind);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;

  auto e = std::make_unique<ConvEntry>();
  memory::dims srcDims = {p.n, p.ci, p.h, p.w};
  memory::dims weiDims = {p.co, p.ci, p.kh, p.kw};
  memory::dims dstDims = {p.n, p.co, p.oh, p.ow};
  memory::dims strides = {p.sh, p.sw};
  memory::dims padL = {p.pt, p.pl};
  memory::dims padR = {p.pb, p.pr};
  e->src = memory::desc(srcDims, dt::f32, tag::nhwc);
  e->dst = memory::desc(dstDims, dt::f32, tag::nhwc);
  e->wUser = memory::desc(weiDims, dt::f32, tag::hwio);
  memory::desc wAny(weiDims, dt::f32, tag::any);

  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                     e->src, wAny, e->dst, strides, padL, padR);
  dnnl::convolution_forward::primitive_desc fpd(fd, eng());
  if (kind == 0) {
    e->wPrim = fpd.weights_desc();
    e->prim = dnnl::convolution_forward(fpd);
  } else if (kind == 1) {
    dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, e->src, wAny, e->dst, strides, padL, padR);
    dnnl::convolution_backward_data::primitive_desc bpd(bd, eng(), fpd);
    e->wPrim = bpd.weights_desc();
    e->prim = dnnl::convolution_backward_data(bpd);
  } else {
    dnnl::convolution_backward_weights::desc bd(dnnl::algorithm::convolution_direct, e->src, wAny, e->dst, strides, padL, padR);
    dnnl::convolution_backward_weights::primitive_desc bpd(bd, eng(), fpd);
    e->wPrim = bpd.diff_weights_desc();
    e->prim = dnnl::convolution_backward_weights(bpd);
  }
  e->needsReorder = e->wPrim != e->wUser;
  if (e->needsReorder) {
    // Forward and backward-data read the weights (user -> primitive); backward-weights writes them.
    e->reorderW = kind == 2 ? dnnl::reorder(memory(e->wPrim, eng(), nullptr), memory(e->wUser, eng(), nullptr))
                            : dnnl::reorder(memory(e->wUser, eng(), nullptr), memory(e->wPrim, eng(), nullptr));
  }
  ConvEntry& ref = *e;
  cache.emplace(key, std::move(e));
  return ref;
}

void runConv(int kind, const ConvParams& p, float* a, float* b, float* out) {
  ConvEntry& e = convEntry(kind, p);
  auto& s = strm();
  if (kind == 0 || kind == 1) {
    // a = x (fwd) or dy (bwd data); b = user weights; out = y or dx.
    memory wUser(e.wUser, eng(), b);
    memory w = wUser;
    if (e.needsReorder) {
      w = memory(e.wPrim, eng());
      e.reorderW.execute(s, wUser, w);
    }
    if (kind == 0) {
      memory x(e.src, eng(), a), y(e.dst, eng(), out);
      e.prim.execute(s, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}});
    } else {
      memory dy(e.dst, eng(), a), dx(e.src, eng(), out);
      e.prim.execute(s, {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, dx}});
    }
  } else {
    // a = x, b = dy, out = dw (user HWIO).
    memory x(e.src, eng(), a), dy(e.dst, eng(), b), dwUser(e.wUser, eng(), out);
    memory dw = e.needsReorder ? memory(e.wPrim, eng()) : dwUser;
    e.prim.execute(s, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw}});
    if (e.needsReorder) e.reorderW.execute(s, dw, dwUser);
  }
  s.wait();
}

// Per-example weight gradients (Goodfellow 2015: ∇W_i of example i alone; for a conv, the backward-
// weights convolution of x_i and dy_i): for each i < n, one batch-1 backward-weights convolution.
//
// Threads: the examples are shared out over one OpenMP parallel region (the team every other kernel here
// runs on), each thread running a primitive created for ONE thread, with its own stream and scratchpad,
// taking the next example from a shared counter. A batch-1 convolution is small (0.01–0.2 ms here); run
// with oneDNN's own threads, each of the n calls ends in a barrier, and on a machine shared with other
// processes a descheduled thread stalls every one of them (measured: 10–70× slower under load 5 on 2
// cores). Here there is one barrier per call. (Threads of our own instead of the OpenMP team: cvae28's
// capture + norms ~3 ms slower, the team's idle threads spinning beside them.)
//
// Layout: ∇W_i is written in the primitive's own weight layout (oneDNN's blocked layout, "any"), as is:
// a reorder to HWIO cost 20–60 % of the convolution itself, and asking for HWIO directly selects the
// gemm-based implementation (2.5–3.5× slower per example here). `index` gives, for each HWIO filter entry
// (kh, kw, ci, co) flattened, its position in that block; `size` ≥ kh·kw·ci·co floats (channel padding,
// zeroed here, so the squared norm of the block is ||∇W_i||²). Without `out` (norms only), each thread
// writes ∇W_i into one block of its own, which stays in cache.
struct PerExampleEntry {
  memory::desc src, dst, w, scratch;
  dnnl::primitive prim;
  size_t size = 0;
  std::vector<int32_t> index;
  std::vector<int32_t> padding;
};

std::unordered_map<std::string, std::unique_ptr<PerExampleEntry>>& pexCache() {
  static std::unordered_map<std::string, std::unique_ptr<PerExampleEntry>> c;
  return c;
}

PerExampleEntry& perExampleEntry(const ConvParams& p0) {
  ConvParams p = p0;
  p.n = 1;
  auto& cache = pexCache();
  std::string key = p.key(3);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;

  auto e = std::make_unique<PerExampleEntry>();
  memory::dims srcDims = {1, p.ci, p.h, p.w};
  memory::dims weiDims = {p.co, p.ci, p.kh, p.kw};
  memory::dims dstDims = {1, p.co, p.oh, p.ow};
  memory::dims strides = {p.sh, p.sw};
  memory::dims padL = {p.pt, p.pl};
  memory::dims padR = {p.pb, p.pr};
  e->src = memory::desc(srcDims, dt::f32, tag::nhwc);
  e->dst = memory::desc(dstDims, dt::f32, tag::nhwc);
  memory::desc wAny(weiDims, dt::f32, tag::any);
  memory::desc wUser(weiDims, dt::f32, tag::hwio);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  // Created for one thread (oneDNN sizes its work split by the thread count at creation).
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  try {
    dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, e->src, wAny, e->dst,
                                       strides, padL, padR);
    dnnl::convolution_forward::primitive_desc fpd(fd, eng());
    dnnl::convolution_backward_weights::desc bd(dnnl::algorithm::convolution_direct, e->src, wAny, e->dst, strides, padL, padR);
    dnnl::convolution_backward_weights::primitive_desc bpd(bd, attr, eng(), fpd);
    e->w = bpd.diff_weights_desc();
    e->scratch = bpd.scratchpad_desc();
    e->prim = dnnl::convolution_backward_weights(bpd);
  } catch (...) {
    omp_set_num_threads(saved);
    throw;
  }
  omp_set_num_threads(saved);
  // Where each HWIO entry lands: reorder 1..K (exact in float for K < 2^24) into the primitive's layout.
  const size_t k = p.kh * p.kw * p.ci * p.co;
  e->size = e->w.get_size() / sizeof(float);
  std::vector<float> iota(k), blocked(e->size, 0.f);
  for (size_t j = 0; j < k; j++) iota[j] = static_cast<float>(j + 1);
  memory from(wUser, eng(), iota.data()), to(e->w, eng(), blocked.data());
  dnnl::reorder(from, to).execute(strm(), from, to);
  strm().wait();
  e->index.assign(k, -1);
  for (size_t pos = 0; pos < e->size; pos++) {
    const float v = blocked[pos];
    if (v > 0) e->index[static_cast<size_t>(v) - 1] = static_cast<int32_t>(pos);
    else e->padding.push_back(static_cast<int32_t>(pos));
  }
  for (int32_t pos : e->index) {
    if (pos < 0) throw std::runtime_error("convPerExample: a filter entry has no place in the primitive's layout");
  }
  PerExampleEntry& ref = *e;
  cache.emplace(key, std::move(e));
  return ref;
}

// x [n, h, w, ci], dy [n, oh, ow, co] (NHWC); out [n, size] (or null): ∇W_i in the primitive's layout
// (see above); norms [n] (or null): ||∇W_i||², summed while ∇W_i is still in cache.
void runConvPerExample(const ConvParams& p, const float* x, const float* dy, float* out, float* norms) {
  if (!out && !norms) return;
  PerExampleEntry& e = perExampleEntry(p);
  const size_t xs = p.h * p.w * p.ci, ys = p.oh * p.ow * p.co, ws = e.size;
  const int threads = std::max(1, std::min<int>(omp_get_max_threads(), static_cast<int>(p.n)));
  std::atomic<int64_t> next{0};
  std::exception_ptr failed;
  std::mutex failMutex;
  auto work = [&]() {
    try {
      omp_set_num_threads(1);  // this thread's own setting: anything oneDNN parallelises runs inline
      dnnl::stream s(eng());
      memory scratch(e.scratch, eng());
      memory xm(e.src, eng(), nullptr), dym(e.dst, eng(), nullptr), dw(e.w, eng(), nullptr);
      memory own = out ? memory() : memory(e.w, eng());
      for (int64_t i = next++; i < p.n; i = next++) {
        float* wi = out ? out + i * ws : static_cast<float*>(own.get_data_handle());
        xm.set_data_handle(const_cast<float*>(x + i * xs));
        dym.set_data_handle(const_cast<float*>(dy + i * ys));
        dw.set_data_handle(wi);
        e.prim.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_DIFF_WEIGHTS, dw}, {DNNL_ARG_SCRATCHPAD, scratch}});
        s.wait();
        for (int32_t pos : e.padding) wi[pos] = 0.f;
        if (norms) {
          // 16 independent partial sums: vectorisable without reassociating one accumulator.
          float acc[16] = {0};
          size_t j = 0;
          for (; j + 16 <= ws; j += 16) {
            for (int l = 0; l < 16; l++) acc[l] += wi[j + l] * wi[j + l];
          }
          float total = 0;
          for (; j < ws; j++) total += wi[j] * wi[j];
          for (int l = 0; l < 16; l++) total += acc[l];
          norms[i] = total;
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failMutex);
      if (!failed) failed = std::current_exception();
      next = p.n;
    }
  };
  const int saved = omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  work();
  omp_set_num_threads(saved);
  if (failed) std::rethrow_exception(failed);
}

std::unordered_map<std::string, std::unique_ptr<dnnl::matmul>>& mmCache() {
  static std::unordered_map<std::string, std::unique_ptr<dnnl::matmul>> c;
  return c;
}

// c[b] = op(a[b]) · op(b[b]); a batch of 1 broadcasts. Shapes: a [ba, m, k] (or [ba, k, m] if ta),
// b [bb, k, n] (or [bb, n, k] if tb), c [max(ba, bb), m, n].
void runMatMul(int64_t ba, int64_t bb, int64_t m, int64_t k, int64_t n, bool ta, bool tb, float* a, float* b, float* c) {
  int64_t bc = ba > bb ? ba : bb;
  memory::desc aMd({ba, m, k}, dt::f32, ta ? tag::acb : tag::abc);
  memory::desc bMd({bb, k, n}, dt::f32, tb ? tag::acb : tag::abc);
  memory::desc cMd({bc, m, n}, dt::f32, tag::abc);
  std::string key;
  for (int64_t v : {ba, bb, m, k, n, (int64_t)ta, (int64_t)tb}) key += std::to_string(v) + ",";
  auto& cache = mmCache();
  auto it = cache.find(key);
  if (it == cache.end()) {
    dnnl::matmul::desc d(aMd, bMd, cMd);
    dnnl::matmul::primitive_desc pd(d, eng());
    it = cache.emplace(key, std::make_unique<dnnl::matmul>(pd)).first;
  }
  memory am(aMd, eng(), a), bm(bMd, eng(), b), cm(cMd, eng(), c);
  it->second->execute(strm(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  strm().wait();
}

// ---- N-API glue -------------------------------------------------------------------------------------

// A typed array's data (at its byte offset) and element count, when it has the expected element type.
std::pair<void*, size_t> typedArray(napi_env env, napi_value v, napi_typedarray_type want, const char* what, const char* typeName) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buf;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buf, &offset) != napi_ok || type != want) {
    throw std::runtime_error(std::string(what) + " must be a " + typeName);
  }
  return {data, length};
}

float* floatData(napi_env env, napi_value v, size_t need, const char* what) {
  const auto [data, length] = typedArray(env, v, napi_float32_array, what, "Float32Array");
  if (length < need) throw std::runtime_error(std::string(what) + " is shorter than its shape");
  return static_cast<float*>(data);
}

int64_t intArg(napi_env env, napi_value v) {
  int64_t out = 0;
  if (napi_get_value_int64(env, v, &out) != napi_ok) throw std::runtime_error("expected an integer argument");
  return out;
}

// The first n integers of the JavaScript array `arr` into d.
void readDims(napi_env env, napi_value arr, int64_t* d, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, arr, i, &e) != napi_ok) throw std::runtime_error("bad dims");
    d[i] = intArg(env, e);
  }
}

// [n,h,w,ci,co,kh,kw,oh,ow,sh,sw,pt,pl,pb,pr] from a JavaScript array.
ConvParams convParamsArg(napi_env env, napi_value arr) {
  int64_t d[15];
  readDims(env, arr, d, 15);
  return ConvParams{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14]};
}

// Runs body(args) with exactly N arguments; a C++ exception becomes a JavaScript Error.
template <size_t N, typename Body>
napi_value withArgs(napi_env env, napi_callback_info info, const char* name, Body body) {
  size_t argc = N;
  napi_value args[N];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  try {
    if (argc != N) throw std::runtime_error(std::string(name) + " expects " + std::to_string(N) + " arguments");
    return body(args);
  } catch (const std::exception& ex) {
    napi_throw_error(env, nullptr, ex.what());
  }
  return nullptr;
}

// conv(kind, a, b, out, [n,h,w,ci,co,kh,kw,oh,ow,sh,sw,pt,pl,pb,pr])
napi_value Conv(napi_env env, napi_callback_info info) {
  return withArgs<5>(env, info, "conv", [&](napi_value* args) -> napi_value {
    int kind = static_cast<int>(intArg(env, args[0]));
    ConvParams p = convParamsArg(env, args[4]);
    size_t x = p.n * p.h * p.w * p.ci, y = p.n * p.oh * p.ow * p.co, w = p.kh * p.kw * p.ci * p.co;
    size_t na = kind == 1 ? y : x, nb = kind == 2 ? y : w, no = kind == 0 ? y : kind == 1 ? x : w;
    runConv(kind, p, floatData(env, args[1], na, "a"), floatData(env, args[2], nb, "b"), floatData(env, args[3], no, "out"));
    return static_cast<napi_value>(nullptr);
  });
}

// convPerExample(x, dy, out or null, [n,h,w,ci,co,kh,kw,oh,ow,sh,sw,pt,pl,pb,pr], norms or null)
napi_value ConvPerExample(napi_env env, napi_callback_info info) {
  return withArgs<5>(env, info, "convPerExample", [&](napi_value* args) -> napi_value {
    ConvParams p = convParamsArg(env, args[3]);
    size_t x = p.n * p.h * p.w * p.ci, y = p.n * p.oh * p.ow * p.co, w = p.n * perExampleEntry(p).size;
    auto optional = [&](napi_value v, size_t need, const char* what) -> float* {
      napi_valuetype t;
      napi_typeof(env, v, &t);
      return t == napi_null || t == napi_undefined ? nullptr : floatData(env, v, need, what);
    };
    float* out = optional(args[2], w, "out");
    float* norms = optional(args[4], p.n, "norms");
    runConvPerExample(p, floatData(env, args[0], x, "x"), floatData(env, args[1], y, "dy"), out, norms);
    return static_cast<napi_value>(nullptr);
  });
}

// convPerExampleLayout(dims) -> { size, index }: floats per example in convPerExample's output, and the
// position there of each HWIO filter entry (Int32Array, kh·kw·ci·co entries).
napi_value ConvPerExampleLayout(napi_env env, napi_callback_info info) {
  return withArgs<1>(env, info, "convPerExampleLayout", [&](napi_value* args) -> napi_value {
    ConvParams p = convParamsArg(env, args[0]);
    PerExampleEntry& e = perExampleEntry(p);
    napi_value buf, index, size, out;
    void* data;
    size_t bytes = e.index.size() * sizeof(int32_t);
    napi_create_arraybuffer(env, bytes, &data, &buf);
    std::copy(e.index.begin(), e.index.end(), static_cast<int32_t*>(data));
    napi_create_typedarray(env, napi_int32_array, e.index.size(), buf, 0, &index);
    napi_create_int64(env, static_cast<int64_t>(e.size), &size);
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "size", size);
    napi_set_named_property(env, out, "index", index);
    return out;
  });
}

// matmul(a, b, c, [ba, bb, m, k, n, ta, tb])
napi_value MatMul(napi_env env, napi_callback_info info) {
  return withArgs<4>(env, info, "matmul", [&](napi_value* args) -> napi_value {
    int64_t d[7];
    readDims(env, args[3], d, 7);
    int64_t bc = d[0] > d[1] ? d[0] : d[1];
    runMatMul(d[0], d[1], d[2], d[3], d[4], d[5] != 0, d[6] != 0, floatData(env, args[0], d[0] * d[2] * d[3], "a"),
              floatData(env, args[1], d[1] * d[3] * d[4], "b"), floatData(env, args[2], bc * d[2] * d[4], "c"));
    return static_cast<napi_value>(nullptr);
  });
}

// Sum over leading axes: out[c] = sum over r of x[r * cols + c], x seen as [rows, cols] (a bias gradient:
// an NHWC tensor summed over N, H and W). Rows go in fixed blocks of 256; each block is summed in float in
// row order, and the block sums are added in double in block order, so the result has the same bits for
// any number of threads. The blocks are shared over OpenMP's threads.
void runSumLeading(const float* x, float* out, int64_t rows, int64_t cols) {
  const int64_t block = 256;
  const int64_t nb = (rows + block - 1) / block;
  std::vector<float> partial(static_cast<size_t>(nb * cols));
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < nb; b++) {
    float* p = partial.data() + b * cols;
    std::fill(p, p + cols, 0.0f);
    const int64_t end = std::min(rows, (b + 1) * block);
    for (int64_t r = b * block; r < end; r++) {
      const float* xr = x + r * cols;
      for (int64_t c = 0; c < cols; c++) p[c] += xr[c];
    }
  }
  for (int64_t c = 0; c < cols; c++) {
    double acc = 0;
    for (int64_t b = 0; b < nb; b++) acc += partial[b * cols + c];
    out[c] = static_cast<float>(acc);
  }
}

// sumLeading(x, out, [rows, cols])
napi_value SumLeading(napi_env env, napi_callback_info info) {
  return withArgs<3>(env, info, "sumLeading", [&](napi_value* args) -> napi_value {
    int64_t d[2];
    readDims(env, args[2], d, 2);
    runSumLeading(floatData(env, args[0], d[0] * d[1], "x"), floatData(env, args[1], d[1], "out"), d[0], d[1]);
    return static_cast<napi_value>(nullptr);
  });
}

// ==== Element-wise float32 kernels (issue #23 item 2) ==============================================
// Binary Add / Sub / Multiply / RealDiv, LeakyReLU and ReLU forward, their gradient dy·step(x, α), and
// Concat / SplitV, on both cores where tfjs's wasm kernels run on one with 128-bit SIMD. src/backend/
// native.ts sends them here only above a measured size; smaller tensors stay on wasm.
//
// Every result is the same float32 bits as tfjs's cpu backend (the oracle), and so the same for any
// thread count: each output element is one correctly rounded IEEE operation of its own inputs, written by
// whichever thread owns it. No reciprocal multiplication for division and no fused multiply-add (the
// build has no -ffast-math, and -std=c++17 turns floating-point contraction off). Loops are written
// branch-free (both sides computed, then selected) so that they vectorise: with -ftrapping-math, the
// default, GCC will not compute a floating-point expression that a branch might skip.
//
// Threads: not an OpenMP parallel region. A region ends in a barrier, and on a machine shared with other
// processes a descheduled team thread stalls it for a scheduler tick (measured here under load ~2: a
// 32K-element add took 5.7 ms, where wasm's took 9 µs). Instead the calling thread works through the
// blocks itself while helper threads, woken at the start, take blocks from the same counter; at the end it
// waits only for blocks a helper has already taken. A helper that was not scheduled in time takes nothing
// and costs nothing; only one preempted in the middle of its block (~10 µs of work) is waited for.

// Elements per work block: large enough that claiming one is noise, small enough that both threads get
// work from a few hundred thousand elements.
constexpr int64_t kElemBlock = 16384;

class BlockPool {
 public:
  // Runs body(k) for every k < blocks, on the calling thread and the helpers; returns when all are done.
  template <typename Body>
  void run(int64_t blocks, const Body& body) {
    std::unique_lock<std::mutex> one(runMutex_, std::try_to_lock);  // another JavaScript thread: inline
    if (blocks <= 1 || helpers_.empty() || !one.owns_lock()) {
      for (int64_t k = 0; k < blocks; k++) body(k);
      return;
    }
    const std::function<void(int64_t)> fn = [&body](int64_t k) { body(k); };
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(m_);
      gen = ++generation_;
      job_ = &fn;
      blocks_ = blocks;
      done_ = 0;
      next_ = gen << 32;  // (generation, next block): a claim is valid only for its own job
    }
    cv_.notify_all();
    int64_t mine = 0;
    for (int64_t k; (k = claim(gen, blocks)) >= 0; mine++) body(k);
    done_ += mine;
    while (done_.load() < blocks) std::this_thread::yield();
  }

  // The calling thread and the helpers.
  int threads() const { return 1 + static_cast<int>(helpers_.size()); }

  static BlockPool& get() {
    // Never destroyed: the helpers sleep until the process ends (a joinable std::thread would abort it).
    static BlockPool* pool = new BlockPool(std::max(0, std::min(7, omp_get_max_threads() - 1)));
    return *pool;
  }

 private:
  explicit BlockPool(int helpers) {
    for (int i = 0; i < helpers; i++) helpers_.emplace_back([this] { helperLoop(); }).detach();
  }

  // The next block of job `gen`, or -1 when that job has none left (or is over).
  int64_t claim(uint64_t gen, int64_t blocks) {
    uint64_t v = next_.load();
    while ((v >> 32) == (gen & 0xffffffffu) && static_cast<int64_t>(v & 0xffffffffu) < blocks) {
      if (next_.compare_exchange_weak(v, v + 1)) return static_cast<int64_t>(v & 0xffffffffu);
    }
    return -1;
  }

  void helperLoop() {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int64_t)>* job;
      int64_t blocks;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        job = job_;
        blocks = blocks_;
      }
      // A successful claim means the caller is still waiting for that block, so `job` is alive.
      for (int64_t k; (k = claim(seen, blocks)) >= 0;) {
        (*job)(k);
        done_++;
      }
    }
  }

  std::vector<std::thread> helpers_;
  std::mutex runMutex_, m_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t blocks_ = 0;
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> done_{0};
};

// body(s, len) over [0, n) in kElemBlock pieces.
template <typename Body>
void flatParallel(int64_t n, const Body& body) {
  BlockPool::get().run((n + kElemBlock - 1) / kElemBlock, [&](int64_t k) {
    const int64_t s = k * kElemBlock;
    body(s, std::min(kElemBlock, n - s));
  });
}

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

template <int Op>
inline float binaryApply(float a, float b) {
  if (Op == kAdd) return a + b;
  if (Op == kSub) return a - b;
  if (Op == kMul) return a * b;
  return a / b;
}

// o[j] = a[j] op b[j] for j < len, where an operand flagged scalar is read at [0] for every j.
template <int Op, bool AScalar, bool BScalar>
void binarySpan(const float* a, const float* b, float* o, int64_t len) {
  const float a0 = a[0], b0 = b[0];
#pragma omp simd
  for (int64_t j = 0; j < len; j++) o[j] = binaryApply<Op>(AScalar ? a0 : a[j], BScalar ? b0 : b[j]);
}

// Operand kinds: 0 = full (one value per output element), 1 = a scalar, 2 = a row of `cols` values
// broadcast along the last axis (a [C] bias against [..., C]). out has n = rows·cols elements.
template <int Op, bool AScalar, bool BScalar>
void binaryRun(const float* a, int ka, const float* b, int kb, float* out, int64_t n, int64_t cols) {
  if (ka == 2 || kb == 2) {
    // Whole rows per block: the row operand is read from its start, the full one from the row's offset.
    const int64_t rows = n / cols, per = std::max<int64_t>(1, kElemBlock / cols);
    BlockPool::get().run((rows + per - 1) / per, [&](int64_t k) {
      for (int64_t r = k * per, end = std::min(rows, r + per); r < end; r++) {
        binarySpan<Op, AScalar, BScalar>(ka == 0 ? a + r * cols : a, kb == 0 ? b + r * cols : b, out + r * cols, cols);
      }
    });
    return;
  }
  flatParallel(n, [&](int64_t s, int64_t len) { binarySpan<Op, AScalar, BScalar>(ka == 0 ? a + s : a, kb == 0 ? b + s : b, out + s, len); });
}

template <int Op>
void binaryDispatch(const float* a, int ka, const float* b, int kb, float* out, int64_t n, int64_t cols) {
  if (ka == 1 && kb != 1) binaryRun<Op, true, false>(a, ka, b, kb, out, n, cols);
  else if (kb == 1 && ka != 1) binaryRun<Op, false, true>(a, ka, b, kb, out, n, cols);
  else binaryRun<Op, false, false>(a, ka, b, kb, out, n, cols);  // both full (or n = 1)
}

void runBinary(int op, const float* a, int ka, const float* b, int kb, float* out, int64_t n, int64_t cols) {
  switch (op) {
    case kAdd: return binaryDispatch<kAdd>(a, ka, b, kb, out, n, cols);
    case kSub: return binaryDispatch<kSub>(a, ka, b, kb, out, n, cols);
    case kMul: return binaryDispatch<kMul>(a, ka, b, kb, out, n, cols);
    case kDiv: return binaryDispatch<kDiv>(a, ka, b, kb, out, n, cols);
  }
  throw std::runtime_error("binary: unknown op");
}

// LeakyReLU as tfjs's cpu kernel computes it: y = x < 0 ? α·x : x, with α the JavaScript double and the
// product rounded to double, then to float32 (a float32 α would round differently for ~1 in 4 inputs).
// NaN and −0 pass through unchanged (x < 0 is false for both). no-trapping-math lets GCC convert every
// element to double unconditionally (the select is then branch-free); it changes no value.
__attribute__((optimize("no-trapping-math"))) void leakyReluSpan(const float* x, float* y, int64_t len, double alpha) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) {
    const float v = x[j];
    const float scaled = static_cast<float>(alpha * static_cast<double>(v));
    y[j] = v < 0 ? scaled : v;
  }
}

void runLeakyRelu(const float* x, float* y, int64_t n, double alpha) {
  flatParallel(n, [&](int64_t s, int64_t len) { leakyReluSpan(x + s, y + s, len, alpha); });
}

// ReLU as Math.max(0, x): x for x > 0, NaN for NaN, +0 otherwise (also for x = −0).
void reluSpan(const float* x, float* y, int64_t len) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) {
    const float v = x[j];
    y[j] = (v > 0) | (v != v) ? v : 0.0f;
  }
}

void runRelu(const float* x, float* y, int64_t n) {
  flatParallel(n, [&](int64_t s, int64_t len) { reluSpan(x + s, y + s, len); });
}

// The gradient of LeakyReLU (α) or ReLU (α = 0), written as tfjs composes it, dx = dy · step(x, α), with
//   step(x, α) = NaN for NaN x, 1 for x > 0, α (as float32) otherwise,
// and the product a float32 multiply: so dy·0 keeps the sign of dy, and an infinite dy gives NaN where
// x ≤ 0, exactly as the composed form does.
void stepGradSpan(const float* dy, const float* x, float* dx, int64_t len, float alpha) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
#pragma omp simd
  for (int64_t j = 0; j < len; j++) {
    const float v = x[j];
    const float positive = v > 0 ? 1.0f : alpha;
    dx[j] = dy[j] * (v != v ? nan : positive);
  }
}

void runStepGrad(const float* dy, const float* x, float* dx, int64_t n, float alpha) {
  flatParallel(n, [&](int64_t s, int64_t len) { stepGradSpan(dy + s, x + s, dx + s, len, alpha); });
}

// dst[j] = src[j] for j < len. Rows of a few floats (an image's 1 channel beside 4 condition channels)
// are copied by a plain loop: a memmove call per row costs more than the copy. GCC would turn the loop
// back into a memmove call (loop-distribute-patterns), hence the attribute.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) inline void copyFloats(const float* src, float* dst, int64_t len) {
  if (len > 32) {
    std::copy(src, src + len, dst);
    return;
  }
  for (int64_t j = 0; j < len; j++) dst[j] = src[j];
}

// Concat along an axis, each input k seen as [outer, inner_k] and the output as [outer, Σ inner_k]; with
// `split`, the inverse (SplitV): the parts are written from the whole. Only copies, so any order gives
// the same bits. Short rows (a concat along a late axis) go whole rows to a block; long ones (along
// axis 0) are cut into kElemBlock pieces.
void runConcat(const std::vector<float*>& parts, const std::vector<int64_t>& inner, float* whole, int64_t outer, bool split) {
  const size_t k = parts.size();
  int64_t total = 0;
  for (int64_t v : inner) total += v;
  auto copy = [&](size_t i, int64_t row, int64_t from, int64_t len, int64_t offset) {
    float* p = parts[i] + row * inner[i] + from;
    float* w = whole + row * total + offset + from;
    if (split) copyFloats(w, p, len);
    else copyFloats(p, w, len);
  };
  if (total <= kElemBlock) {
    const int64_t per = std::max<int64_t>(1, kElemBlock / total);
    BlockPool::get().run((outer + per - 1) / per, [&](int64_t b) {
      for (int64_t r = b * per, end = std::min(outer, r + per); r < end; r++) {
        int64_t offset = 0;
        for (size_t i = 0; i < k; i++) {
          copy(i, r, 0, inner[i], offset);
          offset += inner[i];
        }
      }
    });
    return;
  }
  struct Piece {
    size_t part;
    int64_t row, from, len, offset;
  };
  std::vector<Piece> pieces;
  for (int64_t r = 0; r < outer; r++) {
    int64_t offset = 0;
    for (size_t i = 0; i < k; i++) {
      for (int64_t f = 0; f < inner[i]; f += kElemBlock) pieces.push_back({i, r, f, std::min(kElemBlock, inner[i] - f), offset});
      offset += inner[i];
    }
  }
  BlockPool::get().run(static_cast<int64_t>(pieces.size()), [&](int64_t j) {
    const Piece& q = pieces[j];
    copy(q.part, q.row, q.from, q.len, q.offset);
  });
}

// ---- N-API glue of the element-wise kernels ----

// binary(op, a, b, out, [n, cols, kindA, kindB]); op 0 add, 1 sub, 2 mul, 3 div; kinds as in binaryRun.
napi_value Binary(napi_env env, napi_callback_info info) {
  return withArgs<5>(env, info, "binary", [&](napi_value* args) -> napi_value {
    const int op = static_cast<int>(intArg(env, args[0]));
    int64_t d[4];
    readDims(env, args[4], d, 4);
    const int64_t n = d[0], cols = d[1];
    const int ka = static_cast<int>(d[2]), kb = static_cast<int>(d[3]);
    if (n <= 0 || cols <= 0 || n % cols != 0 || ka < 0 || ka > 2 || kb < 0 || kb > 2) throw std::runtime_error("binary: bad dims");
    auto need = [&](int kind) -> size_t { return kind == 0 ? n : kind == 1 ? 1 : cols; };
    runBinary(op, floatData(env, args[1], need(ka), "a"), ka, floatData(env, args[2], need(kb), "b"), kb, floatData(env, args[3], n, "out"), n, cols);
    return static_cast<napi_value>(nullptr);
  });
}

double doubleArg(napi_env env, napi_value v) {
  double out = 0;
  if (napi_get_value_double(env, v, &out) != napi_ok) throw std::runtime_error("expected a number argument");
  return out;
}

// unary(kind, x, out, n, alpha): kind 0 LeakyReLU (alpha), 1 ReLU.
napi_value Unary(napi_env env, napi_callback_info info) {
  return withArgs<5>(env, info, "unary", [&](napi_value* args) -> napi_value {
    const int kind = static_cast<int>(intArg(env, args[0]));
    const int64_t n = intArg(env, args[3]);
    const float* x = floatData(env, args[1], n, "x");
    float* y = floatData(env, args[2], n, "out");
    if (kind == 0) runLeakyRelu(x, y, n, doubleArg(env, args[4]));
    else if (kind == 1) runRelu(x, y, n);
    else throw std::runtime_error("unary: unknown kind");
    return static_cast<napi_value>(nullptr);
  });
}

// stepGrad(dy, x, dx, n, alpha)
napi_value StepGrad(napi_env env, napi_callback_info info) {
  return withArgs<5>(env, info, "stepGrad", [&](napi_value* args) -> napi_value {
    const int64_t n = intArg(env, args[3]);
    runStepGrad(floatData(env, args[0], n, "dy"), floatData(env, args[1], n, "x"), floatData(env, args[2], n, "dx"), n,
                static_cast<float>(doubleArg(env, args[4])));
    return static_cast<napi_value>(nullptr);
  });
}

// concat(parts, whole, [outer, inner_0, inner_1, ...], split): parts an array of Float32Arrays.
napi_value Concat(napi_env env, napi_callback_info info) {
  return withArgs<4>(env, info, "concat", [&](napi_value* args) -> napi_value {
    uint32_t k = 0;
    if (napi_get_array_length(env, args[0], &k) != napi_ok || k == 0) throw std::runtime_error("concat: parts must be a non-empty array");
    std::vector<int64_t> d(k + 1);
    readDims(env, args[2], d.data(), k + 1);
    const int64_t outer = d[0];
    std::vector<int64_t> inner(d.begin() + 1, d.end());
    std::vector<float*> parts(k);
    int64_t total = 0;
    for (uint32_t i = 0; i < k; i++) {
      napi_value e;
      if (napi_get_element(env, args[0], i, &e) != napi_ok) throw std::runtime_error("concat: bad part");
      if (inner[i] < 0) throw std::runtime_error("concat: bad dims");
      parts[i] = floatData(env, e, outer * inner[i], "part");
      total += inner[i];
    }
    bool split = false;
    if (napi_get_value_bool(env, args[3], &split) != napi_ok) throw std::runtime_error("concat: split must be a boolean");
    runConcat(parts, inner, floatData(env, args[1], outer * total, "whole"), outer, split);
    return static_cast<napi_value>(nullptr);
  });
}

// elementwiseThreads() -> threads the element-wise kernels use (OMP_NUM_THREADS at load, at most 8).
napi_value ElementwiseThreads(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_int32(env, BlockPool::get().threads(), &out);
  return out;
}

// ==== end of the element-wise kernels ===============================================================

// ==== Fused group and batch normalisation (training forward and backward) ============================
//
// One pair of kernels serves both norms. x is seen as [n, s, c] (channels last) with c channels in g
// groups of k = c / g consecutive channels; the statistics are per (example i, group) over the s·k values
// of that example and group:
//   GroupNorm (Wu & He, "Group Normalization", ECCV 2018, Eq. 1-3), NHWC [N, H, W, C]:
//     n = N, s = H·W, g = groups.
//   BatchNorm (Ioffe & Szegedy, ICML 2015, Algorithm 1), [..., C] normalised over all axes but the last:
//     n = 1, s = the product of the other axes, g = c (one channel per group).
// Both use the biased variance (as tf.moments). tfjs composes each norm from ~15 element-wise kernels
// forward and ~30 backward, each a pass over memory on one wasm thread; here the forward is three passes
// and the backward two, on OpenMP's threads.
//
// Determinism: rows of s go in fixed blocks of kNormBlock; every (example, block) is summed per channel in
// double, in row order, by one thread; the blocks, then the channels of a group, then the examples (for
// dγ and dβ) are added in a fixed order on one thread. The result has the same bits for any thread count.

constexpr int64_t kNormBlock = 128;

struct NormDims {
  int64_t n, s, c, g;
  int64_t k() const { return c / g; }
  int64_t blocks() const { return (s + kNormBlock - 1) / kNormBlock; }
};

void checkNormDims(const NormDims& d) {
  if (d.n < 1 || d.s < 1 || d.c < 1 || d.g < 1 || d.c % d.g != 0) {
    throw std::runtime_error("internal error: norm dims [n, s, c, g] must be positive with g dividing c");
  }
}

// part[(i·nb + b)·c + ch] = sum over the rows r of block b of example i of f(i, r, ch), in double, rows
// in order; then out[i·c + ch] = sum over b of the partials, in block order. f sees one row at a time:
// f(i, row offset into [n·s·c]) must add its c terms into the double array it is given.
template <typename RowFn>
void blockedChannelSums(const NormDims& d, std::vector<double>& out, bool par, RowFn rowFn) {
  const int64_t nb = d.blocks(), c = d.c;
  std::vector<double> part(static_cast<size_t>(d.n * nb * c));
#pragma omp parallel for schedule(static) if (par)
  for (int64_t t = 0; t < d.n * nb; t++) {
    const int64_t i = t / nb, b = t % nb;
    double* p = part.data() + t * c;
    std::fill(p, p + c, 0.0);
    const int64_t end = std::min(d.s, (b + 1) * kNormBlock);
    for (int64_t r = b * kNormBlock; r < end; r++) rowFn(i, (i * d.s + r) * c, p);
  }
  out.assign(static_cast<size_t>(d.n * c), 0.0);
  for (int64_t i = 0; i < d.n; i++) {
    double* o = out.data() + i * c;
    for (int64_t b = 0; b < nb; b++) {
      const double* p = part.data() + (i * nb + b) * c;
      for (int64_t ch = 0; ch < c; ch++) o[ch] += p[ch];
    }
  }
}

// Per (example, group): the sum over the group's k channels of v[i·c + ch], in channel order.
double groupSum(const NormDims& d, const std::vector<double>& v, int64_t i, int64_t grp) {
  double acc = 0;
  const double* p = v.data() + i * d.c + grp * d.k();
  for (int64_t j = 0; j < d.k(); j++) acc += p[j];
  return acc;
}

// 1 / sqrt(var + eps) in float, the same expression in the forward and the backward kernel.
inline float normRstd(float var, float eps) { return 1.0f / std::sqrt(var + eps); }

// Forward: mean = (1/M)·Σx, var = (1/M)·Σ(x − mean)² (two passes, M = s·k), x̂ = (x − mean)·rstd with
// rstd = 1/sqrt(var + eps), y = γ·x̂ + β. Writes y and x̂ [n, s, c], mean and var [n, g]. Its loops are
// shared over OpenMP's threads when par is set, else it runs on the calling thread.
void normForwardCore(const NormDims& d, float eps, const float* x, const float* gamma, const float* beta, float* y,
                     float* xhat, float* mean, float* var, bool par) {
  const int64_t c = d.c, k = d.k();
  const double m = static_cast<double>(d.s * k);
  std::vector<double> sums;
  blockedChannelSums(d, sums, par, [&](int64_t, int64_t off, double* p) {
    const float* xr = x + off;
#pragma omp simd
    for (int64_t ch = 0; ch < c; ch++) p[ch] += xr[ch];
  });
  // Per-channel copies of the group statistics, so that the inner loops run over channels.
  std::vector<float> mc(static_cast<size_t>(d.n * c)), rc(static_cast<size_t>(d.n * c));
  for (int64_t i = 0; i < d.n; i++) {
    for (int64_t grp = 0; grp < d.g; grp++) {
      const float mu = static_cast<float>(groupSum(d, sums, i, grp) / m);
      mean[i * d.g + grp] = mu;
      std::fill(mc.begin() + i * c + grp * k, mc.begin() + i * c + (grp + 1) * k, mu);
    }
  }
  blockedChannelSums(d, sums, par, [&](int64_t i, int64_t off, double* p) {
    const float* xr = x + off;
    const float* mr = mc.data() + i * c;
#pragma omp simd
    for (int64_t ch = 0; ch < c; ch++) {
      const double e = static_cast<double>(xr[ch]) - mr[ch];
      p[ch] += e * e;
    }
  });
  for (int64_t i = 0; i < d.n; i++) {
    for (int64_t grp = 0; grp < d.g; grp++) {
      const float v = static_cast<float>(groupSum(d, sums, i, grp) / m);
      var[i * d.g + grp] = v;
      std::fill(rc.begin() + i * c + grp * k, rc.begin() + i * c + (grp + 1) * k, normRstd(v, eps));
    }
  }
  const int64_t rows = d.n * d.s;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t i = r / d.s;
    const float* xr = x + r * c;
    const float* mr = mc.data() + i * c;
    const float* rr = rc.data() + i * c;
    float* yr = y + r * c;
    float* hr = xhat + r * c;
#pragma omp simd
    for (int64_t ch = 0; ch < c; ch++) {
      const float h = (xr[ch] - mr[ch]) * rr[ch];
      hr[ch] = h;
      yr[ch] = h * gamma[ch] + beta[ch];
    }
  }
}

// Backward, from dy, x̂, γ and the forward's var. With dx̂ = dy·γ and means over each (example, group)'s
// M = s·k values:
//   dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy  (sums over all but the channel)
// (Ioffe & Szegedy 2015, Sec. 3, with the same algebra per group for Wu & He 2018). Since γ is constant
// per channel, mean(dx̂) = (1/M) Σ_ch γ[ch]·Σdy[ch] and mean(dx̂·x̂) = (1/M) Σ_ch γ[ch]·Σ(dy·x̂)[ch], from
// one pass of per-channel sums; a second pass writes dx. The per-channel sums [n, 2c] (Σdy | Σdy·x̂ per
// example) go to chanSums, for the caller's dγ and dβ. Threads as normForwardCore.
void normBackwardCore(const NormDims& d, float eps, const float* dy, const float* xhat, const float* gamma, const float* var,
                      float* dx, double* chanSums, bool par) {
  const int64_t c = d.c, k = d.k();
  const double m = static_cast<double>(d.s * k);
  // One pass for both sums: [Σdy | Σdy·x̂] side by side in a 2c-wide row.
  NormDims d2 = d;
  d2.c = 2 * c;
  std::vector<double> sums;
  blockedChannelSums(d2, sums, par, [&](int64_t, int64_t off2, double* p) {
    const int64_t off = off2 / 2;
    const float* gr = dy + off;
    const float* hr = xhat + off;
#pragma omp simd
    for (int64_t ch = 0; ch < c; ch++) {
      p[ch] += gr[ch];
      p[c + ch] += static_cast<double>(gr[ch]) * hr[ch];
    }
  });
  std::copy(sums.begin(), sums.end(), chanSums);
  // dx = dy·(γ·rstd) − rstd·mean(dx̂) − x̂·(rstd·mean(dx̂·x̂)), as per-channel coefficients.
  std::vector<float> ga(static_cast<size_t>(d.n * c)), ca(static_cast<size_t>(d.n * c)), cb(static_cast<size_t>(d.n * c));
  for (int64_t i = 0; i < d.n; i++) {
    const double* sdy = sums.data() + i * 2 * c;
    const double* sdyx = sdy + c;
    for (int64_t grp = 0; grp < d.g; grp++) {
      double a = 0, b = 0;
      for (int64_t j = grp * k; j < (grp + 1) * k; j++) {
        a += static_cast<double>(gamma[j]) * sdy[j];
        b += static_cast<double>(gamma[j]) * sdyx[j];
      }
      const double rstd = normRstd(var[i * d.g + grp], eps);
      for (int64_t j = grp * k; j < (grp + 1) * k; j++) {
        ga[i * c + j] = static_cast<float>(gamma[j] * rstd);
        ca[i * c + j] = static_cast<float>(rstd * a / m);
        cb[i * c + j] = static_cast<float>(rstd * b / m);
      }
    }
  }
  const int64_t rows = d.n * d.s;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t i = r / d.s;
    const float* gr = dy + r * c;
    const float* hr = xhat + r * c;
    const float* g1 = ga.data() + i * c;
    const float* a1 = ca.data() + i * c;
    const float* b1 = cb.data() + i * c;
    float* o = dx + r * c;
#pragma omp simd
    for (int64_t ch = 0; ch < c; ch++) o[ch] = gr[ch] * g1[ch] - a1[ch] - hr[ch] * b1[ch];
  }
}

// Several examples (GroupNorm): one parallel loop over the examples, each normalised whole by one thread
// (its statistics involve no other example), so one fork and join per call instead of one per pass. One
// example (BatchNorm): the passes themselves are shared over the threads. The same bits either way, and
// for any thread count: each example's sums run in the same blocks in the same order.
void runNormForward(const NormDims& d, float eps, const float* x, const float* gamma, const float* beta, float* y,
                    float* xhat, float* mean, float* var) {
  checkNormDims(d);
  if (d.n == 1) return normForwardCore(d, eps, x, gamma, beta, y, xhat, mean, var, true);
  const NormDims one{1, d.s, d.c, d.g};
  const int64_t size = d.s * d.c;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < d.n; i++) {
    normForwardCore(one, eps, x + i * size, gamma, beta, y + i * size, xhat + i * size, mean + i * d.g, var + i * d.g, false);
  }
}

// As runNormForward; then dβ = Σ_i Σdy and dγ = Σ_i Σdy·x̂, over the examples in order, in double.
void runNormBackward(const NormDims& d, float eps, const float* dy, const float* xhat, const float* gamma, const float* var,
                     float* dx, float* dgamma, float* dbeta) {
  checkNormDims(d);
  const int64_t c = d.c;
  std::vector<double> chanSums(static_cast<size_t>(d.n * 2 * c));
  if (d.n == 1) {
    normBackwardCore(d, eps, dy, xhat, gamma, var, dx, chanSums.data(), true);
  } else {
    const NormDims one{1, d.s, d.c, d.g};
    const int64_t size = d.s * d.c;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < d.n; i++) {
      normBackwardCore(one, eps, dy + i * size, xhat + i * size, gamma, var + i * d.g, dx + i * size, chanSums.data() + i * 2 * c, false);
    }
  }
  for (int64_t ch = 0; ch < c; ch++) {
    double sb = 0, sg = 0;
    for (int64_t i = 0; i < d.n; i++) {
      sb += chanSums[i * 2 * c + ch];
      sg += chanSums[i * 2 * c + c + ch];
    }
    dbeta[ch] = static_cast<float>(sb);
    dgamma[ch] = static_cast<float>(sg);
  }
}

float floatArg(napi_env env, napi_value v) {
  double out = 0;
  if (napi_get_value_double(env, v, &out) != napi_ok) throw std::runtime_error("internal error: expected a number argument");
  return static_cast<float>(out);
}

NormDims normDimsArg(napi_env env, napi_value arr) {
  int64_t d[4];
  readDims(env, arr, d, 4);
  NormDims nd{d[0], d[1], d[2], d[3]};
  checkNormDims(nd);
  return nd;
}

// normForward(x, gamma, beta, y, xhat, mean, var, [n, s, c, g], eps)
napi_value NormForward(napi_env env, napi_callback_info info) {
  return withArgs<9>(env, info, "normForward", [&](napi_value* args) -> napi_value {
    const NormDims d = normDimsArg(env, args[7]);
    const size_t all = d.n * d.s * d.c, stats = d.n * d.g;
    runNormForward(d, floatArg(env, args[8]), floatData(env, args[0], all, "x"), floatData(env, args[1], d.c, "gamma"),
                   floatData(env, args[2], d.c, "beta"), floatData(env, args[3], all, "y"), floatData(env, args[4], all, "xhat"),
                   floatData(env, args[5], stats, "mean"), floatData(env, args[6], stats, "var"));
    return static_cast<napi_value>(nullptr);
  });
}

// normBackward(dy, xhat, gamma, var, dx, dgamma, dbeta, [n, s, c, g], eps)
napi_value NormBackward(napi_env env, napi_callback_info info) {
  return withArgs<9>(env, info, "normBackward", [&](napi_value* args) -> napi_value {
    const NormDims d = normDimsArg(env, args[7]);
    const size_t all = d.n * d.s * d.c, stats = d.n * d.g;
    runNormBackward(d, floatArg(env, args[8]), floatData(env, args[0], all, "dy"), floatData(env, args[1], all, "xhat"),
                    floatData(env, args[2], d.c, "gamma"), floatData(env, args[3], stats, "var"), floatData(env, args[4], all, "dx"),
                    floatData(env, args[5], d.c, "dgamma"), floatData(env, args[6], d.c, "dbeta"));
    return static_cast<napi_value>(nullptr);
  });
}

// ==== end of fused group and batch normalisation =====================================================


// ==== Seeded Gaussian noise (src/core/gaussian.ts's ziggurat, the same bits) =========================
// The DP-SGD noise: src/core/gaussian.ts fillNormal, ported loop for loop so that a seed gives the same
// float32 samples here as there (Marsaglia & Tsang, "The Ziggurat Method for Generating Random Variables",
// JSS 5(8), 2000; uniform bits from xoshiro128**, Blackman & Vigna 2021). The tables and the seeded
// state come from JavaScript, so every constant is the same double. The only functions here that could
// round differently from V8's are std::exp and std::log on the slow path (~1.2% of samples): a 1-ulp
// difference would have to fall on a float32 rounding boundary, or on the wedge test's exact edge, to
// change a sample (the tests compare millions of samples bit for bit). One thread: the stream is serial.

struct ZigguratTables {
  const double* w;      // [256] signed abscissa step × sd, by the low 8 bits
  const double* bound;  // [256] fast-path bound on the 24-bit integer, by the low 8 bits
  const double* scale;  // [128] layer edge / 2^24
  const double* fe;     // [129] f(edge)
  double r;             // start of the tail
};

struct Xoshiro128 {
  uint32_t s0, s1, s2, s3;
  static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  uint32_t next() {
    const uint32_t result = rotl(s1 * 5u, 7) * 9u;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  }
  // Uniform in (0, 1), never 0.
  double open01() { return (static_cast<double>(next()) + 0.5) / 4294967296.0; }
};

// gaussian.ts slowPath: the tail (layer 0) or the wedge test, drawing again on rejection.
double zigguratSlow(Xoshiro128& g, uint32_t u, const ZigguratTables& z) {
  for (;;) {
    const uint32_t i = u & 127u, j = u >> 8;
    const double x = static_cast<double>(j) * z.scale[i];
    if (static_cast<double>(j) < z.bound[i]) return (u & 128u) ? -x : x;
    if (i == 0) {
      double a, b;
      do {
        a = -std::log(g.open01()) / z.r;
        b = -std::log(g.open01());
      } while (b + b < a * a);
      return (u & 128u) ? -(z.r + a) : z.r + a;
    }
    const double y = z.fe[i] + g.open01() * (z.fe[i + 1] - z.fe[i]);
    if (y < std::exp((-0.5 * x) * x)) return (u & 128u) ? -x : x;
    u = g.next();
  }
}

void runFillNormal(float* out, int64_t n, Xoshiro128 g, const ZigguratTables& z, double sd) {
  for (int64_t k = 0; k < n; k++) {
    const uint32_t u = g.next();
    const uint32_t b = u & 255u, j = u >> 8;
    if (static_cast<double>(j) < z.bound[b]) {
      out[k] = static_cast<float>(static_cast<double>(j) * z.w[b]);
      continue;
    }
    out[k] = static_cast<float>(zigguratSlow(g, u, z) * sd);
  }
}

const double* doubleData(napi_env env, napi_value v, size_t need, const char* what) {
  const auto [data, length] = typedArray(env, v, napi_float64_array, what, "Float64Array");
  if (length < need) throw std::runtime_error(std::string(what) + " is too short");
  return static_cast<const double*>(data);
}

// fillNormal(out, [s0, s1, s2, s3], w, bound, scale, fe, r, sd)
napi_value FillNormal(napi_env env, napi_callback_info info) {
  return withArgs<8>(env, info, "fillNormal", [&](napi_value* args) -> napi_value {
    const auto [data, length] = typedArray(env, args[0], napi_float32_array, "out", "Float32Array");
    int64_t st[4];
    readDims(env, args[1], st, 4);
    Xoshiro128 g{static_cast<uint32_t>(st[0]), static_cast<uint32_t>(st[1]), static_cast<uint32_t>(st[2]), static_cast<uint32_t>(st[3])};
    const ZigguratTables z{doubleData(env, args[2], 256, "w"), doubleData(env, args[3], 256, "bound"), doubleData(env, args[4], 128, "scale"),
                           doubleData(env, args[5], 129, "fe"), doubleArg(env, args[6])};
    runFillNormal(static_cast<float*>(data), static_cast<int64_t>(length), g, z, doubleArg(env, args[7]));
    return static_cast<napi_value>(nullptr);
  });
}

// ==== end of seeded Gaussian noise ===================================================================

napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  std::string s = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv", nullptr, Conv, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convPerExample", nullptr, ConvPerExample, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convPerExampleLayout", nullptr, ConvPerExampleLayout, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumLeading", nullptr, SumLeading, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"version", nullptr, Version, nullptr, nullptr, nullptr, napi_default, nullptr},
      // The element-wise kernels.
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stepGrad", nullptr, StepGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"concat", nullptr, Concat, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"elementwiseThreads", nullptr, ElementwiseThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      // Fused group and batch normalisation.
      {"normForward", nullptr, NormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normBackward", nullptr, NormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      // Seeded Gaussian noise.
      {"fillNormal", nullptr, FillNormal, nullptr, nullptr, nullptr, napi_default, nullptr},
      // Crop, colour conversion and resize of decoded images, as datasets/image/resize.ts (medsynth_resize.cc).
      {"resizeSquare", nullptr, ResizeSquare, nullptr, nullptr, nullptr, napi_default, nullptr},
#ifdef MEDSYNTH_JPEG
      // JPEG decoding with the system's libjpeg-turbo (medsynth_jpeg.cc), only when it was built in.
      {"decodeJpeg", nullptr, DecodeJpeg, nullptr, nullptr, nullptr, napi_default, nullptr},
#endif
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
