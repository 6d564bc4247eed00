// The JS binding of the C core (core/iovh.h): the only C++ file.
//
// It checks and converts arguments (a wrong type is a TypeError, a value out
// of range a RangeError, never a crash), lays out the structs the C core
// passes to the kernel, calls one C function, and turns a negative return
// into an Error carrying errno (negative, as Node does), code, syscall and
// request (the ioctl's name). src/core/addon.ts types this surface;
// src/backend/native.ts adds the device path and makes it a SystemError.
//
// Calls that may block (VFIO_DEVICE_RESET, DRM_IOCTL_SYNCOBJ_WAIT,
// DRM_IOCTL_XE_WAIT_USER_FENCE) run on libuv's thread pool in an AsyncWorker
// and settle a Promise on the JS thread.
#include <napi.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "iovh.h"

namespace {

// ------------------------------------------------------------------ errors

std::string errnoName(int err) {
  const char *name = strerrorname_np(err);
  return name ? std::string(name) : "E" + std::to_string(err);
}

// A failed system call: `err` positive.
Napi::Error errnoError(Napi::Env env, int err, const char *syscall, const char *request) {
  std::string code = errnoName(err);
  std::string message = code + ": " + std::strerror(err) + ", " + syscall;
  if (request) message += std::string(" ") + request;
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (request) e.Set("request", Napi::String::New(env, request));
  return e;
}

void check(Napi::Env env, long ret, const char *syscall, const char *request = nullptr) {
  if (ret < 0) throw errnoError(env, static_cast<int>(-ret), syscall, request);
}

// ------------------------------------------------------------------ arguments

// Largest byte count accepted for a buffer we allocate on the caller's behalf.
constexpr size_t kMaxTransfer = size_t(1) << 30;

class Args {
 public:
  Args(const Napi::CallbackInfo &info, const char *fn) : info_(info), fn_(fn) {}

  Napi::Env env() const { return info_.Env(); }

  [[noreturn]] void typeError(size_t i, const std::string &what) const {
    throw Napi::TypeError::New(env(), std::string(fn_) + ": argument " + std::to_string(i + 1) + " must be " + what);
  }
  [[noreturn]] void rangeError(size_t i, const std::string &what) const {
    throw Napi::RangeError::New(env(), std::string(fn_) + ": argument " + std::to_string(i + 1) + " " + what);
  }

  double integer(size_t i, double lo, double hi, const char *what) const {
    Napi::Value v = info_[i];
    if (!v.IsNumber()) typeError(i, std::string(what) + " (a number)");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::trunc(d)) typeError(i, std::string(what) + " (an integer)");
    if (d < lo || d > hi) rangeError(i, "is out of range for " + std::string(what) + ": " + std::to_string(d));
    return d;
  }

  int fd(size_t i) const { return static_cast<int>(integer(i, -2147483648.0, 2147483647.0, "a file descriptor")); }
  int32_t i32(size_t i) const { return static_cast<int32_t>(integer(i, -2147483648.0, 2147483647.0, "an int32")); }
  uint32_t u32(size_t i) const { return static_cast<uint32_t>(integer(i, 0, 4294967295.0, "a u32")); }
  uint16_t u16(size_t i) const { return static_cast<uint16_t>(integer(i, 0, 65535.0, "a u16")); }
  size_t size(size_t i) const { return static_cast<size_t>(integer(i, 0, 9007199254740991.0, "a byte count")); }

  uint64_t u64(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsBigInt()) typeError(i, "a bigint (u64)");
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) rangeError(i, "does not fit in a u64");
    return x;
  }

  int64_t i64(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsBigInt()) typeError(i, "a bigint (s64)");
    bool lossless = false;
    int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) rangeError(i, "does not fit in an s64");
    return x;
  }

  std::string str(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsString()) typeError(i, "a string");
    return v.As<Napi::String>().Utf8Value();
  }

  Napi::Uint8Array bytes(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) typeError(i, "a Uint8Array");
    return v.As<Napi::Uint8Array>();
  }

  Napi::TypedArrayOf<uint64_t> bigU64Array(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array) typeError(i, "a BigUint64Array");
    return v.As<Napi::TypedArrayOf<uint64_t>>();
  }

  Napi::TypedArrayOf<uint32_t> u32Array(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) typeError(i, "a Uint32Array");
    return v.As<Napi::TypedArrayOf<uint32_t>>();
  }

  Napi::TypedArrayOf<uint16_t> u16Array(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array) typeError(i, "a Uint16Array");
    return v.As<Napi::TypedArrayOf<uint16_t>>();
  }

  Napi::Array array(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsArray()) typeError(i, "an array");
    return v.As<Napi::Array>();
  }

 private:
  const Napi::CallbackInfo &info_;
  const char *fn_;
};

// Fields of plain objects (bind ops, syncs), with the path in messages.
class Fields {
 public:
  Fields(Napi::Env env, Napi::Value v, std::string where) : env_(env), where_(std::move(where)) {
    if (!v.IsObject()) throw Napi::TypeError::New(env, where_ + " must be an object");
    obj_ = v.As<Napi::Object>();
  }

  bool has(const char *key) const {
    Napi::Value v = obj_.Get(key);
    return !v.IsUndefined();
  }

  double integer(const char *key, double lo, double hi, double fallback, bool required) const {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) {
      if (required) throw Napi::TypeError::New(env_, where_ + "." + key + " is required");
      return fallback;
    }
    if (!v.IsNumber()) throw Napi::TypeError::New(env_, where_ + "." + key + " must be a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::trunc(d)) throw Napi::TypeError::New(env_, where_ + "." + key + " must be an integer");
    if (d < lo || d > hi) throw Napi::RangeError::New(env_, where_ + "." + key + " is out of range");
    return d;
  }

