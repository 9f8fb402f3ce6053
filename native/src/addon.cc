// dlite-native: the host side of the hypervisor, exposed to Node.
//   probe(options?)         what accelerators and devices this host offers
//   openTap(name, options?) create/attach a tap device, return its fd
//   closeFd(fd)             close an fd returned by openTap
//   sendFd(socketFd, text, fd)          one message carrying an fd (SCM_RIGHTS) on a connected unix socket
//   requestFd(path, text, timeoutMs)    connect, send, read the answer and the fd it carries
//   bindSocket(protocol, address, port) an IPv4 UDP socket bound, or a TCP one listening, as an fd
#include <napi.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/types.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "probe.h"

namespace {

#if defined(__linux__)
const char* kPlatform = "linux";
#elif defined(__APPLE__)
const char* kPlatform = "darwin";
#else
const char* kPlatform = "unknown";
#endif

#if defined(__x86_64__)
const char* kArch = "x64";
#elif defined(__aarch64__)
const char* kArch = "arm64";
#else
const char* kArch = "unknown";
#endif

bool Exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

double MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

Napi::Value StringOrNull(Napi::Env env, const std::string& s) {
  return s.empty() ? env.Null() : Napi::String::New(env, s);
}

Napi::Value NumberOrNull(Napi::Env env, double v) {
  return v < 0 ? env.Null() : Napi::Number::New(env, v);
}

#ifdef __linux__
Napi::Object KvmToJs(Napi::Env env, const dlite::KvmProbe& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("present", p.present);
  o.Set("usable", p.usable);
  o.Set("reason", p.reason);
  o.Set("device", "/dev/kvm");
  o.Set("accessible", p.accessible);
  o.Set("apiVersion", p.apiVersion < 0 ? env.Null() : Napi::Number::New(env, p.apiVersion));
  o.Set("backend", StringOrNull(env, p.backend));
  o.Set("backendKind", p.backendKind);
  o.Set("cpuVirtFlag", StringOrNull(env, p.cpuVirtFlag));
  Napi::Object caps = Napi::Object::New(env);
  for (const auto& c : p.capabilities) caps.Set(c.first, Napi::Number::New(env, static_cast<double>(c.second)));
  o.Set("capabilities", caps);
  Napi::Array missing = Napi::Array::New(env, p.missingCapabilities.size());
  for (size_t i = 0; i < p.missingCapabilities.size(); i++) missing.Set(i, p.missingCapabilities[i]);
  o.Set("missingCapabilities", missing);
  const dlite::KvmSelfTest& t = p.selfTest;
  if (!t.ran) {
    o.Set("selfTest", env.Null());
  } else {
    Napi::Object s = Napi::Object::New(env);
    s.Set("ok", t.ok);
    s.Set("stage", t.stage);
    s.Set("timedOut", t.timedOut);
    s.Set("error", StringOrNull(env, t.error));
    s.Set("durationMs", Napi::Number::New(env, t.durationMs));
    s.Set("kernelLoopIterations", Napi::Number::New(env, t.kernelLoopIterations));
    s.Set("kernelLoopRate", NumberOrNull(env, t.kernelLoopRate));
    s.Set("userLoopIterations", Napi::Number::New(env, t.userLoopIterations));
    s.Set("userLoopRate", NumberOrNull(env, t.userLoopRate));
    o.Set("selfTest", s);
  }
  return o;
}
#endif

#ifdef __APPLE__
Napi::Object HvfToJs(Napi::Env env, const dlite::HvfProbe& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("present", p.present);
  o.Set("usable", p.usable);
  o.Set("reason", p.reason);
  o.Set("sysctl", p.sysctlValue < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(p.sysctlValue)));
  return o;
}
#endif

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double start = MonotonicMs();
  dlite::ProbeOptions options;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object opts = info[0].As<Napi::Object>();
    Napi::Value st = opts.Get("selfTest");
    if (st.IsBoolean()) options.selfTest = st.As<Napi::Boolean>().Value();
    Napi::Value to = opts.Get("selfTestTimeoutMs");
    if (to.IsNumber()) {
      int ms = to.As<Napi::Number>().Int32Value();
      if (ms < 100 || ms > 10000) {
        Napi::RangeError::New(env, "selfTestTimeoutMs must be between 100 and 10000").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      options.selfTestTimeoutMs = ms;
    }
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("platform", kPlatform);
  result.Set("arch", kArch);
  struct utsname u;
  if (uname(&u) == 0) {
    result.Set("machine", u.machine);
    result.Set("kernelRelease", u.release);
  } else {
    result.Set("machine", env.Null());
    result.Set("kernelRelease", env.Null());
  }

  Napi::Object accel = Napi::Object::New(env);
#ifdef __linux__
  accel.Set("kvm", KvmToJs(env, dlite::ProbeKvm(options)));
#else
  accel.Set("kvm", env.Null());
#endif
#ifdef __APPLE__
  accel.Set("hvf", HvfToJs(env, dlite::ProbeHvf()));
#else
  accel.Set("hvf", env.Null());
#endif
  result.Set("accelerators", accel);

  Napi::Object devices = Napi::Object::New(env);
  devices.Set("kvm", Exists("/dev/kvm"));
  devices.Set("netTun", Exists("/dev/net/tun"));
  devices.Set("vhostNet", Exists("/dev/vhost-net"));
  devices.Set("vhostVsock", Exists("/dev/vhost-vsock"));
  result.Set("devices", devices);
  result.Set("durationMs", Napi::Number::New(env, MonotonicMs() - start));
  return result;
}

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& syscall, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  const char* name = "EUNKNOWN";
  switch (err) {
    case EPERM: name = "EPERM"; break;
    case EACCES: name = "EACCES"; break;
    case EBUSY: name = "EBUSY"; break;
    case ENOENT: name = "ENOENT"; break;
    case ENODEV: name = "ENODEV"; break;
    case ENXIO: name = "ENXIO"; break;
    case EINVAL: name = "EINVAL"; break;
    case EEXIST: name = "EEXIST"; break;
    case EMFILE: name = "EMFILE"; break;
    case ENFILE: name = "ENFILE"; break;
    case ENOTSUP: name = "ENOTSUP"; break;
    case EBADF: name = "EBADF"; break;
    case ECONNREFUSED: name = "ECONNREFUSED"; break;
    case ETIMEDOUT: name = "ETIMEDOUT"; break;
    case EPIPE: name = "EPIPE"; break;
    case ECONNRESET: name = "ECONNRESET"; break;
    case ENAMETOOLONG: name = "ENAMETOOLONG"; break;
    case EMSGSIZE: name = "EMSGSIZE"; break;
    case EADDRINUSE: name = "EADDRINUSE"; break;
    case EADDRNOTAVAIL: name = "EADDRNOTAVAIL"; break;
  }
  e.Set("code", name);
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", syscall);
  return e;
}

