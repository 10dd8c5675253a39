// The JS class ResourcePool: the node's resource accounting (sched/resources.h)
// with JS records in and out, and the grants it handed out kept by id.
//
//   new ResourcePool(totals, { unitResources? })
//   pool.tryAcquire(demand) -> { id, gpuIds, ids } | null, pool.release(grant | id)
//   pool.available(), pool.total(), pool.feasible(demand), pool.fits(demand)
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "sched/resources.h"

namespace sunray::addon {
namespace {

class ResourcePoolWrap : public Napi::ObjectWrap<ResourcePoolWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ResourcePool",
                       {
                           InstanceMethod<&ResourcePoolWrap::TryAcquire>("tryAcquire"),
                           InstanceMethod<&ResourcePoolWrap::Release>("release"),
                           InstanceMethod<&ResourcePoolWrap::Available>("available"),
                           InstanceMethod<&ResourcePoolWrap::Total>("total"),
                           InstanceMethod<&ResourcePoolWrap::Feasible>("feasible"),
                           InstanceMethod<&ResourcePoolWrap::Fits>("fits"),
                       });
  }

  ResourcePoolWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ResourcePoolWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "new ResourcePool(totals: Record<string, number>)");
    std::vector<std::pair<std::string, double>> totals;
    Napi::Object t = info[0].As<Napi::Object>();
    Napi::Array keys = t.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).ToString();
      Napi::Value v = t.Get(k);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "resource '" + k + "': total must be a number");
      totals.emplace_back(k, v.As<Napi::Number>().DoubleValue());
    }
    std::vector<std::string> units = {"GPU"};
    if (info[1].IsObject()) {
      Napi::Value u = info[1].As<Napi::Object>().Get("unitResources");
      if (u.IsArray()) {
        units.clear();
        Napi::Array a = u.As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); ++i) units.push_back(a.Get(i).ToString());
      }
    }
    pool_ = translated(env, [&] { return std::make_unique<sched::ResourcePool>(totals, units); });
  }

  void parse(const Napi::CallbackInfo& info, sched::Demand* d) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "demand must be a Record<string, number>");
    d->clear();
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).ToString();
      Napi::Value v = o.Get(k);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "resource '" + k + "': amount must be a number");
      const double amount = v.As<Napi::Number>().DoubleValue();
      translated(env, [&] { pool_->add_demand(*d, k, amount); });
    }
  }

  Napi::Value TryAcquire(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    parse(info, &demand_);
    sched::Grant g;
    if (!pool_->try_acquire(demand_, &g)) return env.Null();
    uint32_t id = ++next_id_;
    Napi::Object out = Napi::Object::New(env);
    out.Set("id", id);
    Napi::Array gpu = Napi::Array::New(env);
    Napi::Object ids = Napi::Object::New(env);
    for (const auto& p : g.pieces) {
      const std::string& name = pool_->name(p.resource);
      Napi::Value arr = ids.Get(name);
      if (!arr.IsArray()) {
        arr = Napi::Array::New(env);
        ids.Set(name, arr);
      }
      Napi::Array a = arr.As<Napi::Array>();
      a.Set(a.Length(), p.instance);
      if (name == "GPU") gpu.Set(gpu.Length(), p.instance);
    }
    out.Set("gpuIds", gpu);
    out.Set("ids", ids);
    grants_.emplace(id, std::move(g));
    return out;
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double id = -1;
    if (info[0].IsNumber())
      id = info[0].As<Napi::Number>().DoubleValue();
    else if (info[0].IsObject() && info[0].As<Napi::Object>().Get("id").IsNumber())
      id = info[0].As<Napi::Object>().Get("id").As<Napi::Number>().DoubleValue();
    else
      throw Napi::TypeError::New(env, "release(grant | grantId)");
    auto it = grants_.find(static_cast<uint32_t>(id));
    if (it == grants_.end())
      throw Napi::Error::New(
          env, "grant " + std::to_string(static_cast<int64_t>(id)) + " is not held by this pool (released twice?)");
    translated(env, [&] { pool_->release(it->second); });
    grants_.erase(it);
    return env.Undefined();
  }

  Napi::Value amounts(Napi::Env env, bool avail) {
    Napi::Object o = Napi::Object::New(env);
    for (size_t i = 0; i < pool_->count(); ++i) {
      int r = static_cast<int>(i);
      o.Set(pool_->name(r), sched::to_double(avail ? pool_->available(r) : pool_->total(r)));
    }
    return o;
  }
  Napi::Value Available(const Napi::CallbackInfo& info) { return amounts(info.Env(), true); }
  Napi::Value Total(const Napi::CallbackInfo& info) { return amounts(info.Env(), false); }
  Napi::Value Feasible(const Napi::CallbackInfo& info) {
    parse(info, &demand_);
    return Napi::Boolean::New(info.Env(), pool_->feasible(demand_));
  }
  Napi::Value Fits(const Napi::CallbackInfo& info) {
    parse(info, &demand_);
    return Napi::Boolean::New(info.Env(), pool_->fits(demand_));
  }

 private:
  std::unique_ptr<sched::ResourcePool> pool_;
  sched::Demand demand_;  // reused: no allocation per call once warm
  std::unordered_map<uint32_t, sched::Grant> grants_;
  uint32_t next_id_ = 0;
};

}  // namespace

void InitResourcePool(Napi::Env env, Napi::Object exports) {
  exports.Set("ResourcePool", ResourcePoolWrap::Define(env));
}

}  // namespace sunray::addon
