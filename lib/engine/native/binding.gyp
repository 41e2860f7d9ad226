{
  "targets": [
    {
      "target_name": "rlhf_native",
      "sources": [
        "src/addon.c",
        "src/threads.c",
        "src/gemm.c",
        "src/elementwise.c",
        "src/reduce.c",
        "src/layout.c",
        "src/fused.c",
        "src/attention.c",
        "src/logprob.c",
        "src/block.c"
      ],
      "include_dirs": ["/usr/include/x86_64-linux-gnu", "/usr/include/openblas"],
      "libraries": ["-lopenblas", "-lpthread", "-lm"],
      "cflags": ["-O3", "-std=gnu11", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-parameter"],
      "cflags!": ["-O2"]
    }
  ]
}
