// The JS binding of the C core (core/iovh.h): the only C++ file.
//
// It checks and converts arguments (a wrong type is a TypeError, a value out
// of range a RangeError, never a crash), lays out the structs the C core
// passes to the kernel, calls one C function, and turns a negative return
// into an Error carrying errno (negative, as Node does), code, syscall and
// request (the ioctl's name). src/core/addon.ts types this surface;
// src/backend/native.ts adds the device path and makes it a SystemError.
//
// Every synchronous system-call entry exists twice: `addon.<name>` throws the
// Node-shaped error above on failure, `addon.errno.<name>` returns -errno
// instead (a negative number; no success value is one) and remembers which
// call failed (`addon.errnoSite()`). Building and throwing an Error costs tens
// of microseconds (a stack capture, property transitions, the throw), some
// hundred times the failing ioctl itself; a caller that expects the failure
// (an invalid-argument sweep) needs only the errno.
//
// Entries whose arguments are all numbers (`scalar` in kEntries) have a
// third and fourth form that take no arguments at all: src/core/addon.ts
// stores the numbers in a Float64Array shared with the addon (one per
// environment, handed out once by `addon.scalar.takeArgs()`) and calls the
// argument-less callback,
// which reads them from there. That skips napi_get_cb_info and a
// napi_get_value_double per argument: 8-10 ns of a 130 ns fcntl here, most
// of the difference between the bench's two Node-API floors (bench/README.md,
// "Where the boundary's time goes"). Node passes hrtime's result the same way
// (lib/internal/process/per_thread.js reads it from a shared BigUint64Array).
// The checks are the same code in both forms; a non-number argument never
// takes the scalar form (the JS side calls the plain entry, which says what
// was wrong).
//
// The calling convention is plain Node-API (napi_callback), not
// node-addon-api's Napi::Function: an entry reads its arguments with one
// napi_get_cb_info and one napi_get_value_* each, returns nullptr for
// undefined, and reports a failed system call with napi_throw, never a C++
// exception (whose unwinding cost more than the rest of a failing call put
// together). C++ exceptions remain for argument errors (TypeError,
// RangeError: caller bugs), where cost does not matter.
//
// Calls that may block (VFIO_DEVICE_RESET, DRM_IOCTL_SYNCOBJ_WAIT,
// DRM_IOCTL_XE_WAIT_USER_FENCE) run on libuv's thread pool in an AsyncWorker
// and settle a Promise on the JS thread; they have no errno twin.
#include <napi.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <array>
#include <atomic>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <utility>
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

void setProp(napi_env env, napi_value obj, const char *key, napi_value v) { napi_set_named_property(env, obj, key, v); }