  uint32_t u32(const char *key, bool required = true, uint32_t fallback = 0) const {
    return static_cast<uint32_t>(integer(key, 0, 4294967295.0, fallback, required));
  }
  uint16_t u16(const char *key, bool required = true, uint16_t fallback = 0) const {
    return static_cast<uint16_t>(integer(key, 0, 65535.0, fallback, required));
  }

  uint64_t u64(const char *key, bool required = true, uint64_t fallback = 0) const {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) {
      if (required) throw Napi::TypeError::New(env_, where_ + "." + key + " is required");
      return fallback;
    }
    if (!v.IsBigInt()) throw Napi::TypeError::New(env_, where_ + "." + key + " must be a bigint");
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env_, where_ + "." + key + " does not fit in a u64");
    return x;
  }

 private:
  Napi::Env env_;
  std::string where_;
  Napi::Object obj_;
};

// Run a binding body; C++ exceptions other than Napi::Error (bad_alloc) become JS errors.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo &info, F body) {
  try {
    return body(info);
  } catch (const Napi::Error &) {
    throw;
  } catch (const std::bad_alloc &) {
    throw Napi::RangeError::New(info.Env(), "iovh: out of memory building the request");
  } catch (const std::exception &e) {
    throw Napi::Error::New(info.Env(), std::string("iovh: ") + e.what());
  }
}

#define IOVH_FN(name) Napi::Value name(const Napi::CallbackInfo &info)

Napi::Value u64Value(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

// ------------------------------------------------------------------ pattern

[[noreturn]] void throwRange(Napi::Env env, const std::string &msg) { throw Napi::RangeError::New(env, msg); }

void checkSpan(Napi::Env env, size_t length, uint64_t address) {
  if (length % 8 != 0) throwRange(env, "pattern length must be a multiple of 8, got " + std::to_string(length));
  if (address % 8 != 0) throwRange(env, "pattern base address must be a multiple of 8");
}

Napi::Value mismatchValue(Napi::Env env, int found, const pattern_mismatch &m) {
  if (!found) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("offset", Napi::Number::New(env, static_cast<double>(m.offset)));
  o.Set("expected", Napi::BigInt::New(env, m.expected));
  o.Set("actual", Napi::BigInt::New(env, m.actual));
  return o;
}

IOVH_FN(PatternFill) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "patternFill");
    Napi::Uint8Array buf = a.bytes(0);
    uint64_t seed = a.u64(1), base = a.u64(2);
    checkSpan(info.Env(), buf.ByteLength(), base);
    pattern_fill(buf.Data(), buf.ByteLength(), seed, base);
    return info.Env().Undefined();
  });
}

IOVH_FN(PatternVerify) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "patternVerify");
    Napi::Uint8Array buf = a.bytes(0);
    uint64_t seed = a.u64(1), base = a.u64(2);
    checkSpan(info.Env(), buf.ByteLength(), base);
    pattern_mismatch m{};
    int found = pattern_verify(buf.Data(), buf.ByteLength(), seed, base, &m);
    return mismatchValue(info.Env(), found, m);
  });
}

// ------------------------------------------------------------------ mappings

struct AddonData {
  Napi::FunctionReference mappingCtor;
};

// Mapping accesses run under the C core's SIGBUS guard (mem_guarded): memory
// that lost its backing ends the access with EFAULT instead of killing Node.
struct Access {
  enum { kCopy, kFill, kVerify } op;
  unsigned char *dst;
  const unsigned char *src;
  size_t length;
  uint64_t seed, address;
  int found;
  pattern_mismatch mismatch;
};

void runAccess(void *p) {
  auto *a = static_cast<Access *>(p);
  switch (a->op) {
    case Access::kCopy:
      std::memcpy(a->dst, a->src, a->length);
      break;
    case Access::kFill:
      pattern_fill(a->dst, a->length, a->seed, a->address);
      break;
    case Access::kVerify:
      a->found = pattern_verify(a->src, a->length, a->seed, a->address, &a->mismatch);
      break;
  }
}

void guardedAccess(Napi::Env env, Access &a) {
  if (mem_guarded(runAccess, &a) < 0) {
    Napi::Error e = errnoError(env, EFAULT, "mmap access", nullptr);
    e.Set("signal", Napi::String::New(env, "SIGBUS"));
    throw e;
  }
}

