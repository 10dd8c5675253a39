// Node-API binding of the object store: a thin StoreHandle class over
// sunray::store::Store. Zero copy: the mapping is exposed as external
// ArrayBuffers over windows of it (h.window(offset, length)); JS makes views with
// Buffer.from(window, offset, size), which costs no native call and no finalizer
// per view. A window, not the whole mapping, because Node 20 makes no external
// buffer over 4 GiB while an arena may be far larger (lib/store/arena-views.ts
// picks the windows). Each window holds the Session (mapping + client slot)
// until V8 collects it, i.e. until no view over it is alive, so the mapping is
// never unmapped under a live view.
//
// JS-facing API (see lib/store/native.ts for the typed view):
//   StoreHandle.create(capacity, maxObjects, spillDir, spillLimit, warmAhead) / StoreHandle.attach(fdOrPath)
//   h.window(offset, length) (an ArrayBuffer over that part of the mapping), h.mappingSize, h.fd, h.path, h.capacity,
//   h.clientSlot, h.isCreator, h.spillDir h.create(id, dataSize, metadata|null, primary) -> data offset in h.arena
//   h.seal(id), h.abort(id), h.release(id), h.contains(id), h.delete(id)
//   h.get(id, out: Float64Array(3)) -> 0 ready (out = offset, dataSize, metadataSize, pinned),
//                                      1 absent, 2 unsealed, 3 own unsealed
//   h.list(), h.stats(), h.reapDeadClients(), h.reapClient(slot), h.removeSpillFiles()
//   h.sealEpoch(), h.armWait(epoch, callback), h.disarmWait()
//   h.viewOffset(buffer) -> offset of the view in this mapping, or -1
//   h.close()
// Errors carry .code (OBJECT_STORE_FULL, ...), which lib/store maps to classes.
// The waiter thread behind armWait is seal_waiter.{h,cc}.
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "addon/seal_waiter.h"
#include "store/store.h"
#include "store/warmer.h"

namespace sunray::addon {

namespace {

using store::GetStatus;
using store::ObjectId;
using store::Store;
using store::StoreError;

// The mapping plus this handle's client slot; outlives the handle while views exist.
struct Session {
  std::unique_ptr<Store> store;
  uint32_t client = 0;
  bool creator = false;
  // The creator's warmer (declared after the store: it stops before the store goes).
  std::unique_ptr<store::Warmer> warmer;
};

ObjectId id_arg(const Napi::Value& v) {
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint8_array && ta.ByteLength() == store::kObjectIdSize) {
      auto arr = v.As<Napi::Uint8Array>();
      return ObjectId::from(arr.Data());
    }
  }
  throw coded_error(v.Env(), "INVALID_OBJECT_ID",
                    "an object id must be " + std::to_string(store::kObjectIdSize) + " bytes (use ObjectId)");
}

uint64_t size_arg(const Napi::Value& v, const char* what) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw coded_error(v.Env(), "INVALID_SIZE", std::string(what) + " must be a non-negative integer number of bytes");
  return static_cast<uint64_t>(d);
}

// Store calls reach JS through the one translator: a StoreError keeps its
// code; anything else (a failed mmap, bad_alloc) gets code SYSTEM.
constexpr ErrorStyle kStoreErrors{.code = "SYSTEM"};

