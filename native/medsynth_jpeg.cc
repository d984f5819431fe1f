// decodeJpeg(bytes: Uint8Array, into?: Uint8Array) → { width, height, components: 1 | 3, data: Uint8Array }:
// a JPEG decoded
// by the system's libjpeg-turbo (SIMD), compiled into the addon only when Debian's libjpeg62-turbo-dev is
// present (scripts/build-native.mjs → -Dmedsynth_jpeg=1 → MEDSYNTH_JPEG).
//
// Why here: the loader's JPEG decoder is libjpeg-turbo compiled to WebAssembly (datasets/image/libjpeg.ts,
// @cornerstonejs/codec-libjpeg-turbo-8bit), which has no SIMD and takes most of a first load's CPU. The
// settings are that codec's (it calls tjDecompress2 with flags 0): libjpeg's defaults (JDCT_ISLOW, fancy
// upsampling, no scaling), output grey when the JPEG colour space is grey, else RGB; and, as TurboJPEG
// does, any libjpeg warning (a truncated or corrupt stream that libjpeg would patch up) fails the decode.
// So the samples and the set of files that decode are the wasm decoder's (checked by test and on the
// 3000 HAM10000 files, eval/results/load.md).
//
// libjpeg's default error handler calls exit(); ours longjmps back here and the call throws a JavaScript
// Error instead. `into`, when given and large enough, receives the samples (data is then a view of its
// start): a decoding worker reuses one buffer rather than allocating 150 kB per file, which would also
// count as external memory and bring V8's garbage collections forward. No C++ object with a destructor lives between setjmp and the libjpeg calls it guards.
#include <node_api.h>

#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>

namespace {

struct JpegError {
  jpeg_error_mgr pub;
  jmp_buf jump;
  bool warned;
  char message[JMSG_LENGTH_MAX];
};

void onError(j_common_ptr cinfo) {
  JpegError* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// Level −1 is a warning (corrupt data libjpeg works around); higher levels are trace messages. Nothing is
// printed: the caller reports one line.
void onMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  JpegError* err = reinterpret_cast<JpegError*>(cinfo->err);
  if (!err->warned) (*cinfo->err->format_message)(cinfo, err->message);
  err->warned = true;
}

napi_value fail(napi_env env, const char* what) {
  napi_throw_error(env, nullptr, what);
  return nullptr;
}

// The libjpeg part, apart so the longjmp target's frame holds only plain data. Returns 0 on success, with
// the samples in `into` (when it holds intoLen ≥ width · height · components bytes; *out untouched) or in
// a new ArrayBuffer *out; otherwise err->message says why.
int decodeInto(napi_env env, const unsigned char* src, size_t len, unsigned char* into, size_t intoLen, JpegError* err, napi_value* out, int* width, int* height, int* components) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->pub);
  err->pub.error_exit = onError;
  err->pub.emit_message = onMessage;
  err->warned = false;
  err->message[0] = '\0';
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, src, static_cast<unsigned long>(len));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t stride = static_cast<size_t>(cinfo.output_width) * cinfo.output_components;
  void* data = into;
  if (stride * cinfo.output_height > intoLen && napi_create_arraybuffer(env, stride * cinfo.output_height, &data, out) != napi_ok) {
    std::strcpy(err->message, "out of memory for the decoded pixels");
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  unsigned char* base = static_cast<unsigned char*>(data);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = base + static_cast<size_t>(cinfo.output_scanline) * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  *width = static_cast<int>(cinfo.output_width);
  *height = static_cast<int>(cinfo.output_height);
  *components = cinfo.output_components;
  jpeg_destroy_decompress(&cinfo);
  return err->warned ? 1 : 0;
}

}  // namespace

napi_value DecodeJpeg(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  napi_typedarray_type type;
  size_t length;
  void* bytes;
  napi_value buf;
  size_t offset;
  if (argc < 1 || napi_get_typedarray_info(env, args[0], &type, &length, &bytes, &buf, &offset) != napi_ok || type != napi_uint8_array) {
    return fail(env, "decodeJpeg expects a Uint8Array");
  }
  void* into = nullptr;
  size_t intoLen = 0;
  napi_value intoBuf = nullptr;
  size_t intoOffset = 0;
  napi_valuetype second = napi_undefined;
  if (argc == 2) napi_typeof(env, args[1], &second);
  if (second != napi_undefined) {
    if (napi_get_typedarray_info(env, args[1], &type, &intoLen, &into, &intoBuf, &intoOffset) != napi_ok || type != napi_uint8_array) {
      return fail(env, "decodeJpeg: the second argument must be a Uint8Array");
    }
  }
  JpegError err;
  napi_value pixels = nullptr;
  int width = 0, height = 0, components = 0;
  if (decodeInto(env, static_cast<const unsigned char*>(bytes), length, static_cast<unsigned char*>(into), intoLen, &err, &pixels, &width, &height, &components) != 0) {
    return fail(env, err.message[0] ? err.message : "libjpeg-turbo could not decode it");
  }
  napi_value result, view, w, h, c;
  napi_create_object(env, &result);
  const size_t n = static_cast<size_t>(width) * height * components;
  if (pixels) napi_create_typedarray(env, napi_uint8_array, n, pixels, 0, &view);
  else napi_create_typedarray(env, napi_uint8_array, n, intoBuf, intoOffset, &view);
  napi_create_int32(env, width, &w);
  napi_create_int32(env, height, &h);
  napi_create_int32(env, components, &c);
  napi_set_named_property(env, result, "width", w);
  napi_set_named_property(env, result, "height", h);
  napi_set_named_property(env, result, "components", c);
  napi_set_named_property(env, result, "data", view);
  return result;
}