struct MapInit {
  void *addr;
  size_t length;
};

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Mapping",
                       {
                           InstanceAccessor<&Mapping::Length>("length"),
                           InstanceAccessor<&Mapping::Address>("address"),
                           InstanceAccessor<&Mapping::Mapped>("mapped"),
                           InstanceMethod<&Mapping::Read>("read"),
                           InstanceMethod<&Mapping::Write>("write"),
                           InstanceMethod<&Mapping::Fill>("fill"),
                           InstanceMethod<&Mapping::Verify>("verify"),
                           InstanceMethod<&Mapping::Unmap>("unmap"),
                       });
  }

  explicit Mapping(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Mapping>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "Mapping objects come from mmap(); they cannot be constructed");
    }
    const MapInit *init = info[0].As<Napi::External<MapInit>>().Data();
    addr_ = static_cast<unsigned char *>(init->addr);
    length_ = init->length;
  }

  // A mapping the program dropped without unmap() is released with the object.
  ~Mapping() override {
    if (addr_) __mem_unmap(addr_, length_);
  }

 private:
  void live(Napi::Env env) const {
    if (!addr_) {
      Napi::Error e = Napi::Error::New(env, "mapping was unmapped");
      e.Set("code", Napi::String::New(env, "ERR_IOVH_UNMAPPED"));
      throw e;
    }
  }

  void bounds(Napi::Env env, size_t offset, size_t length) const {
    if (offset > length_ || length > length_ - offset) {
      throwRange(env, "[" + std::to_string(offset) + ", +" + std::to_string(length) + ") is outside the " +
                          std::to_string(length_) + "-byte mapping");
    }
  }

  Napi::Value Length(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), static_cast<double>(length_)); }

  Napi::Value Address(const Napi::CallbackInfo &info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(addr_ ? addr_ : base_)));
  }

  Napi::Value Mapped(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), addr_ != nullptr); }

  Napi::Value Read(const Napi::CallbackInfo &info) {
    Args a(info, "Mapping.read");
    size_t offset = a.size(0), length = a.size(1);
    live(info.Env());
    bounds(info.Env(), offset, length);
    Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), length);
    if (length) {
      Access acc{Access::kCopy, out.Data(), addr_ + offset, length, 0, 0, 0, {}};
      guardedAccess(info.Env(), acc);
    }
    return out;
  }

  Napi::Value Write(const Napi::CallbackInfo &info) {
    Args a(info, "Mapping.write");
    size_t offset = a.size(0);
    Napi::Uint8Array data = a.bytes(1);
    live(info.Env());
    bounds(info.Env(), offset, data.ByteLength());
    if (data.ByteLength()) {
      Access acc{Access::kCopy, addr_ + offset, data.Data(), data.ByteLength(), 0, 0, 0, {}};
      guardedAccess(info.Env(), acc);
    }
    return info.Env().Undefined();
  }

  Napi::Value Fill(const Napi::CallbackInfo &info) {
    Args a(info, "Mapping.fill");
    size_t offset = a.size(0), length = a.size(1);
    uint64_t seed = a.u64(2), address = a.u64(3);
    live(info.Env());
    bounds(info.Env(), offset, length);
    checkSpan(info.Env(), length, address);
    Access acc{Access::kFill, addr_ + offset, nullptr, length, seed, address, 0, {}};
    guardedAccess(info.Env(), acc);
    return info.Env().Undefined();
  }

  Napi::Value Verify(const Napi::CallbackInfo &info) {
    Args a(info, "Mapping.verify");
    size_t offset = a.size(0), length = a.size(1);
    uint64_t seed = a.u64(2), address = a.u64(3);
    live(info.Env());
    bounds(info.Env(), offset, length);
    checkSpan(info.Env(), length, address);
    Access acc{Access::kVerify, nullptr, addr_ + offset, length, seed, address, 0, {}};
    guardedAccess(info.Env(), acc);
    return mismatchValue(info.Env(), acc.found, acc.mismatch);
  }

  Napi::Value Unmap(const Napi::CallbackInfo &info) {
    if (addr_) {
      check(info.Env(), __mem_unmap(addr_, length_), "munmap");
      base_ = addr_;
      addr_ = nullptr;
    }
    return info.Env().Undefined();
  }

  unsigned char *addr_ = nullptr;
  unsigned char *base_ = nullptr;  // the address it had, reported after unmap
  size_t length_ = 0;
};

IOVH_FN(Mmap) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "mmap");
    int fd = a.fd(0);
    uint64_t offset = a.u64(1);
    size_t length = a.size(2);
    int prot = a.i32(3);
    void *addr = nullptr;
    check(info.Env(), __mem_map(fd, offset, length, prot, &addr), "mmap");
    MapInit init{addr, length};
    AddonData *data = info.Env().GetInstanceData<AddonData>();
    try {
      return data->mappingCtor.New({Napi::External<MapInit>::New(info.Env(), &init)});
    } catch (...) {
      __mem_unmap(addr, length);
      throw;
    }
  });
}

// ------------------------------------------------------------------ async calls

class SyscallWorker : public Napi::AsyncWorker {
 public:
  SyscallWorker(Napi::Env env, const char *syscall, const char *request)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), syscall_(syscall), request_(request) {}

  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  virtual long Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

  void Execute() override { ret_ = Run(); }

  void OnOK() override {
    Napi::Env env = Env();
    if (ret_ < 0)
      deferred_.Reject(errnoError(env, static_cast<int>(-ret_), syscall_, request_).Value());
    else
      deferred_.Resolve(Result(env));
  }

  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  const char *syscall_;
  const char *request_;
  long ret_ = 0;
};

class ResetWorker : public SyscallWorker {
 public:
  ResetWorker(Napi::Env env, int fd) : SyscallWorker(env, "ioctl", "VFIO_DEVICE_RESET"), fd_(fd) {}

 protected:
  long Run() override { return __vfio_device_reset(fd_); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  int fd_;
};

class SyncobjWaitWorker : public SyscallWorker {
 public:
  SyncobjWaitWorker(Napi::Env env, int fd, std::vector<uint32_t> handles, int64_t timeout, uint32_t flags)
      : SyscallWorker(env, "ioctl", "DRM_IOCTL_SYNCOBJ_WAIT"), fd_(fd), handles_(std::move(handles)) {
    std::memset(&wait_, 0, sizeof(wait_));
    wait_.timeout_nsec = timeout;
    wait_.count_handles = static_cast<uint32_t>(handles_.size());
    wait_.flags = flags;
  }

 protected:
  long Run() override {
    wait_.handles = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(handles_.data()));
    return __drm_syncobj_wait(fd_, &wait_);
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, wait_.first_signaled); }

 private:
  int fd_;
  std::vector<uint32_t> handles_;
  drm_syncobj_wait wait_;
};

class UserFenceWorker : public SyscallWorker {
 public:
  UserFenceWorker(Napi::Env env, int fd, const drm_xe_wait_user_fence &wait)
      : SyscallWorker(env, "ioctl", "DRM_IOCTL_XE_WAIT_USER_FENCE"), fd_(fd), wait_(wait) {}

 protected:
  long Run() override { return __xe_wait_user_fence(fd_, &wait_); }
  Napi::Value Result(Napi::Env env) override { return Napi::BigInt::New(env, wait_.timeout); }

 private:
  int fd_;
  drm_xe_wait_user_fence wait_;
};

// ------------------------------------------------------------------ files

