{
  # The build used by `npm install` (node-gyp-build falls back to it) and by
  # prebuildify. The file list comes from native/sources.mjs, which
  # CMakeLists.txt reads too: one list, two builds.
  "targets": [
    {
      "target_name": "sunray",
      "sources": [
        "<!@(node native/sources.mjs core)",
        "<!@(node native/sources.mjs addon)"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-O2"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["OS!='linux'", { "sources!": [] }]
      ]
    }
  ]
}