napi_value latin1(napi_env env, const char *s) {
  napi_value v = nullptr;
  napi_create_string_latin1(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

// A failed system call as Node shapes it: `err` positive; properties in one
// fixed order so that V8 reuses one hidden class for all of them.
napi_value errnoErrorValue(napi_env env, int err, const char *syscall, const char *request) {
  std::string code = errnoName(err);
  std::string message = code + ": " + std::strerror(err) + ", " + syscall;
  if (request) message += std::string(" ") + request;
  napi_value codeValue = nullptr, msgValue = nullptr, error = nullptr, errnoValue = nullptr;
  napi_create_string_latin1(env, code.c_str(), code.size(), &codeValue);
  napi_create_string_utf8(env, message.c_str(), message.size(), &msgValue);
  napi_create_error(env, nullptr, msgValue, &error);
  if (!error) return nullptr;
  napi_create_int32(env, -err, &errnoValue);
  setProp(env, error, "errno", errnoValue);
  setProp(env, error, "code", codeValue);
  setProp(env, error, "syscall", latin1(env, syscall));
  if (request) setProp(env, error, "request", latin1(env, request));
  return error;
}

Napi::Error errnoError(Napi::Env env, int err, const char *syscall, const char *request) {
  return Napi::Error(env, errnoErrorValue(env, err, syscall, request));
}

// For node-addon-api code (Mapping methods, module init): failure as a C++ exception.
void check(Napi::Env env, long ret, const char *syscall, const char *request = nullptr) {
  if (ret < 0) throw errnoError(env, static_cast<int>(-ret), syscall, request);
}

// ------------------------------------------------------------------ entries

// The system call an entry makes on the caller's behalf: the one whose
// failure the entry reports (and its errno twin returns).
struct Site {
  const char *syscall;
  const char *request;  // the ioctl's name, or nullptr
};

// Which failing system call the errno twin returned last on this thread:
// Node-API calls of one environment run on its one JS thread.
thread_local const Site *lastErrnoSite = nullptr;

enum class OnFail { Throw, Return };

class Call;
using Body = napi_value (*)(Call &);

struct Entry {
  const char *name;
  Body body;
  size_t arity;
  Site site;
  bool twin;    // has an errno-returning twin (synchronous system-call entries)
  bool scalar;  // every argument is a number (fd, i32, u32, u16, size): has the argument-less forms
};

// Largest byte count accepted for a buffer we allocate on the caller's behalf.
constexpr size_t kMaxTransfer = size_t(1) << 30;
constexpr size_t kMaxArgs = 8;

// One call from JS: its arguments, readers that check them, and the two ways
// of reporting the entry's failed system call.
class Call {
 public:
  // Asks napi_get_cb_info for the entry's arity only: missing arguments read as undefined.
  Call(napi_env env, napi_callback_info info, OnFail mode, const Entry *entry) : env_(env), mode_(mode), entry_(entry) {
    size_t argc = entry->arity;
    napi_get_cb_info(env, info, &argc, argv_, nullptr, nullptr);
  }

  // The scalar form: the arguments are the numbers in `slots` (the environment's argument slots).
  Call(napi_env env, const double *slots, OnFail mode, const Entry *entry)
      : env_(env), mode_(mode), entry_(entry), slots_(slots) {}

  Napi::Env env() const { return Napi::Env(env_); }
  napi_env raw() const { return env_; }
  Napi::Value value(size_t i) const { return Napi::Value(env_, arg(i)); }

  [[noreturn]] void typeError(size_t i, const std::string &what) const {
    throw Napi::TypeError::New(env(), std::string(entry_->name) + ": argument " + std::to_string(i + 1) + " must be " + what);
  }
  [[noreturn]] void rangeError(size_t i, const std::string &what) const {
    throw Napi::RangeError::New(env(), std::string(entry_->name) + ": argument " + std::to_string(i + 1) + " " + what);
  }

  // An integral number in [lo, hi]. napi_get_value_double refuses non-numbers
  // itself (no typeof first); integrality is checked by a round trip through T
  // (std::trunc is a libm call on baseline x86-64). Anything else takes the
  // cold path, which says what was wrong.
  template <typename T>
  T integer(size_t i, double lo, double hi, const char *what) const {
    double d;
    if (__builtin_expect(number(i, &d) && d >= lo && d <= hi, 1)) {
      T v = static_cast<T>(d);
      if (__builtin_expect(static_cast<double>(v) == d, 1)) return v;
    }
    badInteger(i, lo, hi, what);
  }

  [[noreturn]] __attribute__((noinline, cold)) void badInteger(size_t i, double lo, double hi, const char *what) const {
    double d;
    if (!number(i, &d)) typeError(i, std::string(what) + " (a number)");
    if (!std::isfinite(d) || d != std::trunc(d)) typeError(i, std::string(what) + " (an integer)");
    if (d < lo || d > hi) rangeError(i, "is out of range for " + std::string(what) + ": " + std::to_string(d));
    typeError(i, std::string(what) + " (an integer)");
  }

  int fd(size_t i) const { return integer<int32_t>(i, -2147483648.0, 2147483647.0, "a file descriptor"); }
  int32_t i32(size_t i) const { return integer<int32_t>(i, -2147483648.0, 2147483647.0, "an int32"); }
  uint32_t u32(size_t i) const { return integer<uint32_t>(i, 0, 4294967295.0, "a u32"); }
  uint16_t u16(size_t i) const { return integer<uint16_t>(i, 0, 65535.0, "a u16"); }
  size_t size(size_t i) const { return integer<uint64_t>(i, 0, 9007199254740991.0, "a byte count"); }

  uint64_t u64(size_t i) const {
    uint64_t x;
    bool lossless = false;
    if (napi_get_value_bigint_uint64(env_, arg(i), &x, &lossless) != napi_ok) typeError(i, "a bigint (u64)");
    if (!lossless) rangeError(i, "does not fit in a u64");
    return x;
  }

  int64_t i64(size_t i) const {
    int64_t x;
    bool lossless = false;
    if (napi_get_value_bigint_int64(env_, arg(i), &x, &lossless) != napi_ok) typeError(i, "a bigint (s64)");
    if (!lossless) rangeError(i, "does not fit in an s64");
    return x;
  }

  std::string str(size_t i) const {
    Napi::Value v = value(i);
    if (!v.IsString()) typeError(i, "a string");
    return v.As<Napi::String>().Utf8Value();
  }

  // A typed array of one element type: its data and element count, without a Napi wrapper.
  template <typename T>
  T *typed(size_t i, napi_typedarray_type want, const char *what, size_t *length) const {
    bool is = false;
    napi_value v = arg(i);
    napi_is_typedarray(env_, v, &is);
    if (!is) typeError(i, what);
    napi_typedarray_type type;
    void *data = nullptr;
    napi_get_typedarray_info(env_, v, &type, length, &data, nullptr, nullptr);
    if (type != want) typeError(i, what);
    return static_cast<T *>(data);
  }

  unsigned char *bytes(size_t i, size_t *length) const {
    return typed<unsigned char>(i, napi_uint8_array, "a Uint8Array", length);
  }
  uint64_t *bigU64Array(size_t i, size_t *length) const {
    return typed<uint64_t>(i, napi_biguint64_array, "a BigUint64Array", length);
  }
  uint32_t *u32Array(size_t i, size_t *length) const {
    return typed<uint32_t>(i, napi_uint32_array, "a Uint32Array", length);
  }
  uint16_t *u16Array(size_t i, size_t *length) const {
    return typed<uint16_t>(i, napi_uint16_array, "a Uint16Array", length);
  }

  Napi::Array array(size_t i) const {
    Napi::Value v = value(i);
    if (!v.IsArray()) typeError(i, "an array");
    return v.As<Napi::Array>();
  }

  // ---- results

  // The entry's own system call failed (ret = -errno): throw the Node-shaped
  // error, or, in the errno twin, return ret and remember the site.
  napi_value fail(long ret) {
    int err = static_cast<int>(-ret);
    if (mode_ == OnFail::Return) {
      lastErrnoSite = &entry_->site;
      return number(static_cast<double>(ret));
    }
    return throwErrno(err, entry_->site.syscall, entry_->site.request);
  }

  // A helper system call (not the request the caller made) failed: always thrown.
  napi_value failAt(long ret, const char *syscall, const char *request = nullptr) {
    return throwErrno(static_cast<int>(-ret), syscall, request);
  }

  napi_value number(double v) const {
    napi_value out = nullptr;
    napi_create_double(env_, v, &out);
    return out;
  }
  napi_value i32v(int32_t v) const {
    napi_value out = nullptr;
    napi_create_int32(env_, v, &out);
    return out;
  }
  napi_value u32v(uint32_t v) const {
    napi_value out = nullptr;
    napi_create_uint32(env_, v, &out);
    return out;
  }
  napi_value u64v(uint64_t v) const {
    napi_value out = nullptr;
    napi_create_bigint_uint64(env_, v, &out);
    return out;
  }
  napi_value i64v(int64_t v) const {
    napi_value out = nullptr;
    napi_create_bigint_int64(env_, v, &out);
    return out;
  }

 private:
  // Argument i as a number: from the slots in the scalar form, else from its JS value (false: not a number).
  bool number(size_t i, double *d) const {
    if (slots_) {
      *d = slots_[i];
      return true;
    }
    return napi_get_value_double(env_, argv_[i], d) == napi_ok;
  }

  // Argument i as a JS value; an entry marked scalar in kEntries has none (a bug in the table, said loudly).
  napi_value arg(size_t i) const {
    if (__builtin_expect(slots_ != nullptr, 0)) {
      throw Napi::Error::New(env(), std::string("iovh: ") + entry_->name + " is marked scalar in kEntries but reads argument " +
                                        std::to_string(i + 1) + " as a non-number");
    }
    return argv_[i];
  }

  napi_value throwErrno(int err, const char *syscall, const char *request) {
    napi_value e = errnoErrorValue(env_, err, syscall, request);
    if (e) napi_throw(env_, e);
    return nullptr;
  }

  napi_env env_;
  OnFail mode_;
  const Entry *entry_ = nullptr;
  const double *slots_ = nullptr;
  napi_value argv_[kMaxArgs];
};

#define IOVH_BODY(name) napi_value name(Call &c)

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

IOVH_BODY(PatternFill) {
  size_t length;
  unsigned char *buf = c.bytes(0, &length);
  uint64_t seed = c.u64(1), base = c.u64(2);
  checkSpan(c.env(), length, base);
  pattern_fill(buf, length, seed, base);
  return nullptr;
}

IOVH_BODY(PatternVerify) {
  size_t length;
  unsigned char *buf = c.bytes(0, &length);
  uint64_t seed = c.u64(1), base = c.u64(2);
  checkSpan(c.env(), length, base);
  pattern_mismatch m{};
  int found = pattern_verify(buf, length, seed, base, &m);
  return mismatchValue(c.env(), found, m);
}

// patternSelect(isa, ntThreshold): force a kernel ('' for the best the CPU
// runs) and the streaming threshold (0 for the default); process-wide, for
// tests and benchmarks.
IOVH_BODY(PatternSelect) {
  std::string isa = c.str(0);
  size_t threshold = c.size(1);
  int ret = pattern_select(isa.empty() ? nullptr : isa.c_str());
  if (ret == -EINVAL) c.rangeError(0, "names no pattern kernel: '" + isa + "'");
  if (ret == -ENOTSUP) c.rangeError(0, "names a kernel this CPU cannot run: '" + isa + "'");
  pattern_set_nt_threshold(threshold);
  return nullptr;
}

// patternKernels(): {isa, available, ntThreshold}: what fill and verify run.
IOVH_BODY(PatternKernels) {
  Napi::Env env = c.env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", Napi::String::New(env, pattern_isa()));
  Napi::Array list = Napi::Array::New(env);
  for (uint32_t i = 0; pattern_isa_available(i); i++) list.Set(i, Napi::String::New(env, pattern_isa_available(i)));
  o.Set("available", list);
  o.Set("ntThreshold", Napi::Number::New(env, static_cast<double>(pattern_nt_threshold())));
  return o;
}

// ------------------------------------------------------------------ mappings

// Argument checks for the Mapping methods (node-addon-api callbacks).
class Args {
 public:
  Args(const Napi::CallbackInfo &info, const char *fn) : info_(info), fn_(fn) {}

  [[noreturn]] void typeError(size_t i, const std::string &what) const {
    throw Napi::TypeError::New(info_.Env(), std::string(fn_) + ": argument " + std::to_string(i + 1) + " must be " + what);
  }

  size_t size(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsNumber()) typeError(i, "a byte count (a number)");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::trunc(d)) typeError(i, "a byte count (an integer)");
    if (d < 0 || d > 9007199254740991.0) {
      throw Napi::RangeError::New(info_.Env(), std::string(fn_) + ": argument " + std::to_string(i + 1) +
                                                   " is out of range for a byte count: " + std::to_string(d));
    }
    return static_cast<size_t>(d);
  }

  uint64_t u64(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsBigInt()) typeError(i, "a bigint (u64)");
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) {
      throw Napi::RangeError::New(info_.Env(),
                                  std::string(fn_) + ": argument " + std::to_string(i + 1) + " does not fit in a u64");
    }
    return x;
  }

  Napi::Uint8Array bytes(size_t i) const {
    Napi::Value v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) typeError(i, "a Uint8Array");
    return v.As<Napi::Uint8Array>();
  }

 private:
  const Napi::CallbackInfo &info_;
  const char *fn_;
};