IOVH_FN(Open) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "open");
    std::string path = a.str(0);
    int flags = a.i32(1);
    int fd = __fd_open(path.c_str(), flags);
    check(info.Env(), fd, "open");
    return Napi::Number::New(info.Env(), fd);
  });
}

IOVH_FN(Close) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "close");
    check(info.Env(), __fd_close(a.fd(0)), "close");
    return info.Env().Undefined();
  });
}

IOVH_FN(Pread) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "pread");
    int fd = a.fd(0);
    uint64_t offset = a.u64(1);
    size_t length = a.size(2);
    if (length > kMaxTransfer) a.rangeError(2, "exceeds the 1 GiB read limit");
    Napi::Env env = info.Env();
    Napi::Uint8Array out = Napi::Uint8Array::New(env, length);
    ssize_t n = __fd_pread(fd, out.Data(), length, offset);
    check(env, n, "pread");
    if (static_cast<size_t>(n) == length) return out;
    // A short read (end of file, end of a region): return just what was read.
    Napi::Uint8Array shorter = Napi::Uint8Array::New(env, static_cast<size_t>(n));
    if (n) std::memcpy(shorter.Data(), out.Data(), static_cast<size_t>(n));
    return shorter;
  });
}

IOVH_FN(Pwrite) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "pwrite");
    int fd = a.fd(0);
    uint64_t offset = a.u64(1);
    Napi::Uint8Array data = a.bytes(2);
    ssize_t n = __fd_pwrite(fd, data.Data(), data.ByteLength(), offset);
    check(info.Env(), n, "pwrite");
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  });
}

IOVH_FN(Ftruncate) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "ftruncate");
    int fd = a.fd(0);
    uint64_t size = a.u64(1);
    check(info.Env(), __fd_ftruncate(fd, size), "ftruncate");
    return info.Env().Undefined();
  });
}

// ------------------------------------------------------------------ VFIO

IOVH_FN(VfioGetApiVersion) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioGetApiVersion");
    int ret = __vfio_get_api_version(a.fd(0));
    check(info.Env(), ret, "ioctl", "VFIO_GET_API_VERSION");
    return Napi::Number::New(info.Env(), ret);
  });
}

IOVH_FN(VfioCheckExtension) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioCheckExtension");
    int fd = a.fd(0);
    int ext = a.i32(1);
    int ret = __vfio_check_extension(fd, ext);
    check(info.Env(), ret, "ioctl", "VFIO_CHECK_EXTENSION");
    return Napi::Number::New(info.Env(), ret);
  });
}

IOVH_FN(VfioSetIommu) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioSetIommu");
    int fd = a.fd(0);
    int type = a.i32(1);
    check(info.Env(), __vfio_set_iommu(fd, type), "ioctl", "VFIO_SET_IOMMU");
    return info.Env().Undefined();
  });
}

IOVH_FN(VfioGroupGetStatus) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioGroupGetStatus");
    vfio_group_status st{};
    st.argsz = sizeof(st);
    check(info.Env(), __vfio_group_get_status(a.fd(0), &st), "ioctl", "VFIO_GROUP_GET_STATUS");
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("argsz", st.argsz);
    o.Set("flags", st.flags);
    return o;
  });
}

IOVH_FN(VfioGroupSetContainer) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioGroupSetContainer");
    int group = a.fd(0), container = a.fd(1);
    check(info.Env(), __vfio_group_set_container(group, container), "ioctl", "VFIO_GROUP_SET_CONTAINER");
    return info.Env().Undefined();
  });
}

IOVH_FN(VfioGroupUnsetContainer) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioGroupUnsetContainer");
    check(info.Env(), __vfio_group_unset_container(a.fd(0)), "ioctl", "VFIO_GROUP_UNSET_CONTAINER");
    return info.Env().Undefined();
  });
}

IOVH_FN(VfioGroupGetDeviceFd) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioGroupGetDeviceFd");
    int group = a.fd(0);
    std::string bdf = a.str(1);
    int fd = __vfio_group_get_device_fd(group, bdf.c_str());
    check(info.Env(), fd, "ioctl", "VFIO_GROUP_GET_DEVICE_FD");
    return Napi::Number::New(info.Env(), fd);
  });
}

IOVH_FN(VfioDeviceGetInfo) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioDeviceGetInfo");
    vfio_device_info di{};
    di.argsz = sizeof(di);
    check(info.Env(), __vfio_device_get_info(a.fd(0), &di), "ioctl", "VFIO_DEVICE_GET_INFO");
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("argsz", di.argsz);
    o.Set("flags", di.flags);
    o.Set("numRegions", di.num_regions);
    o.Set("numIrqs", di.num_irqs);
    o.Set("capOffset", di.cap_offset);
    return o;
  });
}

IOVH_FN(VfioDeviceGetRegionInfo) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioDeviceGetRegionInfo");
    int fd = a.fd(0);
    uint32_t index = a.u32(1);
    uint32_t argsz = a.u32(2);
    if (argsz > (1u << 20)) a.rangeError(2, "is larger than any region info (1 MiB)");
    // At least the fixed struct, so a too-small argsz reaches the kernel without us overrunning.
    size_t bytes = argsz > sizeof(vfio_region_info) ? argsz : sizeof(vfio_region_info);
    std::vector<uint64_t> buf((bytes + 7) / 8, 0);
    auto *ri = reinterpret_cast<vfio_region_info *>(buf.data());
    ri->argsz = argsz;
    ri->index = index;
    check(info.Env(), __vfio_device_get_region_info(fd, ri), "ioctl", "VFIO_DEVICE_GET_REGION_INFO");
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("argsz", ri->argsz);
    o.Set("flags", ri->flags);
    o.Set("index", ri->index);
    o.Set("capOffset", ri->cap_offset);
    o.Set("size", u64Value(env, ri->size));
    o.Set("offset", u64Value(env, ri->offset));
    size_t filled = ri->argsz < argsz ? ri->argsz : argsz;
    size_t ncaps = filled > sizeof(vfio_region_info) ? filled - sizeof(vfio_region_info) : 0;
    Napi::Uint8Array caps = Napi::Uint8Array::New(env, ncaps);
    if (ncaps) std::memcpy(caps.Data(), reinterpret_cast<unsigned char *>(ri) + sizeof(vfio_region_info), ncaps);
    o.Set("caps", caps);
    return o;
  });
}

