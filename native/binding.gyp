{
  "targets": [
    {
      "target_name": "medsynth_dnnl",
      "sources": ["medsynth_dnnl.cc"],
      "cflags_cc": ["-O2", "-std=c++17", "-fexceptions", "-fopenmp"],
      "ldflags": ["-fopenmp"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldnnl"]
    }
  ]
}
