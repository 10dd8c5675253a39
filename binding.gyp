{
  # The build used by `npm install` (node-gyp-build falls back to it) and by
  # prebuildify. The file list comes from native/sources.mjs, which
  # CMakeLists.txt reads too: one list, two builds. The warnings are CMake's
  # SUNRAY_WARNINGS, and they are errors here as they are there.
  "targets": [
    {
      "target_name": "sunray",
      "sources": [
        "<!@(node native/sources.mjs core)",
        "<!@(node native/sources.mjs addon)"
      ],
      "include_dirs": ["native"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": [
        "-std=c++20", "-fexceptions", "-O2",
        "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wno-missing-field-initializers", "-Werror",
        "-isystem", "<!(node -p \"require('node:path').resolve(require('node-addon-api').include_dir)\")"
      ],
      "ldflags": ["-pthread"],
      "conditions": [
        ["OS!='linux'", { "sources!": [] }]
      ]
    }
  ]
}