IOVH_FN(VfioDeviceReset) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioDeviceReset");
    auto *w = new ResetWorker(info.Env(), a.fd(0));
    return w->Start();
  });
}

// The kernel reads at most a feature's own struct beyond the header (the
// driver copies a fixed size bounded by argsz); zeros past the payload keep an
// argsz larger than the payload deterministic.
constexpr size_t kFeatureSlack = 4096;

IOVH_FN(VfioDeviceFeature) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioDeviceFeature");
    int fd = a.fd(0);
    uint32_t flags = a.u32(1);
    Napi::Uint8Array payload = a.bytes(2);
    uint32_t argsz = a.u32(3);
    if (payload.ByteLength() > kMaxTransfer) a.rangeError(2, "exceeds 1 GiB");
    size_t bytes = sizeof(vfio_device_feature) + payload.ByteLength() + kFeatureSlack;
    std::vector<uint64_t> buf((bytes + 7) / 8, 0);
    auto *f = reinterpret_cast<vfio_device_feature *>(buf.data());
    f->argsz = argsz;
    f->flags = flags;
    if (payload.ByteLength()) std::memcpy(f->data, payload.Data(), payload.ByteLength());
    int ret = __vfio_device_feature(fd, f);
    check(info.Env(), ret, "ioctl", "VFIO_DEVICE_FEATURE");
    return Napi::Number::New(info.Env(), ret);
  });
}

IOVH_FN(VfioDeviceFeatureDmaBuf) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioDeviceFeatureDmaBuf");
    int fd = a.fd(0);
    uint32_t featureFlags = a.u32(1);
    uint32_t argsz = a.u32(2);
    uint32_t region = a.u32(3);
    uint32_t openFlags = a.u32(4);
    uint32_t flags = a.u32(5);
    uint32_t nrRanges = a.u32(6);
    Napi::TypedArrayOf<uint64_t> ranges = a.bigU64Array(7);
    if (ranges.ElementLength() % 2 != 0) a.rangeError(7, "must hold [offset, length] pairs (an even length)");
    size_t n = ranges.ElementLength() / 2;
    size_t bytes = vfio_dma_buf_request_size(n);
    Napi::Env env = info.Env();
    if (nrRanges <= n) {
      std::vector<uint64_t> buf((bytes + 7) / 8, 0);
      vfio_dma_buf_request_fill(buf.data(), argsz, featureFlags, region, openFlags, flags, nrRanges, ranges.Data(), n);
      int ret = __vfio_device_feature(fd, reinterpret_cast<vfio_device_feature *>(buf.data()));
      check(env, ret, "ioctl", "VFIO_DEVICE_FEATURE");
      return Napi::Number::New(env, ret);
    }
    // nr_ranges claims more ranges than were given: end the buffer at a
    // PROT_NONE page so the kernel's copy of the rest faults (EFAULT) rather
    // than reading whatever follows in our heap.
    long page = sysconf(_SC_PAGESIZE);
    size_t span = (bytes + page - 1) / page * page;
    void *area = nullptr;
    check(env, __mem_map_anon(span + page, &area), "mmap");
    unsigned char *guard = static_cast<unsigned char *>(area) + span;
    int ret = __mem_protect(guard, page, PROT_NONE);
    if (ret == 0) {
      void *start = guard - bytes;
      vfio_dma_buf_request_fill(start, argsz, featureFlags, region, openFlags, flags, nrRanges, ranges.Data(), n);
      ret = __vfio_device_feature(fd, static_cast<vfio_device_feature *>(start));
      __mem_unmap(area, span + page);
      check(env, ret, "ioctl", "VFIO_DEVICE_FEATURE");
      return Napi::Number::New(env, ret);
    }
    __mem_unmap(area, span + page);
    check(env, ret, "mprotect");
    return env.Undefined();
  });
}

IOVH_FN(VfioDeviceBindIommufd) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioDeviceBindIommufd");
    int fd = a.fd(0);
    vfio_device_bind_iommufd bind{};
    bind.argsz = sizeof(bind);
    bind.iommufd = a.fd(1);
    bind.flags = a.u32(2);
    check(info.Env(), __vfio_device_bind_iommufd(fd, &bind), "ioctl", "VFIO_DEVICE_BIND_IOMMUFD");
    return Napi::Number::New(info.Env(), bind.out_devid);
  });
}

IOVH_FN(VfioDeviceAttachIommufdPt) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioDeviceAttachIommufdPt");
    int fd = a.fd(0);
    vfio_device_attach_iommufd_pt attach{};
    attach.argsz = sizeof(attach);
    attach.pt_id = a.u32(1);
    check(info.Env(), __vfio_device_attach_iommufd_pt(fd, &attach), "ioctl", "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
    return Napi::Number::New(info.Env(), attach.pt_id);
  });
}

IOVH_FN(VfioDeviceDetachIommufdPt) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "vfioDeviceDetachIommufdPt");
    vfio_device_detach_iommufd_pt detach{};
    detach.argsz = sizeof(detach);
    check(info.Env(), __vfio_device_detach_iommufd_pt(a.fd(0), &detach), "ioctl", "VFIO_DEVICE_DETACH_IOMMUFD_PT");
    return info.Env().Undefined();
  });
}