Napi::Value OpenTap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "openTap(name): name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  bool badChar = false;
  for (char c : name) badChar = badChar || c == '/' || c == ':' || c <= ' ' || c == 0x7f;
  if (name.empty() || name.size() > 15 || badChar || name == "." || name == "..") {
    Napi::Error e = Napi::TypeError::New(env, "invalid tap device name \"" + name +
                                                  "\": use 1-15 characters without spaces, '/' or ':' (e.g. dlite-tap0)");
    e.Set("code", "ERR_INVALID_ARG_VALUE");
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool vnetHdr = false, persist = false, cloexec = true;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object opts = info[1].As<Napi::Object>();
    if (opts.Get("vnetHdr").IsBoolean()) vnetHdr = opts.Get("vnetHdr").As<Napi::Boolean>().Value();
    if (opts.Get("persist").IsBoolean()) persist = opts.Get("persist").As<Napi::Boolean>().Value();
    if (opts.Get("cloexec").IsBoolean()) cloexec = opts.Get("cloexec").As<Napi::Boolean>().Value();
  }
#ifdef __linux__
  dlite::TapResult r = dlite::OpenTap(name, vnetHdr, persist, cloexec);
  if (r.fd < 0) {
    std::string msg;
    std::string q = "\"" + name + "\"";
    if (r.failedAt == "open") {
      if (r.err == ENOENT || r.err == ENODEV || r.err == ENXIO) {
        msg = "cannot create tap device " + q + ": /dev/net/tun is missing (" + strerror(r.err) +
              "). Load the TUN/TAP driver with `modprobe tun`, or create the node with "
              "`mkdir -p /dev/net && mknod /dev/net/tun c 10 200`; in a container, pass --device /dev/net/tun.";
      } else if (r.err == EACCES || r.err == EPERM) {
        msg = "cannot create tap device " + q + ": permission denied opening /dev/net/tun. "
              "Run dlite as root (sudo) or give it CAP_NET_ADMIN.";
      } else {
        msg = "cannot open /dev/net/tun: " + std::string(strerror(r.err));
      }
      ErrnoError(env, r.err, "open", msg).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (r.err == EPERM || r.err == EACCES) {
      msg = "creating tap device " + q + " needs CAP_NET_ADMIN: run dlite as root (sudo), or create the device "
            "once for your user with `sudo ip tuntap add dev " + name + " mode tap user $USER`.";
    } else if (r.err == EBUSY) {
      msg = "tap device " + q + " is busy: another process (a running VM?) is attached to it. "
            "Stop that process or choose another tap name.";
    } else if (r.err == EINVAL) {
      msg = "cannot use " + q + " as a tap device: an interface of that name exists and is not a tap device "
            "with the same flags. Choose another name or remove it with `ip link delete " + name + "`.";
    } else {
      msg = "cannot create tap device " + q + ": " + r.failedAt + " failed: " + strerror(r.err);
    }
    ErrnoError(env, r.err, "ioctl(" + r.failedAt + ")", msg).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", r.fd);
  o.Set("name", r.name);
  o.Set("vnetHdr", r.vnetHdr);
  o.Set("persist", persist);
  return o;
#else
  (void)vnetHdr;
  (void)persist;
  (void)cloexec;
  ErrnoError(env, ENOTSUP, "open",
             std::string("tap devices are only supported on Linux (this is ") + kPlatform + ")")
      .ThrowAsJavaScriptException();
  return env.Undefined();
#endif
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "closeFd(fd): fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (fd < 0 || close(fd) != 0) {
    int err = fd < 0 ? EBADF : errno;
    ErrnoError(env, err, "close", "closeFd(" + std::to_string(fd) + "): " + strerror(err))
        .ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// The uid/gid (and pid, on Linux) of the process at the other end of a connected unix socket, so the
// daemon's control socket can check who is asking; Node has no API for SO_PEERCRED.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "peerCredentials(fd): fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Object o = Napi::Object::New(env);
#if defined(__linux__)
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    int err = errno;
    ErrnoError(env, err, "getsockopt", std::string("peerCredentials: SO_PEERCRED failed: ") + strerror(err))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  o.Set("pid", Napi::Number::New(env, cred.pid));
  o.Set("uid", Napi::Number::New(env, cred.uid));
  o.Set("gid", Napi::Number::New(env, cred.gid));
#elif defined(__APPLE__)
  uid_t uid;
  gid_t gid;
  if (getpeereid(fd, &uid, &gid) != 0) {
    int err = errno;
    ErrnoError(env, err, "getpeereid", std::string("peerCredentials: getpeereid failed: ") + strerror(err))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  o.Set("pid", env.Null());
  o.Set("uid", Napi::Number::New(env, uid));
  o.Set("gid", Napi::Number::New(env, gid));
#else
  ErrnoError(env, ENOTSUP, "getsockopt", "peerCredentials is not supported on this platform").ThrowAsJavaScriptException();
  return env.Undefined();
#endif
  return o;
}

// A non-blocking flock(2) on an open fd. The daemon's pid lock is one the kernel drops when the process dies,
// so no starter ever has to judge a lock stale and remove it (Node has no flock).
Napi::Value FlockNonBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsString()) {
    Napi::TypeError::New(env, "flock(fd, mode): fd must be a number, mode 'exclusive', 'shared' or 'unlock'")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string mode = info[1].As<Napi::String>().Utf8Value();
  int op;
  if (mode == "exclusive") op = LOCK_EX;
  else if (mode == "shared") op = LOCK_SH;
  else if (mode == "unlock") op = LOCK_UN;
  else {
    Napi::TypeError::New(env, "flock: mode must be 'exclusive', 'shared' or 'unlock' (got " + mode + ")")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int rc;
  do rc = flock(fd, op | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  int err = errno;
  ErrnoError(env, err, "flock", "flock(" + std::to_string(fd) + ", " + mode + "): " + strerror(err))
      .ThrowAsJavaScriptException();
  return env.Undefined();
}

// Waits until fd is ready for `events`, at most until the deadline; false (errno ETIMEDOUT) when it passed.
bool WaitFor(int fd, short events, double deadlineMs) {
  for (;;) {
    double left = deadlineMs - MonotonicMs();
    if (left <= 0) {
      errno = ETIMEDOUT;
      return false;
    }
    struct pollfd p = {fd, events, 0};
    int rc = poll(&p, 1, static_cast<int>(left) + 1);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

// The root helper hands a user's daemon a tap it opened (the user may not open /dev/net/tun): the answer's
// text and the descriptor travel in one sendmsg, so the peer gets both or neither.
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "sendFd(socketFd, text, fd): numbers and a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int sock = info[0].As<Napi::Number>().Int32Value();
  std::string text = info[1].As<Napi::String>().Utf8Value();
  int fd = info[2].As<Napi::Number>().Int32Value();
  if (text.empty()) text = "\n";
  struct iovec iov = {const_cast<char*>(text.data()), text.size()};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  double deadline = MonotonicMs() + 2000;
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, 0);
    if (n == static_cast<ssize_t>(text.size())) return env.Undefined();
    if (n >= 0) {
      ErrnoError(env, EMSGSIZE, "sendmsg", "sendFd: the answer was cut short").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && WaitFor(sock, POLLOUT, deadline)) continue;
    int err = errno;
    ErrnoError(env, err, "sendmsg", std::string("sendFd: ") + strerror(err)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
}

// A whole request to a unix socket that answers with text and at most one descriptor: connect, send, read until
// the peer closes (or a newline ends the answer), all within timeoutMs. The descriptor arrives close-on-exec.
Napi::Value RequestFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "requestFd(path, text, timeoutMs)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string text = info[1].As<Napi::String>().Utf8Value();
  double deadline = MonotonicMs() + info[2].As<Napi::Number>().DoubleValue();
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    ErrnoError(env, ENAMETOOLONG, "connect", "requestFd: socket path too long: " + path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
#ifdef SOCK_CLOEXEC
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
#else
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
#endif
  if (sock < 0) {
    int err = errno;
    ErrnoError(env, err, "socket", std::string("requestFd: ") + strerror(err)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  fcntl(sock, F_SETFD, FD_CLOEXEC);
  int received = -1;
  std::string answer;
  int err = 0;
  const char* failedAt = "connect";
  // non-blocking from the start: a helper whose backlog is full must not hold this thread past the deadline
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
  for (;;) {
    if (connect(sock, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN && MonotonicMs() < deadline) {
      struct timespec pause = {0, 10 * 1000 * 1000};
      nanosleep(&pause, nullptr);
      continue;
    }
    if (errno == EINPROGRESS && WaitFor(sock, POLLOUT, deadline)) {
      int soError = 0;
      socklen_t soLen = sizeof soError;
      getsockopt(sock, SOL_SOCKET, SO_ERROR, &soError, &soLen);
      if (soError == 0) break;
      errno = soError;
    }
    err = errno == EAGAIN ? ETIMEDOUT : errno;
    break;
  }
  if (err == 0) {
    failedAt = "send";
    size_t sent = 0;
    while (err == 0 && sent < text.size()) {
      ssize_t n = send(sock, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += n;
      else if (n < 0 && errno == EINTR) continue;
      else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!WaitFor(sock, POLLOUT, deadline)) err = errno;
      } else err = errno ? errno : EPIPE;
    }
    failedAt = "recvmsg";
    while (err == 0 && answer.find('\n') == std::string::npos) {
      char buf[4096];
      struct iovec iov = {buf, sizeof buf};
      union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
      } control;
      struct msghdr msg;
      memset(&msg, 0, sizeof msg);
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.buf;
      msg.msg_controllen = sizeof control.buf;
#ifdef MSG_CMSG_CLOEXEC
      ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
#else
      ssize_t n = recvmsg(sock, &msg, 0);
#endif
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!WaitFor(sock, POLLIN, deadline)) err = errno;
        continue;
      }
      if (n < 0) {
        err = errno;
        break;
      }
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
          int got;
          memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          // one descriptor is expected; any more are closed rather than leaked
          if (received < 0) {
            received = got;
            fcntl(received, F_SETFD, FD_CLOEXEC);
          } else {
            close(got);
          }
        }
      }
      if (n == 0) break;
      answer.append(buf, n);
      if (answer.size() > 65536) err = EMSGSIZE;
    }
  }
  close(sock);
  if (err != 0) {
    if (received >= 0) close(received);
    ErrnoError(env, err, failedAt, std::string("requestFd(") + path + "): " + failedAt + ": " + strerror(err))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("text", Napi::String::New(env, answer));
  o.Set("fd", received >= 0 ? Napi::Value(Napi::Number::New(env, received)) : env.Null());
  return o;
}

// A socket on a privileged port made by root for a user's process (the root helper binds the DNS port on the
// VM's bridge address and hands the fd over). Close-on-exec; TCP is listening.
Napi::Value BindSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "bindSocket(protocol, address, port)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string protocol = info[0].As<Napi::String>().Utf8Value();
  std::string address = info[1].As<Napi::String>().Utf8Value();
  int port = info[2].As<Napi::Number>().Int32Value();
  bool tcp = protocol == "tcp";
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  if ((!tcp && protocol != "udp") || port < 1 || port > 65535 || inet_pton(AF_INET, address.c_str(), &sin.sin_addr) != 1) {
    Napi::TypeError::New(env, "bindSocket: protocol udp|tcp, an IPv4 address, a port 1-65535").ThrowAsJavaScriptException();
    return env.Undefined();
  }
#ifdef SOCK_CLOEXEC
  int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
#else
  int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
#endif
  const char* failedAt = "socket";
  if (fd >= 0) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    int one = 1;
    if (tcp) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    failedAt = "bind";
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&sin), sizeof sin) == 0) {
      failedAt = "listen";
      if (!tcp || listen(fd, 128) == 0) return Napi::Number::New(env, fd);
    }
  }
  int err = errno;
  if (fd >= 0) close(fd);
  ErrnoError(env, err, failedAt, "bindSocket(" + protocol + " " + address + ":" + std::to_string(port) + "): " + failedAt + ": " + strerror(err))
      .ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("openTap", Napi::Function::New(env, OpenTap, "openTap"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("sendFd", Napi::Function::New(env, SendFd, "sendFd"));
  exports.Set("bindSocket", Napi::Function::New(env, BindSocket, "bindSocket"));
  exports.Set("requestFd", Napi::Function::New(env, RequestFd, "requestFd"));
  exports.Set("flock", Napi::Function::New(env, FlockNonBlocking, "flock"));
  exports.Set("platform", kPlatform);
  return exports;
}

} // namespace

NODE_API_MODULE(dlite_native, Init)