struct AddonData {
  Napi::FunctionReference mappingCtor;
  // The scalar forms' argument slots, owned here for the environment's
  // lifetime. JS writes them through the Float64Array that
  // `addon.scalar.takeArgs()` hands out once (src/core/addon.ts takes it when
  // it loads the addon, so no other caller of the raw exports can reach it).
  // The array's ArrayBuffer is external with no finalizer: detaching it
  // (transfer, postMessage) cannot free the slots under a scalar call.
  double args[kMaxArgs] = {};
  bool argsTaken = false;
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

IOVH_BODY(Mmap) {
  int fd = c.fd(0);
  uint64_t offset = c.u64(1);
  size_t length = c.size(2);
  int prot = c.i32(3);
  void *addr = nullptr;
  int ret = __mem_map(fd, offset, length, prot, &addr);
  if (ret < 0) return c.fail(ret);
  MapInit init{addr, length};
  AddonData *data = c.env().GetInstanceData<AddonData>();
  try {
    return data->mappingCtor.New({Napi::External<MapInit>::New(c.env(), &init)});
  } catch (...) {
    __mem_unmap(addr, length);
    throw;
  }
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
      deferred_.Reject(errnoErrorValue(env, static_cast<int>(-ret_), syscall_, request_));
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

IOVH_BODY(Open) {
  std::string path = c.str(0);
  int flags = c.i32(1);
  int fd = __fd_open(path.c_str(), flags);
  if (fd < 0) return c.fail(fd);
  return c.i32v(fd);
}

IOVH_BODY(Close) {
  int ret = __fd_close(c.fd(0));
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(Pread) {
  int fd = c.fd(0);
  uint64_t offset = c.u64(1);
  size_t length = c.size(2);
  if (length > kMaxTransfer) c.rangeError(2, "exceeds the 1 GiB read limit");
  Napi::Env env = c.env();
  Napi::Uint8Array out = Napi::Uint8Array::New(env, length);
  ssize_t n = __fd_pread(fd, out.Data(), length, offset);
  if (n < 0) return c.fail(n);
  if (static_cast<size_t>(n) == length) return out;
  // A short read (end of file, end of a region): return just what was read.
  Napi::Uint8Array shorter = Napi::Uint8Array::New(env, static_cast<size_t>(n));
  if (n) std::memcpy(shorter.Data(), out.Data(), static_cast<size_t>(n));
  return shorter;
}

IOVH_BODY(Pwrite) {
  int fd = c.fd(0);
  uint64_t offset = c.u64(1);
  size_t length;
  unsigned char *data = c.bytes(2, &length);
  ssize_t n = __fd_pwrite(fd, data, length, offset);
  if (n < 0) return c.fail(n);
  return c.number(static_cast<double>(n));
}

IOVH_BODY(Ftruncate) {
  int fd = c.fd(0);
  uint64_t size = c.u64(1);
  int ret = __fd_ftruncate(fd, size);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

// ------------------------------------------------------------------ VFIO

IOVH_BODY(VfioGetApiVersion) {
  int ret = __vfio_get_api_version(c.fd(0));
  if (ret < 0) return c.fail(ret);
  return c.i32v(ret);
}

IOVH_BODY(VfioCheckExtension) {
  int fd = c.fd(0);
  int ext = c.i32(1);
  int ret = __vfio_check_extension(fd, ext);
  if (ret < 0) return c.fail(ret);
  return c.i32v(ret);
}

IOVH_BODY(VfioSetIommu) {
  int fd = c.fd(0);
  int type = c.i32(1);
  int ret = __vfio_set_iommu(fd, type);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(VfioGroupGetStatus) {
  vfio_group_status st{};
  st.argsz = sizeof(st);
  int ret = __vfio_group_get_status(c.fd(0), &st);
  if (ret < 0) return c.fail(ret);
  Napi::Object o = Napi::Object::New(c.env());
  o.Set("argsz", st.argsz);
  o.Set("flags", st.flags);
  return o;
}

IOVH_BODY(VfioGroupSetContainer) {
  int group = c.fd(0), container = c.fd(1);
  int ret = __vfio_group_set_container(group, container);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(VfioGroupUnsetContainer) {
  int ret = __vfio_group_unset_container(c.fd(0));
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(VfioGroupGetDeviceFd) {
  int group = c.fd(0);
  std::string bdf = c.str(1);
  int fd = __vfio_group_get_device_fd(group, bdf.c_str());
  if (fd < 0) return c.fail(fd);
  return c.i32v(fd);
}

IOVH_BODY(VfioDeviceGetInfo) {
  vfio_device_info di{};
  di.argsz = sizeof(di);
  int ret = __vfio_device_get_info(c.fd(0), &di);
  if (ret < 0) return c.fail(ret);
  Napi::Object o = Napi::Object::New(c.env());
  o.Set("argsz", di.argsz);
  o.Set("flags", di.flags);
  o.Set("numRegions", di.num_regions);
  o.Set("numIrqs", di.num_irqs);
  o.Set("capOffset", di.cap_offset);
  return o;
}

IOVH_BODY(VfioDeviceGetRegionInfo) {
  int fd = c.fd(0);
  uint32_t index = c.u32(1);
  uint32_t argsz = c.u32(2);
  if (argsz > (1u << 20)) c.rangeError(2, "is larger than any region info (1 MiB)");
  // At least the fixed struct, so a too-small argsz reaches the kernel without us overrunning.
  size_t bytes = argsz > sizeof(vfio_region_info) ? argsz : sizeof(vfio_region_info);
  std::vector<uint64_t> buf((bytes + 7) / 8, 0);
  auto *ri = reinterpret_cast<vfio_region_info *>(buf.data());
  ri->argsz = argsz;
  ri->index = index;
  int ret = __vfio_device_get_region_info(fd, ri);
  if (ret < 0) return c.fail(ret);
  Napi::Env env = c.env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("argsz", ri->argsz);
  o.Set("flags", ri->flags);
  o.Set("index", ri->index);
  o.Set("capOffset", ri->cap_offset);
  o.Set("size", Napi::BigInt::New(env, static_cast<uint64_t>(ri->size)));
  o.Set("offset", Napi::BigInt::New(env, static_cast<uint64_t>(ri->offset)));
  size_t filled = ri->argsz < argsz ? ri->argsz : argsz;
  size_t ncaps = filled > sizeof(vfio_region_info) ? filled - sizeof(vfio_region_info) : 0;
  Napi::Uint8Array caps = Napi::Uint8Array::New(env, ncaps);
  if (ncaps) std::memcpy(caps.Data(), reinterpret_cast<unsigned char *>(ri) + sizeof(vfio_region_info), ncaps);
  o.Set("caps", caps);
  return o;
}

IOVH_BODY(VfioDeviceReset) {
  auto *w = new ResetWorker(c.env(), c.fd(0));
  return w->Start();
}

// The kernel reads at most a feature's own struct beyond the header (the
// driver copies a fixed size bounded by argsz); zeros past the payload keep an
// argsz larger than the payload deterministic.
constexpr size_t kFeatureSlack = 4096;

IOVH_BODY(VfioDeviceFeature) {
  int fd = c.fd(0);
  uint32_t flags = c.u32(1);
  size_t length;
  unsigned char *payload = c.bytes(2, &length);
  uint32_t argsz = c.u32(3);
  if (length > kMaxTransfer) c.rangeError(2, "exceeds 1 GiB");
  size_t bytes = sizeof(vfio_device_feature) + length + kFeatureSlack;
  std::vector<uint64_t> buf((bytes + 7) / 8, 0);
  auto *f = reinterpret_cast<vfio_device_feature *>(buf.data());
  f->argsz = argsz;
  f->flags = flags;
  if (length) std::memcpy(f->data, payload, length);
  int ret = __vfio_device_feature(fd, f);
  if (ret < 0) return c.fail(ret);
  return c.i32v(ret);
}

IOVH_BODY(VfioDeviceFeatureDmaBuf) {
  int fd = c.fd(0);
  uint32_t featureFlags = c.u32(1);
  uint32_t argsz = c.u32(2);
  uint32_t region = c.u32(3);
  uint32_t openFlags = c.u32(4);
  uint32_t flags = c.u32(5);
  uint32_t nrRanges = c.u32(6);
  size_t count;
  const uint64_t *ranges = c.bigU64Array(7, &count);
  if (count % 2 != 0) c.rangeError(7, "must hold [offset, length] pairs (an even length)");
  size_t n = count / 2;
  size_t bytes = vfio_dma_buf_request_size(n);
  if (nrRanges <= n) {
    std::vector<uint64_t> buf((bytes + 7) / 8, 0);
    vfio_dma_buf_request_fill(buf.data(), argsz, featureFlags, region, openFlags, flags, nrRanges, ranges, n);
    int ret = __vfio_device_feature(fd, reinterpret_cast<vfio_device_feature *>(buf.data()));
    if (ret < 0) return c.fail(ret);
    return c.i32v(ret);
  }
  // nr_ranges claims more ranges than were given: end the buffer at a
  // PROT_NONE page so the kernel's copy of the rest faults (EFAULT) rather
  // than reading whatever follows in our heap.
  long page = sysconf(_SC_PAGESIZE);
  size_t span = (bytes + page - 1) / page * page;
  void *area = nullptr;
  int ret = __mem_map_anon(span + page, &area);
  if (ret < 0) return c.failAt(ret, "mmap");
  unsigned char *guard = static_cast<unsigned char *>(area) + span;
  ret = __mem_protect(guard, page, PROT_NONE);
  if (ret < 0) {
    __mem_unmap(area, span + page);
    return c.failAt(ret, "mprotect");
  }
  void *start = guard - bytes;
  vfio_dma_buf_request_fill(start, argsz, featureFlags, region, openFlags, flags, nrRanges, ranges, n);
  ret = __vfio_device_feature(fd, static_cast<vfio_device_feature *>(start));
  __mem_unmap(area, span + page);
  if (ret < 0) return c.fail(ret);
  return c.i32v(ret);
}

// VFIO_DEVICE_BIND_IOMMUFD, for both entries. With `token`, argument 3 is the 16-byte uuid_t that token_uuid_ptr
// points at for VFIO_DEVICE_BIND_FLAG_TOKEN (a VF whose PF is on vfio-pci, drivers/vfio/device_cdev.c
// vfio_df_check_token); an empty buffer, like the plain entry, passes a null pointer (EFAULT with the flag). The plain
// entry stays a separate name only because its arguments are all numbers, which gives it the scalar forms.
napi_value bindIommufd(Call &c, bool token) {
  int fd = c.fd(0);
  vfio_device_bind_iommufd bind{};
  bind.argsz = sizeof(bind);
  bind.iommufd = c.fd(1);
  bind.flags = c.u32(2);
  if (token) {
    size_t length;
    unsigned char *uuid = c.bytes(3, &length);
    if (length != 0 && length != 16) c.rangeError(3, "a VF token is a 16-byte uuid_t (or empty for a null pointer)");
    bind.token_uuid_ptr = length ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(uuid)) : 0;
  }
  int ret = __vfio_device_bind_iommufd(fd, &bind);
  if (ret < 0) return c.fail(ret);
  return c.u32v(bind.out_devid);
}

IOVH_BODY(VfioDeviceBindIommufd) { return bindIommufd(c, false); }

IOVH_BODY(VfioDeviceBindIommufdToken) { return bindIommufd(c, true); }

IOVH_BODY(VfioDeviceAttachIommufdPt) {
  int fd = c.fd(0);
  vfio_device_attach_iommufd_pt attach{};
  attach.argsz = sizeof(attach);
  attach.pt_id = c.u32(1);
  int ret = __vfio_device_attach_iommufd_pt(fd, &attach);
  if (ret < 0) return c.fail(ret);
  return c.u32v(attach.pt_id);
}

IOVH_BODY(VfioDeviceDetachIommufdPt) {
  vfio_device_detach_iommufd_pt detach{};
  detach.argsz = sizeof(detach);
  int ret = __vfio_device_detach_iommufd_pt(c.fd(0), &detach);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(IommuIoasAlloc) {
  int fd = c.fd(0);
  iommu_ioas_alloc alloc{};
  alloc.size = sizeof(alloc);
  alloc.flags = c.u32(1);
  int ret = __iommu_ioas_alloc(fd, &alloc);
  if (ret < 0) return c.fail(ret);
  return c.u32v(alloc.out_ioas_id);
}

IOVH_BODY(IommuDestroy) {
  int fd = c.fd(0);
  iommu_destroy d{};
  d.size = sizeof(d);
  d.id = c.u32(1);
  int ret = __iommu_destroy(fd, &d);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

// Room for `capacity` ranges. Success: {numIovas, alignment, ranges} with the
// ranges as [start0, last0, ...]. EMSGSIZE (more ranges than room) is an
// answer, not a failure: {numIovas, alignment, ranges: null}, so the caller
// can ask again with the count the kernel wrote back.
IOVH_BODY(IommuIoasIovaRanges) {
  int fd = c.fd(0);
  uint32_t ioas = c.u32(1);
  uint32_t capacity = c.u32(2);
  if (capacity > 65536) c.rangeError(2, "is more IOVA ranges than any IOAS reports (65536)");
  std::vector<iommu_iova_range> ranges(capacity ? capacity : 1);
  iommu_ioas_iova_ranges r{};
  r.size = sizeof(r);
  r.ioas_id = ioas;
  r.num_iovas = capacity;
  r.allowed_iovas = capacity ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ranges.data())) : 0;
  int ret = __iommu_ioas_iova_ranges(fd, &r);
  if (ret < 0 && ret != -EMSGSIZE) return c.fail(ret);
  Napi::Env env = c.env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("numIovas", Napi::Number::New(env, r.num_iovas));
  o.Set("alignment", Napi::BigInt::New(env, static_cast<uint64_t>(r.out_iova_alignment)));
  if (ret == -EMSGSIZE) {
    o.Set("ranges", env.Null());
    return o;
  }
  uint32_t n = r.num_iovas < capacity ? r.num_iovas : capacity;
  Napi::BigUint64Array out = Napi::BigUint64Array::New(env, static_cast<size_t>(n) * 2);
  for (uint32_t i = 0; i < n; i++) {
    out[2 * i] = ranges[i].start;
    out[2 * i + 1] = ranges[i].last;
  }
  o.Set("ranges", out);
  return o;
}

IOVH_BODY(IommuIoasMapFile) {
  int fd = c.fd(0);
  iommu_ioas_map_file m{};
  m.size = sizeof(m);
  m.ioas_id = c.u32(1);
  m.flags = c.u32(2);
  m.fd = c.i32(3);
  m.start = c.u64(4);
  m.length = c.u64(5);
  m.iova = c.u64(6);
  int ret = __iommu_ioas_map_file(fd, &m);
  if (ret < 0) return c.fail(ret);
  return c.u64v(m.iova);
}

IOVH_BODY(IommuIoasUnmap) {
  int fd = c.fd(0);
  iommu_ioas_unmap u{};
  u.size = sizeof(u);
  u.ioas_id = c.u32(1);
  u.iova = c.u64(2);
  u.length = c.u64(3);
  int ret = __iommu_ioas_unmap(fd, &u);
  if (ret < 0) return c.fail(ret);
  return c.u64v(u.length);
}

// ------------------------------------------------------------------ DRM

IOVH_BODY(DrmVersion) {
  int fd = c.fd(0);
  size_t size = c.size(1);
  if (size > (1u << 20)) c.rangeError(1, "is larger than any DRM version string (1 MiB)");
  std::vector<char> name(size + 1), date(size + 1), desc(size + 1);
  drm_version v{};
  v.name_len = size;
  v.name = name.data();
  v.date_len = size;
  v.date = date.data();
  v.desc_len = size;
  v.desc = desc.data();
  int ret = __drm_version(fd, &v);
  if (ret < 0) return c.fail(ret);
  Napi::Env env = c.env();
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
}

IOVH_BODY(DrmGetCap) {
  int fd = c.fd(0);
  drm_get_cap cap{};
  cap.capability = c.u64(1);
  int ret = __drm_get_cap(fd, &cap);
  if (ret < 0) return c.fail(ret);
  return c.u64v(cap.value);
}

IOVH_BODY(DrmPrimeFdToHandle) {
  int fd = c.fd(0);
  drm_prime_handle p{};
  p.fd = c.fd(1);
  int ret = __drm_prime_fd_to_handle(fd, &p);
  if (ret < 0) return c.fail(ret);
  return c.u32v(p.handle);
}

IOVH_BODY(DrmPrimeHandleToFd) {
  int fd = c.fd(0);
  drm_prime_handle p{};
  p.handle = c.u32(1);
  p.flags = c.u32(2);
  p.fd = -1;
  int ret = __drm_prime_handle_to_fd(fd, &p);
  if (ret < 0) return c.fail(ret);
  return c.i32v(p.fd);
}

IOVH_BODY(DrmGemClose) {
  int fd = c.fd(0);
  uint32_t handle = c.u32(1);
  int ret = __drm_gem_close(fd, handle);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(DrmSyncobjCreate) {
  int fd = c.fd(0);
  drm_syncobj_create s{};
  s.flags = c.u32(1);
  int ret = __drm_syncobj_create(fd, &s);
  if (ret < 0) return c.fail(ret);
  return c.u32v(s.handle);
}

IOVH_BODY(DrmSyncobjDestroy) {
  int fd = c.fd(0);
  uint32_t handle = c.u32(1);
  int ret = __drm_syncobj_destroy(fd, handle);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(DrmSyncobjWait) {
  int fd = c.fd(0);
  size_t count;
  const uint32_t *handles = c.u32Array(1, &count);
  int64_t timeout = c.i64(2);
  uint32_t flags = c.u32(3);
  std::vector<uint32_t> hs(handles, handles + count);
  auto *w = new SyncobjWaitWorker(c.env(), fd, std::move(hs), timeout, flags);
  return w->Start();
}

// ------------------------------------------------------------------ Xe

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

IOVH_BODY(XeDeviceQuery) {
  int fd = c.fd(0);
  uint32_t query = c.u32(1);
  uint32_t size = c.u32(2);
  if (size > kMaxTransfer) c.rangeError(2, "exceeds 1 GiB");
  Napi::Env env = c.env();
  Napi::Uint8Array data = Napi::Uint8Array::New(env, size);
  drm_xe_device_query q{};
  q.query = query;
  q.size = size;
  q.data = size ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data.Data())) : 0;
  int ret = __xe_device_query(fd, &q);
  if (ret < 0) return c.fail(ret);
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", q.size);
  o.Set("data", data);
  return o;
}

IOVH_BODY(XeGemCreate) {
  int fd = c.fd(0);
  drm_xe_gem_create g{};
  g.size = c.u64(1);
  g.placement = c.u32(2);
  g.flags = c.u32(3);
  g.vm_id = c.u32(4);
  g.cpu_caching = c.u16(5);
  int ret = __xe_gem_create(fd, &g);
  if (ret < 0) return c.fail(ret);
  return c.u32v(g.handle);
}

IOVH_BODY(XeGemMmapOffset) {
  int fd = c.fd(0);
  drm_xe_gem_mmap_offset m{};
  m.handle = c.u32(1);
  m.flags = c.u32(2);
  int ret = __xe_gem_mmap_offset(fd, &m);
  if (ret < 0) return c.fail(ret);
  return c.u64v(m.offset);
}

IOVH_BODY(XeVmCreate) {
  int fd = c.fd(0);
  drm_xe_vm_create v{};
  v.flags = c.u32(1);
  int ret = __xe_vm_create(fd, &v);
  if (ret < 0) return c.fail(ret);
  return c.u32v(v.vm_id);
}

IOVH_BODY(XeVmDestroy) {
  int fd = c.fd(0);
  uint32_t vm = c.u32(1);
  int ret = __xe_vm_destroy(fd, vm);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

std::vector<drm_xe_sync> readSyncs(Napi::Env env, Napi::Array list) {
  std::vector<drm_xe_sync> out(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Fields f(env, list.Get(i), "syncs[" + std::to_string(i) + "]");
    drm_xe_sync &s = out[i];
    std::memset(&s, 0, sizeof(s));
    s.type = f.u32("type");
    s.flags = f.u32("flags");
    // handle and addr share one union slot (docs/kernel.md §7).
    if (f.has("addr"))
      s.addr = f.u64("addr");
    else
      s.handle = f.u32("handle", false, 0);
    s.timeline_value = f.u64("timelineValue", false, 0);
  }
  return out;
}

IOVH_BODY(XeVmBind) {
  Napi::Env env = c.env();
  int fd = c.fd(0);
  uint32_t vm = c.u32(1);
  uint32_t queue = c.u32(2);
  Napi::Array binds = c.array(3);
  Napi::Array syncList = c.array(4);
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
  int ret = __xe_vm_bind(fd, &b);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(XeExecQueueCreate) {
  int fd = c.fd(0);
  drm_xe_exec_queue_create q{};
  q.vm_id = c.u32(1);
  q.width = c.u16(2);
  q.num_placements = c.u16(3);
  q.flags = c.u32(4);
  size_t count;
  uint16_t *inst = c.u16Array(5, &count);
  // The kernel reads width * num_placements instances: never point it past what we hold.
  if (static_cast<size_t>(q.width) * q.num_placements * 4 > count) {
    c.rangeError(5, "holds fewer than width * numPlacements engine instances");
  }
  q.instances = count ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(inst)) : 0;
  int ret = __xe_exec_queue_create(fd, &q);
  if (ret < 0) return c.fail(ret);
  return c.u32v(q.exec_queue_id);
}

IOVH_BODY(XeExecQueueDestroy) {
  int fd = c.fd(0);
  uint32_t id = c.u32(1);
  int ret = __xe_exec_queue_destroy(fd, id);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(XeExec) {
  Napi::Env env = c.env();
  int fd = c.fd(0);
  drm_xe_exec e{};
  e.exec_queue_id = c.u32(1);
  e.address = c.u64(2);
  e.num_batch_buffer = c.u16(3);
  std::vector<drm_xe_sync> syncs = readSyncs(env, c.array(4));
  e.num_syncs = static_cast<uint32_t>(syncs.size());
  e.syncs = syncs.empty() ? 0 : static_cast<uint64_t>(reinterpret_cast<uintptr_t>(syncs.data()));
  int ret = __xe_exec(fd, &e);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(XeWaitUserFence) {
  int fd = c.fd(0);
  drm_xe_wait_user_fence w{};
  w.addr = c.u64(1);
  w.op = c.u16(2);
  w.flags = c.u16(3);
  w.value = c.u64(4);
  w.mask = c.u64(5);
  w.timeout = c.i64(6);
  w.exec_queue_id = c.u32(7);
  auto *worker = new UserFenceWorker(c.env(), fd, w);
  return worker->Start();
}

// ------------------------------------------------------------------ dma-buf, memfd, udmabuf

IOVH_BODY(DmaBufSetName) {
  int fd = c.fd(0);
  std::string name = c.str(1);
  int ret = __dma_buf_set_name(fd, name.c_str());
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(DmaBufSync) {
  int fd = c.fd(0);
  uint64_t flags = c.u64(1);
  int ret = __dma_buf_sync(fd, flags);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(MemfdCreate) {
  std::string name = c.str(0);
  uint32_t flags = c.u32(1);
  int fd = __memfd_create(name.c_str(), flags);
  if (fd < 0) return c.fail(fd);
  return c.i32v(fd);
}

IOVH_BODY(AddSeals) {
  int fd = c.fd(0);
  int seals = c.i32(1);
  int ret = __memfd_add_seals(fd, seals);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(UdmabufCreate) {
  int fd = c.fd(0);
  udmabuf_create u{};
  u.memfd = static_cast<uint32_t>(c.fd(1));
  u.flags = c.u32(2);
  u.offset = c.u64(3);
  u.size = c.u64(4);
  int ret = __udmabuf_create(fd, &u);
  if (ret < 0) return c.fail(ret);
  return c.i32v(ret);
}

// ------------------------------------------------------------------ stand-in importer (/dev/iovh-ic)

IOVH_BODY(IovhIcVersion) {
  iovh_ic_version v{};
  int ret = __iovh_ic_version(c.fd(0), &v);
  if (ret < 0) return c.fail(ret);
  Napi::Object o = Napi::Object::New(c.env());
  o.Set("abi", v.abi);
  o.Set("api", v.api);
  o.Set("keep", v.keep);
  o.Set("xlate", v.xlate);
  return o;
}

IOVH_BODY(IovhIcImport) {
  int fd = c.fd(0);
  iovh_ic_import imp{};
  imp.fd = c.fd(1);
  imp.flags = c.u32(2);
  imp.segment = c.u32(3);
  imp.bus = c.u32(4);
  imp.devfn = c.u32(5);
  imp.bar = c.u32(6);
  int ret = __iovh_ic_import(fd, &imp);
  if (ret < 0) return c.fail(ret);
  Napi::Object o = Napi::Object::New(c.env());
  o.Set("handle", imp.handle);
  o.Set("negotiated", imp.negotiated);
  o.Set("size", Napi::BigInt::New(c.env(), imp.size));
  return o;
}

IOVH_BODY(IovhIcMap) {
  int fd = c.fd(0);
  iovh_ic_map map{};
  map.handle = c.u32(1);
  int ret = __iovh_ic_map(fd, &map);
  if (ret < 0) return c.fail(ret);
  Napi::Object o = Napi::Object::New(c.env());
  o.Set("path", map.path);
  o.Set("icError", map.ic_error);
  o.Set("nrRanges", map.nr_ranges);
  return o;
}

// Ranges come back as [start, end, ...] in a BigUint64Array of 2 * min(held, room).
// The room goes to the module as given: it copies at most IOVH_IC_INFO_MAX
// (kernel/iovh-ic-importer/main.c iovh_ic_info), and src/uapi/iovh-ic.ts asks
// for no more than that. The buffer for it is ours: the 1 GiB limit of every
// buffer allocated for the caller (kMaxTransfer), not the module's.
IOVH_BODY(IovhIcInfo) {
  int fd = c.fd(0);
  uint32_t handle = c.u32(1);
  uint32_t room = c.u32(2);
  if (size_t(room) * sizeof(iovh_ic_range) > kMaxTransfer) c.rangeError(2, "needs more than the 1 GiB buffer limit");
  std::vector<iovh_ic_range> ranges(room ? room : 1);
  iovh_ic_info in{};
  in.handle = handle;
  in.nr_ranges = room;
  in.ranges_ptr = reinterpret_cast<uintptr_t>(ranges.data());
  int ret = __iovh_ic_info(fd, &in);
  if (ret < 0) return c.fail(ret);
  Napi::Env env = c.env();
  uint32_t n = in.nr_ranges < room ? in.nr_ranges : room;
  Napi::TypedArrayOf<uint64_t> out = Napi::TypedArrayOf<uint64_t>::New(env, 2 * size_t(n), napi_biguint64_array);
  for (uint32_t i = 0; i < n; i++) {
    out[2 * i] = ranges[i].start;
    out[2 * i + 1] = ranges[i].end;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", in.state);
  o.Set("path", in.path);
  o.Set("nrRanges", in.nr_ranges);
  o.Set("ranges", out);
  o.Set("size", Napi::BigInt::New(env, in.size));
  o.Set("maps", in.maps);
  o.Set("invalidations", in.invalidations);
  o.Set("leaked", in.leaked);
  return o;
}

IOVH_BODY(IovhIcRead) {
  int fd = c.fd(0);
  iovh_ic_rw rw{};
  rw.handle = c.u32(1);
  rw.op = IOVH_IC_RW_READ;
  rw.offset = c.u64(2);
  // The length goes to the module, which refuses 0 and more than IOVH_IC_RW_MAX
  // with EINVAL before touching the buffer (main.c iovh_ic_rw). The buffer is
  // ours, and V8 ends the process when it cannot allocate one: the limit every
  // buffer allocated for the caller has (kMaxTransfer), not the module's.
  size_t length = c.size(3);
  if (length > kMaxTransfer) c.rangeError(3, "exceeds the 1 GiB read limit");
  Napi::Uint8Array out = Napi::Uint8Array::New(c.env(), length);
  rw.len = length;
  rw.buf_ptr = reinterpret_cast<uintptr_t>(out.Data());
  int ret = __iovh_ic_rw(fd, &rw);
  if (ret < 0) return c.fail(ret);
  return out;
}

IOVH_BODY(IovhIcWrite) {
  int fd = c.fd(0);
  iovh_ic_rw rw{};
  rw.handle = c.u32(1);
  rw.op = IOVH_IC_RW_WRITE;
  rw.offset = c.u64(2);
  size_t length;
  unsigned char *data = c.bytes(3, &length);
  rw.len = length;
  rw.buf_ptr = reinterpret_cast<uintptr_t>(data);
  int ret = __iovh_ic_rw(fd, &rw);
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

IOVH_BODY(IovhIcRelease) {
  int fd = c.fd(0);
  int ret = __iovh_ic_release(fd, c.u32(1));
  if (ret < 0) return c.fail(ret);
  return nullptr;
}

// ------------------------------------------------------------------ module

// Every entry point. To add one: write its IOVH_BODY (arguments through `c`,
// one C core call, `if (ret < 0) return c.fail(ret);`, the result or nullptr
// for undefined) and a row here: name, body, arity (how many arguments it
// reads), the system call and ioctl name its failure reports, and whether it
// gets an errno twin (every synchronous system-call entry does; async and
// pure computations do not), and whether every argument is a number read by
// c.fd/i32/u32/u16/size (scalar: it then also gets the argument-less forms;
// a scalar entry that reads anything else throws an Error naming itself,
// and test/core/scalar.test.ts calls every one). src/core/addon.ts types the
// forms and puts the scalar ones behind the plain names.
#define IOCTL(req) Site{"ioctl", req}
#define SYS(name) Site{name, nullptr}
constexpr Site kNoSite{nullptr, nullptr};

constexpr Entry kEntries[] = {
    {"open", Open, 2, SYS("open"), true, false},
    {"close", Close, 1, SYS("close"), true, true},
    {"pread", Pread, 3, SYS("pread"), true, false},
    {"pwrite", Pwrite, 3, SYS("pwrite"), true, false},
    {"ftruncate", Ftruncate, 2, SYS("ftruncate"), true, false},
    {"mmap", Mmap, 4, SYS("mmap"), true, false},
    {"vfioGetApiVersion", VfioGetApiVersion, 1, IOCTL("VFIO_GET_API_VERSION"), true, true},
    {"vfioCheckExtension", VfioCheckExtension, 2, IOCTL("VFIO_CHECK_EXTENSION"), true, true},
    {"vfioSetIommu", VfioSetIommu, 2, IOCTL("VFIO_SET_IOMMU"), true, true},
    {"vfioGroupGetStatus", VfioGroupGetStatus, 1, IOCTL("VFIO_GROUP_GET_STATUS"), true, true},
    {"vfioGroupSetContainer", VfioGroupSetContainer, 2, IOCTL("VFIO_GROUP_SET_CONTAINER"), true, true},
    {"vfioGroupUnsetContainer", VfioGroupUnsetContainer, 1, IOCTL("VFIO_GROUP_UNSET_CONTAINER"), true, true},
    {"vfioGroupGetDeviceFd", VfioGroupGetDeviceFd, 2, IOCTL("VFIO_GROUP_GET_DEVICE_FD"), true, false},
    {"vfioDeviceGetInfo", VfioDeviceGetInfo, 1, IOCTL("VFIO_DEVICE_GET_INFO"), true, true},
    {"vfioDeviceGetRegionInfo", VfioDeviceGetRegionInfo, 3, IOCTL("VFIO_DEVICE_GET_REGION_INFO"), true, true},
    {"vfioDeviceReset", VfioDeviceReset, 1, IOCTL("VFIO_DEVICE_RESET"), false, false},
    {"vfioDeviceFeature", VfioDeviceFeature, 4, IOCTL("VFIO_DEVICE_FEATURE"), true, false},
    {"vfioDeviceFeatureDmaBuf", VfioDeviceFeatureDmaBuf, 8, IOCTL("VFIO_DEVICE_FEATURE"), true, false},
    {"vfioDeviceBindIommufd", VfioDeviceBindIommufd, 3, IOCTL("VFIO_DEVICE_BIND_IOMMUFD"), true, true},
    {"vfioDeviceBindIommufdToken", VfioDeviceBindIommufdToken, 4, IOCTL("VFIO_DEVICE_BIND_IOMMUFD"), true, false},
    {"vfioDeviceAttachIommufdPt", VfioDeviceAttachIommufdPt, 2, IOCTL("VFIO_DEVICE_ATTACH_IOMMUFD_PT"), true, true},
    {"vfioDeviceDetachIommufdPt", VfioDeviceDetachIommufdPt, 1, IOCTL("VFIO_DEVICE_DETACH_IOMMUFD_PT"), true, true},
    {"iommuIoasAlloc", IommuIoasAlloc, 2, IOCTL("IOMMU_IOAS_ALLOC"), true, true},
    {"iommuDestroy", IommuDestroy, 2, IOCTL("IOMMU_DESTROY"), true, true},
    {"iommuIoasIovaRanges", IommuIoasIovaRanges, 3, IOCTL("IOMMU_IOAS_IOVA_RANGES"), true, true},
    {"iommuIoasMapFile", IommuIoasMapFile, 7, IOCTL("IOMMU_IOAS_MAP_FILE"), true, false},
    {"iommuIoasUnmap", IommuIoasUnmap, 4, IOCTL("IOMMU_IOAS_UNMAP"), true, false},
    {"drmVersion", DrmVersion, 2, IOCTL("DRM_IOCTL_VERSION"), true, true},
    {"drmGetCap", DrmGetCap, 2, IOCTL("DRM_IOCTL_GET_CAP"), true, false},
    {"drmPrimeFdToHandle", DrmPrimeFdToHandle, 2, IOCTL("DRM_IOCTL_PRIME_FD_TO_HANDLE"), true, true},
    {"drmPrimeHandleToFd", DrmPrimeHandleToFd, 3, IOCTL("DRM_IOCTL_PRIME_HANDLE_TO_FD"), true, true},
    {"drmGemClose", DrmGemClose, 2, IOCTL("DRM_IOCTL_GEM_CLOSE"), true, true},
    {"drmSyncobjCreate", DrmSyncobjCreate, 2, IOCTL("DRM_IOCTL_SYNCOBJ_CREATE"), true, true},
    {"drmSyncobjDestroy", DrmSyncobjDestroy, 2, IOCTL("DRM_IOCTL_SYNCOBJ_DESTROY"), true, true},
    {"drmSyncobjWait", DrmSyncobjWait, 4, IOCTL("DRM_IOCTL_SYNCOBJ_WAIT"), false, false},
    {"xeDeviceQuery", XeDeviceQuery, 3, IOCTL("DRM_IOCTL_XE_DEVICE_QUERY"), true, true},
    {"xeGemCreate", XeGemCreate, 6, IOCTL("DRM_IOCTL_XE_GEM_CREATE"), true, false},
    {"xeGemMmapOffset", XeGemMmapOffset, 3, IOCTL("DRM_IOCTL_XE_GEM_MMAP_OFFSET"), true, true},
    {"xeVmCreate", XeVmCreate, 2, IOCTL("DRM_IOCTL_XE_VM_CREATE"), true, true},
    {"xeVmDestroy", XeVmDestroy, 2, IOCTL("DRM_IOCTL_XE_VM_DESTROY"), true, true},
    {"xeVmBind", XeVmBind, 5, IOCTL("DRM_IOCTL_XE_VM_BIND"), true, false},
    {"xeExecQueueCreate", XeExecQueueCreate, 6, IOCTL("DRM_IOCTL_XE_EXEC_QUEUE_CREATE"), true, false},
    {"xeExecQueueDestroy", XeExecQueueDestroy, 2, IOCTL("DRM_IOCTL_XE_EXEC_QUEUE_DESTROY"), true, true},
    {"xeExec", XeExec, 5, IOCTL("DRM_IOCTL_XE_EXEC"), true, false},
    {"xeWaitUserFence", XeWaitUserFence, 8, IOCTL("DRM_IOCTL_XE_WAIT_USER_FENCE"), false, false},
    {"dmaBufSetName", DmaBufSetName, 2, IOCTL("DMA_BUF_SET_NAME_B"), true, false},
    {"dmaBufSync", DmaBufSync, 2, IOCTL("DMA_BUF_IOCTL_SYNC"), true, false},
    {"memfdCreate", MemfdCreate, 2, SYS("memfd_create"), true, false},
    {"addSeals", AddSeals, 2, SYS("fcntl"), true, true},
    {"udmabufCreate", UdmabufCreate, 5, IOCTL("UDMABUF_CREATE"), true, false},
    {"iovhIcVersion", IovhIcVersion, 1, IOCTL("IOVH_IC_VERSION"), true, true},
    {"iovhIcImport", IovhIcImport, 7, IOCTL("IOVH_IC_IMPORT"), true, true},
    {"iovhIcMap", IovhIcMap, 2, IOCTL("IOVH_IC_MAP"), true, true},
    {"iovhIcInfo", IovhIcInfo, 3, IOCTL("IOVH_IC_INFO"), true, true},
    {"iovhIcRead", IovhIcRead, 4, IOCTL("IOVH_IC_RW"), true, false},
    {"iovhIcWrite", IovhIcWrite, 4, IOCTL("IOVH_IC_RW"), true, false},
    {"iovhIcRelease", IovhIcRelease, 2, IOCTL("IOVH_IC_RELEASE"), true, true},
    {"patternFill", PatternFill, 3, kNoSite, false, false},
    {"patternVerify", PatternVerify, 3, kNoSite, false, false},
    {"patternSelect", PatternSelect, 2, kNoSite, false, false},
    {"patternKernels", PatternKernels, 0, kNoSite, false, false},
};

// The napi_callback of entry I: one instantiation per entry and failure mode,
// so the body is a direct call and no callback data is looked up. C++
// exceptions (argument errors, allocation failures) become JS exceptions here.
// Runs an entry's body; C++ exceptions (argument errors, allocation
// failures) become JS exceptions here. Inlined, so that the body is a direct
// call (and the small ones are inlined too).
inline __attribute__((always_inline)) napi_value run(napi_env env, Call &c, Body body) {
  try {
    return body(c);
  } catch (const Napi::Error &e) {
    napi_throw(env, e.Value());
  } catch (const std::bad_alloc &) {
    napi_throw_range_error(env, nullptr, "iovh: out of memory building the request");
  } catch (const std::exception &e) {
    napi_throw_error(env, nullptr, (std::string("iovh: ") + e.what()).c_str());
  }
  return nullptr;
}

template <OnFail M, size_t I>
napi_value invoke(napi_env env, napi_callback_info info) {
  Call c(env, info, M, &kEntries[I]);
  return run(env, c, kEntries[I].body);
}

// The argument slots of the first environment that loaded the addon (the
// main thread's, in practice), so that its scalar calls find them without a
// napi_get_instance_data call (a call into Node and its checks: 14 of the
// binding's ~100 instructions per call, with callgrind). Another environment
// (a Worker) compares unequal and asks Node. The cleanup hook clears it
// before that environment is freed, so an environment later allocated at
// the same address never takes another's slots; only the environment's own
// thread writes firstArgs and reads it after a match.
std::atomic<napi_env> firstEnv{nullptr};
double *firstArgs = nullptr;

const double *argsOf(napi_env env) {
  if (__builtin_expect(env == firstEnv.load(std::memory_order_relaxed), 1)) return firstArgs;
  void *data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<const AddonData *>(data)->args;
}

// The argument-less form of scalar entry I: its arguments are in the environment's slots.
template <OnFail M, size_t I>
napi_value invokeScalar(napi_env env, napi_callback_info) {
  Call c(env, argsOf(env), M, &kEntries[I]);
  return run(env, c, kEntries[I].body);
}

constexpr size_t kEntryCount = sizeof(kEntries) / sizeof(kEntries[0]);

constexpr bool aritiesFit() {
  for (const Entry &e : kEntries)
    if (e.arity > kMaxArgs) return false;
  return true;
}
static_assert(aritiesFit(), "an entry reads more arguments than Call holds (kMaxArgs)");

constexpr bool scalarsHaveTwins() {
  for (const Entry &e : kEntries)
    if (e.scalar && !e.twin) return false;
  return true;
}
static_assert(scalarsHaveTwins(), "a scalar entry needs an errno twin (its argument-less forms come in both)");

template <OnFail M, size_t... I>
constexpr std::array<napi_callback, sizeof...(I)> callbacks(std::index_sequence<I...>) {
  return {&invoke<M, I>...};
}
// Entry I's argument-less form, or nullptr: only the entries marked scalar
// instantiate invokeScalar (the others' would be dead code, each with its
// body inlined).
template <OnFail M, size_t I>
constexpr napi_callback scalarCallback() {
  if constexpr (kEntries[I].scalar)
    return &invokeScalar<M, I>;
  else
    return nullptr;
}
template <OnFail M, size_t... I>
constexpr std::array<napi_callback, sizeof...(I)> scalarCallbacks(std::index_sequence<I...>) {
  return {scalarCallback<M, I>()...};
}

constexpr auto kThrowing = callbacks<OnFail::Throw>(std::make_index_sequence<kEntryCount>{});
constexpr auto kReturning = callbacks<OnFail::Return>(std::make_index_sequence<kEntryCount>{});
constexpr auto kScalarThrowing = scalarCallbacks<OnFail::Throw>(std::make_index_sequence<kEntryCount>{});
constexpr auto kScalarReturning = scalarCallbacks<OnFail::Return>(std::make_index_sequence<kEntryCount>{});

// addon.errnoSite(): "<syscall>[ <request>]" of the last failure an errno twin returned on this thread, or null.
napi_value ErrnoSite(napi_env env, napi_callback_info) {
  const Site *s = lastErrnoSite;
  if (!s) {
    napi_value v = nullptr;
    napi_get_null(env, &v);
    return v;
  }
  std::string text = s->request ? std::string(s->syscall) + " " + s->request : std::string(s->syscall);
  napi_value v = nullptr;
  napi_create_string_latin1(env, text.c_str(), text.size(), &v);
  return v;
}

void define(Napi::Env env, napi_value target, const char *name, napi_callback cb) {
  napi_value fn = nullptr;
  napi_status st = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  if (st != napi_ok || napi_set_named_property(env, target, name, fn) != napi_ok) {
    throw Napi::Error::New(env, std::string("iovh: cannot define ") + name);
  }
}

// addon.scalar.takeArgs(): the Float64Array over this environment's argument
// slots, the first time; an Error after (the slots have one writer).
napi_value TakeArgs(napi_env env, napi_callback_info) {
  void *raw = nullptr;
  napi_get_instance_data(env, &raw);
  auto *data = static_cast<AddonData *>(raw);
  if (data->argsTaken) {
    napi_throw_error(env, nullptr, "iovh: the scalar forms' argument slots were handed out already");
    return nullptr;
  }
  napi_value buffer = nullptr, array = nullptr;
  if (napi_create_external_arraybuffer(env, data->args, sizeof(data->args), nullptr, nullptr, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, kMaxArgs, buffer, 0, &array) != napi_ok)
    return nullptr;  // the pending exception says why
  data->argsTaken = true;
  return array;
}

std::once_flag guardOnce;
int guardInstalled = 0;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // One SIGBUS handler per process, even if several environments load the addon.
  std::call_once(guardOnce, [] { guardInstalled = __mem_guard_install(); });
  if (guardInstalled < 0) throw errnoError(env, -guardInstalled, "sigaction", nullptr);
  auto *data = new AddonData();
  data->mappingCtor = Napi::Persistent(Mapping::Define(env));
  env.SetInstanceData<AddonData>(data);

  // addon.scalar: {takeArgs(), arity: {name: n}, throwing: {name: fn}, errno: {name: fn}}.
  napi_env none = nullptr;
  if (firstEnv.load() == nullptr && firstEnv.compare_exchange_strong(none, static_cast<napi_env>(env))) {
    firstArgs = data->args;
    napi_add_env_cleanup_hook(
        env, [](void *) { firstEnv.store(nullptr); }, nullptr);
  }
  Napi::Object scalar = Napi::Object::New(env);
  Napi::Object arity = Napi::Object::New(env), scalarThrowing = Napi::Object::New(env), scalarErrno = Napi::Object::New(env);

  Napi::Object twins = Napi::Object::New(env);
  for (size_t i = 0; i < kEntryCount; i++) {
    define(env, exports, kEntries[i].name, kThrowing[i]);
    if (kEntries[i].twin) define(env, twins, kEntries[i].name, kReturning[i]);
    if (kEntries[i].scalar) {
      arity.Set(kEntries[i].name, Napi::Number::New(env, static_cast<double>(kEntries[i].arity)));
      define(env, scalarThrowing, kEntries[i].name, kScalarThrowing[i]);
      define(env, scalarErrno, kEntries[i].name, kScalarReturning[i]);
    }
  }
  exports.Set("errno", twins);
  define(env, scalar, "takeArgs", TakeArgs);
  scalar.Set("arity", arity);
  scalar.Set("throwing", scalarThrowing);
  scalar.Set("errno", scalarErrno);
  exports.Set("scalar", scalar);
  define(env, exports, "errnoSite", ErrnoSite);
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(iovh, Init)