IOVH_FN(IommuIoasAlloc) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "iommuIoasAlloc");
    iommu_ioas_alloc alloc{};
    alloc.size = sizeof(alloc);
    check(info.Env(), __iommu_ioas_alloc(a.fd(0), &alloc), "ioctl", "IOMMU_IOAS_ALLOC");
    return Napi::Number::New(info.Env(), alloc.out_ioas_id);
  });
}

// ------------------------------------------------------------------ DRM

IOVH_FN(DrmVersion) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "drmVersion");
    int fd = a.fd(0);
    size_t size = a.size(1);
    if (size > (1u << 20)) a.rangeError(1, "is larger than any DRM version string (1 MiB)");
    std::vector<char> name(size + 1), date(size + 1), desc(size + 1);
    drm_version v{};
    v.name_len = size;
    v.name = name.data();
    v.date_len = size;
    v.date = date.data();
    v.desc_len = size;
    v.desc = desc.data();
    check(info.Env(), __drm_version(fd, &v), "ioctl", "DRM_IOCTL_VERSION");
    Napi::Env env = info.Env();
    auto text = [&](const std::vector<char> &b, size_t len) {
      size_t n = len < size ? len : size;
      return Napi::String::New(env, b.data(), strnlen(b.data(), n));
    };
    Napi::Object o = Napi::Object::New(env);
    o.Set("major", v.version_major);
    o.Set("minor", v.version_minor);
    o.Set("patchlevel", v.version_patchlevel);
    o.Set("nameLen", static_cast<double>(v.name_len));
    o.Set("dateLen", static_cast<double>(v.date_len));
    o.Set("descLen", static_cast<double>(v.desc_len));
    o.Set("name", text(name, v.name_len));
    o.Set("date", text(date, v.date_len));
    o.Set("desc", text(desc, v.desc_len));
    return o;
  });
}

IOVH_FN(DrmGetCap) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "drmGetCap");
    int fd = a.fd(0);
    drm_get_cap cap{};
    cap.capability = a.u64(1);
    check(info.Env(), __drm_get_cap(fd, &cap), "ioctl", "DRM_IOCTL_GET_CAP");
    return u64Value(info.Env(), cap.value);
  });
}

IOVH_FN(DrmPrimeFdToHandle) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "drmPrimeFdToHandle");
    int fd = a.fd(0);
    drm_prime_handle p{};
    p.fd = a.fd(1);
    check(info.Env(), __drm_prime_fd_to_handle(fd, &p), "ioctl", "DRM_IOCTL_PRIME_FD_TO_HANDLE");
    return Napi::Number::New(info.Env(), p.handle);
  });
}

IOVH_FN(DrmPrimeHandleToFd) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "drmPrimeHandleToFd");
    int fd = a.fd(0);
    drm_prime_handle p{};
    p.handle = a.u32(1);
    p.flags = a.u32(2);
    p.fd = -1;
    check(info.Env(), __drm_prime_handle_to_fd(fd, &p), "ioctl", "DRM_IOCTL_PRIME_HANDLE_TO_FD");
    return Napi::Number::New(info.Env(), p.fd);
  });
}

IOVH_FN(DrmGemClose) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "drmGemClose");
    int fd = a.fd(0);
    uint32_t handle = a.u32(1);
    check(info.Env(), __drm_gem_close(fd, handle), "ioctl", "DRM_IOCTL_GEM_CLOSE");
    return info.Env().Undefined();
  });
}

IOVH_FN(DrmSyncobjCreate) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "drmSyncobjCreate");
    int fd = a.fd(0);
    drm_syncobj_create c{};
    c.flags = a.u32(1);
    check(info.Env(), __drm_syncobj_create(fd, &c), "ioctl", "DRM_IOCTL_SYNCOBJ_CREATE");
    return Napi::Number::New(info.Env(), c.handle);
  });
}

IOVH_FN(DrmSyncobjDestroy) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "drmSyncobjDestroy");
    int fd = a.fd(0);
    uint32_t handle = a.u32(1);
    check(info.Env(), __drm_syncobj_destroy(fd, handle), "ioctl", "DRM_IOCTL_SYNCOBJ_DESTROY");
    return info.Env().Undefined();
  });
}

IOVH_FN(DrmSyncobjWait) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "drmSyncobjWait");
    int fd = a.fd(0);
    Napi::TypedArrayOf<uint32_t> handles = a.u32Array(1);
    int64_t timeout = a.i64(2);
    uint32_t flags = a.u32(3);
    std::vector<uint32_t> hs(handles.Data(), handles.Data() + handles.ElementLength());
    auto *w = new SyncobjWaitWorker(info.Env(), fd, std::move(hs), timeout, flags);
    return w->Start();
  });
}

// ------------------------------------------------------------------ Xe

IOVH_FN(XeDeviceQuery) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeDeviceQuery");
    int fd = a.fd(0);
    uint32_t query = a.u32(1);
    uint32_t size = a.u32(2);
    if (size > kMaxTransfer) a.rangeError(2, "exceeds 1 GiB");
    Napi::Env env = info.Env();
    Napi::Uint8Array data = Napi::Uint8Array::New(env, size);
    drm_xe_device_query q{};
    q.query = query;
    q.size = size;
    q.data = size ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data.Data())) : 0;
    check(env, __xe_device_query(fd, &q), "ioctl", "DRM_IOCTL_XE_DEVICE_QUERY");
    Napi::Object o = Napi::Object::New(env);
    o.Set("size", q.size);
    o.Set("data", data);
    return o;
  });
}

IOVH_FN(XeGemCreate) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeGemCreate");
    int fd = a.fd(0);
    drm_xe_gem_create c{};
    c.size = a.u64(1);
    c.placement = a.u32(2);
    c.flags = a.u32(3);
    c.vm_id = a.u32(4);
    c.cpu_caching = a.u16(5);
    check(info.Env(), __xe_gem_create(fd, &c), "ioctl", "DRM_IOCTL_XE_GEM_CREATE");
    return Napi::Number::New(info.Env(), c.handle);
  });
}

