// The addon's registration: each binding file defines one Init function that
// puts its classes or functions on the addon's exports; addon.cc calls them
// all. One file per wrapped class (Ring, Doorbell, ResourcePool, StoreHandle)
// and one per group of plain functions.
#pragma once

#include <napi.h>

namespace sunray::addon {

void InitStoreHandle(Napi::Env env, Napi::Object exports);    // store_handle.cc
void InitRing(Napi::Env env, Napi::Object exports);           // ring_wrap.cc
void InitDoorbell(Napi::Env env, Napi::Object exports);       // doorbell_wrap.cc
void InitResourcePool(Napi::Env env, Napi::Object exports);   // resource_pool_wrap.cc
void InitIpcFunctions(Napi::Env env, Napi::Object exports);   // ipc_functions.cc
void InitProcFunctions(Napi::Env env, Napi::Object exports);  // proc_functions.cc
void InitCopyFunctions(Napi::Env env, Napi::Object exports);  // copy_functions.cc

}  // namespace sunray::addon
