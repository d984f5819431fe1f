{
  "variables": {
    # 1 when scripts/build-native.mjs found libjpeg-turbo's headers: adds decodeJpeg (medsynth_jpeg.cc).
    "medsynth_jpeg%": 0
  },
  "targets": [
    {
      "target_name": "medsynth_dnnl",
      "sources": ["medsynth_dnnl.cc", "medsynth_resize.cc"],
      # -ffp-contract=off: resizeSquare must round every product and sum as JavaScript does (no fused multiply-add).
      "cflags_cc": ["-O2", "-std=c++17", "-fexceptions", "-fopenmp", "-ffp-contract=off"],
      "ldflags": ["-fopenmp"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldnnl"],
      "conditions": [
        ["medsynth_jpeg==1", {
          "sources": ["medsynth_jpeg.cc"],
          "defines": ["MEDSYNTH_JPEG"],
          "libraries": ["-ljpeg"]
        }]
      ]
    }
  ]
}