IOVH_FN(XeGemMmapOffset) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeGemMmapOffset");
    int fd = a.fd(0);
    drm_xe_gem_mmap_offset m{};
    m.handle = a.u32(1);
    m.flags = a.u32(2);
    check(info.Env(), __xe_gem_mmap_offset(fd, &m), "ioctl", "DRM_IOCTL_XE_GEM_MMAP_OFFSET");
    return u64Value(info.Env(), m.offset);
  });
}

IOVH_FN(XeVmCreate) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeVmCreate");
    int fd = a.fd(0);
    drm_xe_vm_create c{};
    c.flags = a.u32(1);
    check(info.Env(), __xe_vm_create(fd, &c), "ioctl", "DRM_IOCTL_XE_VM_CREATE");
    return Napi::Number::New(info.Env(), c.vm_id);
  });
}

IOVH_FN(XeVmDestroy) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeVmDestroy");
    int fd = a.fd(0);
    uint32_t vm = a.u32(1);
    check(info.Env(), __xe_vm_destroy(fd, vm), "ioctl", "DRM_IOCTL_XE_VM_DESTROY");
    return info.Env().Undefined();
  });
}

std::vector<drm_xe_sync> readSyncs(Napi::Env env, Napi::Array list) {
  std::vector<drm_xe_sync> out(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Fields f(env, list.Get(i), "syncs[" + std::to_string(i) + "]");
    drm_xe_sync &s = out[i];
    std::memset(&s, 0, sizeof(s));
    s.type = f.u32("type");
    s.flags = f.u32("flags");
    // handle and addr share one union slot (kernel-abi §7).
    if (f.has("addr"))
      s.addr = f.u64("addr");
    else
      s.handle = f.u32("handle", false, 0);
    s.timeline_value = f.u64("timelineValue", false, 0);
  }
  return out;
}

IOVH_FN(XeVmBind) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeVmBind");
    Napi::Env env = info.Env();
    int fd = a.fd(0);
    uint32_t vm = a.u32(1);
    uint32_t queue = a.u32(2);
    Napi::Array binds = a.array(3);
    Napi::Array syncList = a.array(4);
    std::vector<drm_xe_vm_bind_op> ops(binds.Length());
    for (uint32_t i = 0; i < binds.Length(); i++) {
      Fields f(env, binds.Get(i), "binds[" + std::to_string(i) + "]");
      drm_xe_vm_bind_op &op = ops[i];
      std::memset(&op, 0, sizeof(op));
      op.obj = f.u32("obj");
      op.pat_index = f.u16("patIndex");
      op.obj_offset = f.u64("objOffset");
      op.range = f.u64("range");
      op.addr = f.u64("addr");
      op.op = f.u32("op");
      op.flags = f.u32("flags", false, 0);
      op.prefetch_mem_region_instance = f.u32("prefetchMemRegionInstance", false, 0);
    }
    std::vector<drm_xe_sync> syncs = readSyncs(env, syncList);
    drm_xe_vm_bind b{};
    b.vm_id = vm;
    b.exec_queue_id = queue;
    b.num_binds = static_cast<uint32_t>(ops.size());
    // One op travels inline; more go through vector_of_binds (xe_vm.c, vm_bind_ioctl_check_args).
    if (ops.size() == 1)
      b.bind = ops[0];
    else if (ops.size() > 1)
      b.vector_of_binds = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ops.data()));
    b.num_syncs = static_cast<uint32_t>(syncs.size());
    b.syncs = syncs.empty() ? 0 : static_cast<uint64_t>(reinterpret_cast<uintptr_t>(syncs.data()));
    check(env, __xe_vm_bind(fd, &b), "ioctl", "DRM_IOCTL_XE_VM_BIND");
    return env.Undefined();
  });
}

IOVH_FN(XeExecQueueCreate) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeExecQueueCreate");
    int fd = a.fd(0);
    drm_xe_exec_queue_create c{};
    c.vm_id = a.u32(1);
    c.width = a.u16(2);
    c.num_placements = a.u16(3);
    c.flags = a.u32(4);
    Napi::TypedArrayOf<uint16_t> inst = a.u16Array(5);
    // The kernel reads width * num_placements instances: never point it past what we hold.
    if (static_cast<size_t>(c.width) * c.num_placements * 4 > inst.ElementLength()) {
      a.rangeError(5, "holds fewer than width * numPlacements engine instances");
    }
    c.instances = inst.ElementLength() ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(inst.Data())) : 0;
    check(info.Env(), __xe_exec_queue_create(fd, &c), "ioctl", "DRM_IOCTL_XE_EXEC_QUEUE_CREATE");
    return Napi::Number::New(info.Env(), c.exec_queue_id);
  });
}

IOVH_FN(XeExecQueueDestroy) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeExecQueueDestroy");
    int fd = a.fd(0);
    uint32_t id = a.u32(1);
    check(info.Env(), __xe_exec_queue_destroy(fd, id), "ioctl", "DRM_IOCTL_XE_EXEC_QUEUE_DESTROY");
    return info.Env().Undefined();
  });
}

IOVH_FN(XeExec) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeExec");
    Napi::Env env = info.Env();
    int fd = a.fd(0);
    drm_xe_exec e{};
    e.exec_queue_id = a.u32(1);
    e.address = a.u64(2);
    e.num_batch_buffer = a.u16(3);
    std::vector<drm_xe_sync> syncs = readSyncs(env, a.array(4));
    e.num_syncs = static_cast<uint32_t>(syncs.size());
    e.syncs = syncs.empty() ? 0 : static_cast<uint64_t>(reinterpret_cast<uintptr_t>(syncs.data()));
    check(env, __xe_exec(fd, &e), "ioctl", "DRM_IOCTL_XE_EXEC");
    return env.Undefined();
  });
}

