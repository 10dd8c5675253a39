// Each binding file registers its classes and functions on the addon's
// exports. addon.cc calls them all; nothing else lives in addon.cc.
#pragma once

#include <napi.h>

namespace sunray::addon {

void InitStore(Napi::Env env, Napi::Object exports);  // store_binding.cc
void InitSched(Napi::Env env, Napi::Object exports);  // sched_binding.cc
void InitNet(Napi::Env env, Napi::Object exports);    // net_binding.cc
void InitProc(Napi::Env env, Napi::Object exports);   // proc_binding.cc

}  // namespace sunray::addon