class StoreHandle : public Napi::ObjectWrap<StoreHandle> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn =
        DefineClass(env, "StoreHandle",
                    {
                        StaticMethod("create", &StoreHandle::TranslateStatic<&StoreHandle::Create>),
                        StaticMethod("attach", &StoreHandle::TranslateStatic<&StoreHandle::Attach>),
                        InstanceMethod("window", &StoreHandle::Window),
                        InstanceAccessor("mappingSize", &StoreHandle::MappingSize, nullptr),
                        InstanceAccessor("fd", &StoreHandle::Fd, nullptr),
                        InstanceAccessor("path", &StoreHandle::Path, nullptr),
                        InstanceAccessor("capacity", &StoreHandle::Capacity, nullptr),
                        InstanceAccessor("clientSlot", &StoreHandle::ClientSlot, nullptr),
                        InstanceAccessor("isCreator", &StoreHandle::IsCreator, nullptr),
                        InstanceAccessor("spillDir", &StoreHandle::SpillDir, nullptr),
                        InstanceMethod("create", &StoreHandle::Translate<&StoreHandle::CreateObject>),
                        InstanceMethod("seal", &StoreHandle::Translate<&StoreHandle::Seal>),
                        InstanceMethod("abort", &StoreHandle::Translate<&StoreHandle::Abort>),
                        InstanceMethod("get", &StoreHandle::Translate<&StoreHandle::Get>),
                        InstanceMethod("release", &StoreHandle::Translate<&StoreHandle::Release>),
                        InstanceMethod("contains", &StoreHandle::Translate<&StoreHandle::Contains>),
                        InstanceMethod("delete", &StoreHandle::Translate<&StoreHandle::Delete>),
                        InstanceMethod("list", &StoreHandle::Translate<&StoreHandle::List>),
                        InstanceMethod("stats", &StoreHandle::Translate<&StoreHandle::Stats>),
                        InstanceMethod("reapDeadClients", &StoreHandle::Translate<&StoreHandle::ReapDeadClients>),
                        InstanceMethod("reapClient", &StoreHandle::Translate<&StoreHandle::ReapClient>),
                        InstanceMethod("removeSpillFiles", &StoreHandle::Translate<&StoreHandle::RemoveSpillFiles>),
                        InstanceMethod("sealEpoch", &StoreHandle::SealEpoch),
                        InstanceMethod("armWait", &StoreHandle::ArmWait),
                        InstanceMethod("disarmWait", &StoreHandle::DisarmWait),
                        InstanceMethod("viewOffset", &StoreHandle::ViewOffset),
                        InstanceMethod("close", &StoreHandle::Close),
                    });
    exports.Set("StoreHandle", fn);
    return exports;
  }

  explicit StoreHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StoreHandle>(info) {}
  ~StoreHandle() override { shutdown(); }

 private:
  template <Napi::Value (StoreHandle::*Method)(const Napi::CallbackInfo&)>
  Napi::Value Translate(const Napi::CallbackInfo& info) {
    return translated(
        info.Env(), [&] { return (this->*Method)(info); }, kStoreErrors);
  }
  template <Napi::Value (*Function)(const Napi::CallbackInfo&)>
  static Napi::Value TranslateStatic(const Napi::CallbackInfo& info) {
    return translated(
        info.Env(), [&] { return Function(info); }, kStoreErrors);
  }

  // `ctor` is `this` of the static call (StoreHandle.create / .attach): no per-env global needed.
  static Napi::Value Wrap(Napi::Env env, Napi::Value ctor, std::unique_ptr<Store> store, bool creator,
                          uint64_t warm_ahead = 0) {
    Napi::Object obj = ctor.As<Napi::Function>().New({});
    StoreHandle* h = Unwrap(obj);
    auto s = std::make_shared<Session>();
    s->store = std::move(store);
    s->creator = creator;
    s->client = s->store->register_client();
    if (warm_ahead > 0) s->warmer = std::make_unique<store::Warmer>(*s->store, warm_ahead);
    h->session_ = s;
    h->waiter_ = std::make_unique<SealWaiter>(s->store.get());
    // A handle that is never closed still stops its thread when the environment goes away.
    h->cleanup_ = std::make_unique<std::function<void()>>([h] { h->shutdown(); });
    napi_add_env_cleanup_hook(env, RunCleanup, h->cleanup_.get());
    h->env_ = env;
    return obj;
  }
  static void RunCleanup(void* arg) { (*static_cast<std::function<void()>*>(arg))(); }

  static Napi::Value Create(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    store::ArenaOptions o;
    o.capacity = size_arg(info[0], "capacity");
    o.max_objects = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
    o.spill_dir = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
    o.spill_limit = info[3].IsNumber() ? size_arg(info[3], "spillLimit") : 0;
    uint64_t warm_ahead = info[4].IsNumber() ? size_arg(info[4], "warmAhead") : 0;
    return Wrap(env, info.This(), Store::create(o), true, warm_ahead);
  }

  static Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info[0].IsNumber())
      return Wrap(env, info.This(), Store::attach_fd(info[0].As<Napi::Number>().Int32Value()), false);
    if (info[0].IsString())
      return Wrap(env, info.This(), Store::attach_path(info[0].As<Napi::String>().Utf8Value()), false);
    throw coded_error(env, "INVALID_OPTION", "attach takes a file descriptor number or a path");
  }

  Session& live(Napi::Env env) {
    if (!session_) throw coded_error(env, "STORE_CLOSED", "the object store handle is closed");
    return *session_;
  }

  // An external ArrayBuffer over [offset, offset + length) of the mapping; it keeps the
  // session alive while any view over it lives. The caller keeps length within Node's
  // Buffer limit (Node makes external ArrayBuffers as Buffers).
  Napi::Value Window(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = live(env);
    uint64_t offset = size_arg(info[0], "offset");
    uint64_t length = size_arg(info[1], "length");
    if (offset > s.store->mapping_size() || length > s.store->mapping_size() - offset)
      throw coded_error(env, "INVALID_SIZE", "a window must lie inside the mapping");
    auto* keep = new std::shared_ptr<Session>(session_);
    return Napi::ArrayBuffer::New(
        env, s.store->base() + offset, length, [](Napi::Env, void*, std::shared_ptr<Session>* hint) { delete hint; },
        keep);
  }
  Napi::Value MappingSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env()).store->mapping_size()));
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env()).store->fd()); }
  Napi::Value Path(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), live(info.Env()).store->path());
  }
  Napi::Value Capacity(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env()).store->capacity()));
  }
  Napi::Value ClientSlot(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), live(info.Env()).client);
  }
  Napi::Value IsCreator(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), live(info.Env()).creator);
  }
  Napi::Value SpillDir(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), live(info.Env()).store->spill_dir());
  }

  Napi::Value CreateObject(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = live(env);
    ObjectId id = id_arg(info[0]);
    uint64_t size = size_arg(info[1], "dataSize");
    const uint8_t* meta = nullptr;
    uint64_t meta_size = 0;
    if (info[2].IsTypedArray()) {
      auto m = info[2].As<Napi::Uint8Array>();
      meta = m.Data();
      meta_size = m.ByteLength();
    }
    bool primary = info[3].IsBoolean() ? info[3].As<Napi::Boolean>().Value() : true;
    uint64_t off = s.store->create(s.client, id, size, meta, meta_size, primary);
    s.store->map_range(off, size);  // outside the arena lock: the caller writes it next
    return Napi::Number::New(env, static_cast<double>(off));
  }

  Napi::Value Seal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = live(env);
    s.store->seal(s.client, id_arg(info[0]));
    return env.Undefined();
  }

  Napi::Value Abort(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = live(env);
    s.store->abort(s.client, id_arg(info[0]));
    return env.Undefined();
  }

  Napi::Value Get(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = live(env);
    ObjectId id = id_arg(info[0]);
    store::GetResult g = s.store->get(s.client, id);
    if (g.status == GetStatus::kReady) {
      s.store->map_range(g.data_offset, g.data_size);
      auto out = info[1].As<Napi::Float64Array>();
      out[0] = static_cast<double>(g.data_offset);
      out[1] = static_cast<double>(g.data_size);
      out[2] = static_cast<double>(g.metadata_size);
    }
    return Napi::Number::New(env, static_cast<int>(g.status));
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = live(env);
    s.store->release(s.client, id_arg(info[0]));
    return env.Undefined();
  }

  Napi::Value Contains(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::Boolean::New(env, live(env).store->contains(id_arg(info[0])));
  }

  Napi::Value Delete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = live(env);
    s.store->remove(s.client, id_arg(info[0]));
    return env.Undefined();
  }

  Napi::Value List(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto objects = live(env).store->list();
    Napi::Array out = Napi::Array::New(env, objects.size());
    static const char* states[] = {"empty", "tombstone", "unsealed", "sealed", "spilled"};
    for (size_t i = 0; i < objects.size(); ++i) {
      const store::ObjectInfo& o = objects[i];
      Napi::Object e = Napi::Object::New(env);
      e.Set("id", Napi::Buffer<uint8_t>::Copy(env, o.id.bytes.data(), store::kObjectIdSize));
      e.Set("state", states[o.state]);
      e.Set("dataSize", static_cast<double>(o.data_size));
      e.Set("metadataSize", static_cast<double>(o.metadata_size));
      e.Set("pins", o.pins);
      e.Set("primary", o.primary);
      e.Set("deletePending", o.delete_pending);
      e.Set("creatorPid", o.creator_pid);
      out.Set(static_cast<uint32_t>(i), e);
    }
    return out;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    store::StoreStats st = live(env).store->stats();
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char* k, uint64_t v) { o.Set(k, static_cast<double>(v)); };
    set("capacity", st.capacity);
    set("used", st.used);
    set("committed", st.committed);
    set("objects", st.objects);
    set("sealed", st.sealed);
    set("unsealed", st.unsealed);
    set("spilledObjects", st.spilled_now);
    set("pinned", st.pinned);
    set("pinnedBytes", st.pinned_bytes);
    set("spilledBytesNow", st.spilled_bytes_now);
    set("spillLimit", st.spill_limit);
    set("maxObjects", st.max_objects);
    set("clients", st.clients);
    set("evicted", st.evicted);
    set("evictedBytes", st.evicted_bytes);
    set("spilled", st.spilled);
    set("spilledBytes", st.spilled_bytes);
    set("restored", st.restored);
    set("restoredBytes", st.restored_bytes);
    set("repairs", st.repairs);
    set("reapedClients", st.reaped_clients);
    return o;
  }

  Napi::Value ReapDeadClients(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, live(env).store->reap_dead_clients());
  }

  Napi::Value ReapClient(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    live(env).store->reap_client(info[0].As<Napi::Number>().Uint32Value());
    return env.Undefined();
  }

  Napi::Value RemoveSpillFiles(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    live(env).store->remove_spill_files();
    return env.Undefined();
  }

  Napi::Value SealEpoch(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), live(info.Env()).store->seal_epoch());
  }

  Napi::Value ArmWait(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    live(env);
    waiter_->arm(env, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Function>());
    return env.Undefined();
  }

  Napi::Value DisarmWait(const Napi::CallbackInfo& info) {
    if (waiter_) waiter_->disarm(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value ViewOffset(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Session& s = live(env);
    if (!info[0].IsTypedArray()) return Napi::Number::New(env, -1);
    auto ta = info[0].As<Napi::TypedArray>();
    auto* p = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    uint8_t* base = s.store->base();
    if (p < base || p >= base + s.store->mapping_size()) return Napi::Number::New(env, -1);
    return Napi::Number::New(env, static_cast<double>(p - base));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    shutdown();
    return info.Env().Undefined();
  }

  // Stops the waiter, gives the client slot back (aborting its unsealed objects,
  // dropping its pins) and lets go of the mapping: views still alive keep it mapped.
  void shutdown() {
    if (!session_) return;
    if (cleanup_) {
      napi_remove_env_cleanup_hook(env_, RunCleanup, cleanup_.get());
    }
    waiter_.reset();           // joins the thread
    session_->warmer.reset();  // joins the warmer: close() stops warming even while views live
    try {
      session_->store->unregister_client(session_->client);
    } catch (const StoreError&) {
      // Already reaped by someone else.
    }
    session_.reset();  // the windows (and the mapping) live on while views use them
  }

  std::shared_ptr<Session> session_;
  std::unique_ptr<SealWaiter> waiter_;
  std::unique_ptr<std::function<void()>> cleanup_;
  napi_env env_ = nullptr;
};

}  // namespace

void InitStoreHandle(Napi::Env env, Napi::Object exports) { StoreHandle::Init(env, exports); }

}  // namespace sunray::addon