IOVH_FN(XeWaitUserFence) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "xeWaitUserFence");
    int fd = a.fd(0);
    drm_xe_wait_user_fence w{};
    w.addr = a.u64(1);
    w.op = a.u16(2);
    w.flags = a.u16(3);
    w.value = a.u64(4);
    w.mask = a.u64(5);
    w.timeout = a.i64(6);
    w.exec_queue_id = a.u32(7);
    auto *worker = new UserFenceWorker(info.Env(), fd, w);
    return worker->Start();
  });
}

// ------------------------------------------------------------------ dma-buf, memfd, udmabuf

IOVH_FN(DmaBufSetName) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "dmaBufSetName");
    int fd = a.fd(0);
    std::string name = a.str(1);
    check(info.Env(), __dma_buf_set_name(fd, name.c_str()), "ioctl", "DMA_BUF_SET_NAME_B");
    return info.Env().Undefined();
  });
}

IOVH_FN(DmaBufSync) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "dmaBufSync");
    int fd = a.fd(0);
    uint64_t flags = a.u64(1);
    check(info.Env(), __dma_buf_sync(fd, flags), "ioctl", "DMA_BUF_IOCTL_SYNC");
    return info.Env().Undefined();
  });
}

IOVH_FN(MemfdCreate) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "memfdCreate");
    std::string name = a.str(0);
    uint32_t flags = a.u32(1);
    int fd = __memfd_create(name.c_str(), flags);
    check(info.Env(), fd, "memfd_create");
    return Napi::Number::New(info.Env(), fd);
  });
}

IOVH_FN(AddSeals) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "addSeals");
    int fd = a.fd(0);
    int seals = a.i32(1);
    check(info.Env(), __memfd_add_seals(fd, seals), "fcntl");
    return info.Env().Undefined();
  });
}

IOVH_FN(UdmabufCreate) {
  return guarded(info, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Args a(info, "udmabufCreate");
    int fd = a.fd(0);
    udmabuf_create c{};
    c.memfd = static_cast<uint32_t>(a.fd(1));
    c.flags = a.u32(2);
    c.offset = a.u64(3);
    c.size = a.u64(4);
    int ret = __udmabuf_create(fd, &c);
    check(info.Env(), ret, "ioctl", "UDMABUF_CREATE");
    return Napi::Number::New(info.Env(), ret);
  });
}

// ------------------------------------------------------------------ module

std::once_flag guardOnce;
int guardInstalled = 0;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // One SIGBUS handler per process, even if several environments load the addon.
  std::call_once(guardOnce, [] { guardInstalled = __mem_guard_install(); });
  if (guardInstalled < 0) throw errnoError(env, -guardInstalled, "sigaction", nullptr);
  auto *data = new AddonData();
  data->mappingCtor = Napi::Persistent(Mapping::Define(env));
  env.SetInstanceData<AddonData>(data);

  struct Entry {
    const char *name;
    Napi::Value (*fn)(const Napi::CallbackInfo &);
  };
  const Entry entries[] = {
      {"open", Open},
      {"close", Close},
      {"pread", Pread},
      {"pwrite", Pwrite},
      {"ftruncate", Ftruncate},
      {"mmap", Mmap},
      {"vfioGetApiVersion", VfioGetApiVersion},
      {"vfioCheckExtension", VfioCheckExtension},
      {"vfioSetIommu", VfioSetIommu},
      {"vfioGroupGetStatus", VfioGroupGetStatus},
      {"vfioGroupSetContainer", VfioGroupSetContainer},
      {"vfioGroupUnsetContainer", VfioGroupUnsetContainer},
      {"vfioGroupGetDeviceFd", VfioGroupGetDeviceFd},
      {"vfioDeviceGetInfo", VfioDeviceGetInfo},
      {"vfioDeviceGetRegionInfo", VfioDeviceGetRegionInfo},
      {"vfioDeviceReset", VfioDeviceReset},
      {"vfioDeviceFeature", VfioDeviceFeature},
      {"vfioDeviceFeatureDmaBuf", VfioDeviceFeatureDmaBuf},
      {"vfioDeviceBindIommufd", VfioDeviceBindIommufd},
      {"vfioDeviceAttachIommufdPt", VfioDeviceAttachIommufdPt},
      {"vfioDeviceDetachIommufdPt", VfioDeviceDetachIommufdPt},
      {"iommuIoasAlloc", IommuIoasAlloc},
      {"drmVersion", DrmVersion},
      {"drmGetCap", DrmGetCap},
      {"drmPrimeFdToHandle", DrmPrimeFdToHandle},
      {"drmPrimeHandleToFd", DrmPrimeHandleToFd},
      {"drmGemClose", DrmGemClose},
      {"drmSyncobjCreate", DrmSyncobjCreate},
      {"drmSyncobjDestroy", DrmSyncobjDestroy},
      {"drmSyncobjWait", DrmSyncobjWait},
      {"xeDeviceQuery", XeDeviceQuery},
      {"xeGemCreate", XeGemCreate},
      {"xeGemMmapOffset", XeGemMmapOffset},
      {"xeVmCreate", XeVmCreate},
      {"xeVmDestroy", XeVmDestroy},
      {"xeVmBind", XeVmBind},
      {"xeExecQueueCreate", XeExecQueueCreate},
      {"xeExecQueueDestroy", XeExecQueueDestroy},
      {"xeExec", XeExec},
      {"xeWaitUserFence", XeWaitUserFence},
      {"dmaBufSetName", DmaBufSetName},
      {"dmaBufSync", DmaBufSync},
      {"memfdCreate", MemfdCreate},
      {"addSeals", AddSeals},
      {"udmabufCreate", UdmabufCreate},
      {"patternFill", PatternFill},
      {"patternVerify", PatternVerify},
  };
  for (const Entry &e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(iovh, Init)
