{
  "targets": [
    {
      "target_name": "bpf_native",
      "sources": [
        "src/addon.cc",
        "src/bpf_error.cc",
        "src/libbpf_log.cc",
        "src/bpf_object_wrap.cc",
        "src/ring_buffer_reader.cc",
        "src/ring_buffer_spool.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(pkg-config --cflags-only-I libbpf | sed -e 's/-I//g')"
      ],
      "libraries": ["<!@(pkg-config --libs libbpf)"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"]
    }
  ]
}
