// Linux: what /dev/kvm offers, and whether it can run a stock guest kernel.
//
// "Present" and "answers ioctls" are not enough: a paravirtual KVM backend
// (e.g. kvm_pvm, which serves /dev/kvm inside some cloud sandboxes) accepts
// every ioctl QEMU issues, yet emulates a non-PVM guest's supervisor code
// instruction by instruction, so a stock kernel never gets anywhere. We find
// that out from the system itself:
//   1. which vendor module backs KVM (/sys/module/kvm_intel, kvm_amd, ...)
//      and whether the CPU advertises vmx/svm at all;
//   2. a self-test: a throwaway VM whose vCPU walks a stock kernel's early
//      boot path (real mode -> protected mode -> paging/long mode -> kernel
//      half) and then times the same loop in kernel mode and in user mode.
//      It runs in a forked child with a hard deadline, so it can never hang
//      the caller.
#ifdef __linux__

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "probe.h"
#if defined(__x86_64__)
#include "selftest_guest.h"
#endif

namespace dlite {
namespace {

struct CapInfo {
  const char* name;
  int id;
  bool requiredByQemu;
};

// Capabilities QEMU (7.2+) refuses to start without, then the ones it uses
// for a fast virtio machine when they are there.
const CapInfo kCaps[] = {
    {"USER_MEMORY", KVM_CAP_USER_MEMORY, true},
    {"DESTROY_MEMORY_REGION_WORKS", KVM_CAP_DESTROY_MEMORY_REGION_WORKS, true},
    {"JOIN_MEMORY_REGIONS_WORKS", KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, true},
#if defined(__x86_64__) || defined(__i386__)
    {"SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR, true},
    {"EXT_CPUID", KVM_CAP_EXT_CPUID, true},
    {"MP_STATE", KVM_CAP_MP_STATE, true},
    {"PIT2", KVM_CAP_PIT2, false},
    {"TSC_DEADLINE_TIMER", KVM_CAP_TSC_DEADLINE_TIMER, false},
    {"ADJUST_CLOCK", KVM_CAP_ADJUST_CLOCK, false},
    {"VCPU_EVENTS", KVM_CAP_VCPU_EVENTS, false},
    {"XSAVE", KVM_CAP_XSAVE, false},
    {"XCRS", KVM_CAP_XCRS, false},
    {"DEBUGREGS", KVM_CAP_DEBUGREGS, false},
    {"SPLIT_IRQCHIP", KVM_CAP_SPLIT_IRQCHIP, false},
    {"X86_SMM", KVM_CAP_X86_SMM, false},
    {"SET_IDENTITY_MAP_ADDR", KVM_CAP_SET_IDENTITY_MAP_ADDR, false},
    {"NESTED_STATE", KVM_CAP_NESTED_STATE, false},
#endif
    {"IRQCHIP", KVM_CAP_IRQCHIP, false},
    {"IOEVENTFD", KVM_CAP_IOEVENTFD, false},
    {"IRQFD", KVM_CAP_IRQFD, false},
    {"IRQ_ROUTING", KVM_CAP_IRQ_ROUTING, false},
    {"SIGNAL_MSI", KVM_CAP_SIGNAL_MSI, false},
    {"SYNC_MMU", KVM_CAP_SYNC_MMU, false},
    {"COALESCED_MMIO", KVM_CAP_COALESCED_MMIO, false},
    {"READONLY_MEM", KVM_CAP_READONLY_MEM, false},
    {"IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT, false},
    {"NR_VCPUS", KVM_CAP_NR_VCPUS, false},
    {"MAX_VCPUS", KVM_CAP_MAX_VCPUS, false},
    {"NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS, false},
};

bool PathExists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

double Now(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Millions(double rate) {
  if (rate < 0) return "?";
  if (rate >= 1e8) return Fixed(rate / 1e6, 0) + "M";
  return Fixed(rate / 1e6, 2) + "M";
}

// Which vendor module provides /dev/kvm. Hardware backends first: if both
// kinds are loaded, the self-test says which one answered.
void DetectBackend(KvmProbe& p) {
  if (PathExists("/sys/module/kvm_intel")) {
    p.backend = "kvm_intel";
    p.backendKind = "hardware";
  } else if (PathExists("/sys/module/kvm_amd")) {
    p.backend = "kvm_amd";
    p.backendKind = "hardware";
  } else if (DIR* d = opendir("/sys/module")) {
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind("kvm_", 0) == 0) {
        p.backend = n;
        p.backendKind = "paravirtual";
        break;
      }
    }
    closedir(d);
  }
  if (p.backend.empty()) {
#if defined(__aarch64__)
    // arm64 KVM is built into the kernel as "kvm" and always uses the
    // virtualization extensions of the CPU.
    if (PathExists("/sys/module/kvm")) {
      p.backend = "kvm";
      p.backendKind = "hardware";
    }
#endif
  }
  if (p.backendKind.empty()) p.backendKind = "unknown";

  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) {
      if (w == "vmx" || w == "svm") {
        p.cpuVirtFlag = w;
        break;
      }
    }
    break; // the first CPU is enough
  }
}

#if defined(__x86_64__)

// ---- self-test (runs in a forked child: only syscalls from here on) ----

enum Stage {
  kNone = 0,
  kRealMode = 1,
  kProtectedMode = 2,
  kPaging = 3,
  kLongMode = 4,
  kKernelLoop = 5,
  kKernelLoopDone = 6,
  kUserLoop = 7,
  kUserLoopDone = 8,
};

const char* StageName(int s) {
  switch (s) {
    case kNone: return "create-vm";
    case kRealMode: return "real-mode";
    case kProtectedMode: return "protected-mode";
    case kPaging: return "paging";
    case kLongMode: return "long-mode";
    case kKernelLoop: return "kernel-loop";
    case kKernelLoopDone: return "kernel-loop-done";
    case kUserLoop: return "user-loop";
    case kUserLoopDone: return "done";
  }
  return "unknown";
}

struct ChildReport {
  int stage;
  int err;               // errno of the failing call, 0 when none
  char what[96];         // what failed
  int exitReason;        // last unexpected KVM exit reason, -1 when none
  int kernelTimedOut;
  int userTimedOut;
  double kernelIterations, kernelCpu;
  double userIterations, userCpu;
  int haveRegs;          // the registers below were read at the failure
  unsigned long long rip, cr0, cr4, efer;
};

const unsigned kGuestMemSize = 0x200000;  // 2 MiB: the one large page the guest maps
const int kStageDeadlineUs = 100 * 1000;  // stages 1-4 (a few hundred instructions)
const int kLoopDeadlineUs = 60 * 1000;    // each timed loop (native: ~3 ms)

struct kvm_run* volatile g_run = nullptr;

void OnAlarm(int) {
  if (g_run) g_run->immediate_exit = 1;
}

void Arm(int usec) {
  struct itimerval t;
  memset(&t, 0, sizeof t);
  t.it_value.tv_sec = usec / 1000000;
  t.it_value.tv_usec = usec % 1000000;
  setitimer(ITIMER_REAL, &t, nullptr);
}

// struct kvm_cpuid2 ends in a flexible array that newer kernel headers
// declare with __DECLARE_FLEX_ARRAY; compiled as C++ that struct is 12 bytes
// instead of 8, so the header's KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2
// encode the wrong size and the kernel rejects them (EINVAL). Encode them
// from the C layout ourselves.
struct CpuidHeader {
  __u32 nent;
  __u32 padding;
};
static_assert(sizeof(CpuidHeader) == 8, "kvm_cpuid2 header is 8 bytes in C");
const unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
const unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);

// Static so the child needs no allocation after fork.
const unsigned kCpuidEntries = 256;
alignas(16) unsigned char g_cpuidBuf[sizeof(CpuidHeader) + kCpuidEntries * sizeof(struct kvm_cpuid_entry2)];

[[noreturn]] void ChildFinish(int fd, ChildReport& r) {
  Arm(0);
  const char* p = reinterpret_cast<const char*>(&r);
  size_t left = sizeof r;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= n;
  }
  _exit(0);
}

[[noreturn]] void ChildFail(int fd, ChildReport& r, const char* what, int err) {
  r.err = err;
  strncpy(r.what, what, sizeof r.what - 1);
  ChildFinish(fd, r);
}

[[noreturn]] void SelfTestChild(int out) {
  ChildReport r;
  memset(&r, 0, sizeof r);
  r.exitReason = -1;

  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnAlarm; // no SA_RESTART: KVM_RUN must return EINTR
  sigaction(SIGALRM, &sa, nullptr);

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) ChildFail(out, r, "open /dev/kvm", errno);
  int vm;
  do vm = ioctl(kvm, KVM_CREATE_VM, 0); while (vm < 0 && errno == EINTR);
  if (vm < 0) ChildFail(out, r, "KVM_CREATE_VM", errno);
  if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) ChildFail(out, r, "KVM_SET_TSS_ADDR", errno);

  void* mem = mmap(nullptr, kGuestMemSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) ChildFail(out, r, "mmap guest memory", errno);
  memcpy(static_cast<char*>(mem) + 0x1000, kSelfTestGuest, sizeof kSelfTestGuest);
  struct kvm_userspace_memory_region region;
  memset(&region, 0, sizeof region);
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = kGuestMemSize;
  region.userspace_addr = reinterpret_cast<unsigned long>(mem);
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) ChildFail(out, r, "KVM_SET_USER_MEMORY_REGION", errno);

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) ChildFail(out, r, "KVM_CREATE_VCPU", errno);
  int runSize = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (runSize <= 0) ChildFail(out, r, "KVM_GET_VCPU_MMAP_SIZE", errno);
  void* runMem = mmap(nullptr, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (runMem == MAP_FAILED) ChildFail(out, r, "mmap kvm_run", errno);
  struct kvm_run* run = static_cast<struct kvm_run*>(runMem);
  g_run = run;

  // The host's CPUID (long mode, PAE, ...) as KVM offers it, like QEMU -cpu host.
  CpuidHeader* cpuid = reinterpret_cast<CpuidHeader*>(g_cpuidBuf);
  cpuid->nent = kCpuidEntries;
  if (ioctl(kvm, kGetSupportedCpuid, cpuid) < 0) ChildFail(out, r, "KVM_GET_SUPPORTED_CPUID", errno);
  if (ioctl(vcpu, kSetCpuid2, cpuid) < 0) ChildFail(out, r, "KVM_SET_CPUID2", errno);

  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) ChildFail(out, r, "KVM_GET_SREGS", errno);
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) ChildFail(out, r, "KVM_SET_SREGS", errno);
  struct kvm_regs regs;
  memset(&regs, 0, sizeof regs);
  regs.rip = 0x1000;
  regs.rflags = 2;
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) ChildFail(out, r, "KVM_SET_REGS", errno);

  double loopStart = 0;
  Arm(kStageDeadlineUs);
  for (;;) {
    int rc = ioctl(vcpu, KVM_RUN, 0);
    int err = errno;
    if (rc < 0 && err == EINTR) {
      run->immediate_exit = 0;
      if (r.stage != kKernelLoop && r.stage != kUserLoop) {
        ChildFail(out, r, "deadline passed before the guest reached the next stage", ETIMEDOUT);
      }
      // A timed loop hit its deadline: note how far it got, then make it
      // finish at once (rcx = 1) so the test can go on.
      if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) ChildFail(out, r, "KVM_GET_REGS", errno);
      double done = SELFTEST_LOOP_ITERATIONS - static_cast<unsigned>(regs.rcx);
      double cpu = Now(CLOCK_PROCESS_CPUTIME_ID) - loopStart;
      if (r.stage == kKernelLoop) {
        r.kernelTimedOut = 1;
        r.kernelIterations = done;
        r.kernelCpu = cpu;
      } else {
        r.userTimedOut = 1;
        r.userIterations = done;
        r.userCpu = cpu;
        ChildFinish(out, r); // nothing left to learn
      }
      regs.rcx = 1;
      if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) ChildFail(out, r, "KVM_SET_REGS", errno);
      Arm(kStageDeadlineUs);
      continue;
    }
    if (rc < 0) ChildFail(out, r, "KVM_RUN", err);

    if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT || run->io.port != 0x10 ||
        run->io.size != 1) {
      r.exitReason = run->exit_reason;
      if (ioctl(vcpu, KVM_GET_REGS, &regs) == 0 && ioctl(vcpu, KVM_GET_SREGS, &sregs) == 0) {
        r.haveRegs = 1;
        r.rip = regs.rip;
        r.cr0 = sregs.cr0;
        r.cr4 = sregs.cr4;
        r.efer = sregs.efer;
      }
      ChildFail(out, r, "unexpected vCPU exit", 0);
    }
    int stage = reinterpret_cast<unsigned char*>(run)[run->io.data_offset];
    double now = Now(CLOCK_PROCESS_CPUTIME_ID);
    switch (stage) {
      case kKernelLoop:
      case kUserLoop:
        loopStart = now;
        Arm(kLoopDeadlineUs);
        break;
      case kKernelLoopDone:
        if (!r.kernelTimedOut) {
          r.kernelIterations = SELFTEST_LOOP_ITERATIONS;
          r.kernelCpu = now - loopStart;
        }
        Arm(kStageDeadlineUs);
        break;
      case kUserLoopDone:
        r.stage = stage;
        r.userIterations = SELFTEST_LOOP_ITERATIONS;
        r.userCpu = now - loopStart;
        ChildFinish(out, r);
      default:
        Arm(kStageDeadlineUs);
        break;
    }
    r.stage = stage;
  }
}

const char* ExitReasonName(int reason) {
  switch (reason) {
    case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_IO: return "KVM_EXIT_IO";
    case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
    case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN (triple fault)";
    case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
  }
  return "another exit reason";
}

void RunSelfTest(const ProbeOptions& options, KvmSelfTest& t) {
  t.ran = true;
  double start = Now(CLOCK_MONOTONIC);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    t.error = std::string("pipe: ") + strerror(errno);
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    t.error = std::string("fork: ") + strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    SelfTestChild(fds[1]);
  }
  close(fds[1]);

  ChildReport r;
  memset(&r, 0, sizeof r);
  size_t got = 0;
  bool killed = false;
  while (got < sizeof r) {
    int left = options.selfTestTimeoutMs - static_cast<int>((Now(CLOCK_MONOTONIC) - start) * 1000);
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    struct pollfd pfd = {fds[0], POLLIN, 0};
    int n = poll(&pfd, 1, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue; // deadline is checked at the top
    ssize_t rd = read(fds[0], reinterpret_cast<char*>(&r) + got, sizeof r - got);
    if (rd < 0 && errno == EINTR) continue;
    if (rd <= 0) break; // child died or closed early
    got += rd;
  }
  close(fds[0]);
  // Reap the child; never block on it for long, even if the kernel keeps it busy.
  int status = 0;
  pid_t w = 0;
  for (int i = 0; i < 100 && (w = waitpid(pid, &status, WNOHANG)) == 0; i++) usleep(1000);
  if (w == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, WNOHANG);
  }
  t.durationMs = (Now(CLOCK_MONOTONIC) - start) * 1000;

  if (killed || got < sizeof r) {
    t.timedOut = killed;
    t.stage = "unknown";
    t.error = killed ? "the self-test VM did not finish within " + std::to_string(options.selfTestTimeoutMs) +
                           " ms and was killed"
                     : "the self-test process died before reporting";
    return;
  }

  t.stage = StageName(r.stage);
  t.timedOut = r.kernelTimedOut || r.userTimedOut;
  t.kernelLoopIterations = r.kernelIterations;
  t.userLoopIterations = r.userIterations;
  // A loop that used no measurable CPU time at all was as fast as it gets.
  if (r.kernelIterations > 0) t.kernelLoopRate = r.kernelCpu > 0 ? r.kernelIterations / r.kernelCpu : 1e12;
  if (r.userIterations > 0) t.userLoopRate = r.userCpu > 0 ? r.userIterations / r.userCpu : 1e12;
  if (r.what[0]) {
    t.error = r.what;
    if (r.exitReason >= 0) t.error += std::string(": ") + ExitReasonName(r.exitReason) + " (" +
                                      std::to_string(r.exitReason) + ")";
    if (r.err == ETIMEDOUT) t.timedOut = true;
    else if (r.err) t.error += std::string(": ") + strerror(r.err);
    if (r.haveRegs) {
      char buf[160];
      snprintf(buf, sizeof buf, " at rip=%#llx cr0=%#llx cr4=%#llx efer=%#llx", r.rip, r.cr0, r.cr4, r.efer);
      t.error += buf;
    }
  }
  // Native speed in kernel mode: at least 20M iterations per CPU-second and
  // within 20x of user mode. Hardware virtualization runs both at ~1G/s.
  bool kernelFast = t.kernelLoopRate >= 20e6 && (t.userLoopRate < 0 || t.kernelLoopRate * 20 >= t.userLoopRate);
  t.ok = t.error.empty() && r.kernelIterations > 0 && kernelFast;
}

#endif // __x86_64__

std::string BackendPhrase(const KvmProbe& p) {
  if (p.backendKind == "hardware") return "it is provided by " + p.backend + " (hardware virtualization)";
  if (p.backendKind == "paravirtual") {
    return "it is provided by " + p.backend +
           ", a paravirtual KVM backend that needs a specially built guest kernel (not kvm_intel/kvm_amd" +
           (p.cpuVirtFlag.empty() ? "; the CPU has no vmx/svm flag)" : ")");
  }
  return "no known KVM vendor module (kvm_intel, kvm_amd) is loaded";
}

void Decide(KvmProbe& p) {
  const KvmSelfTest& t = p.selfTest;
  if (!t.ran) {
    p.usable = p.backendKind == "hardware";
    p.reason = std::string(p.usable ? "KVM is assumed usable: " : "KVM is not trusted to run stock guests: ") +
               BackendPhrase(p) + " (the self-test was skipped)";
    return;
  }
  if (t.ok) {
    p.usable = true;
    p.reason = "KVM works: " + BackendPhrase(p) + "; a self-test VM ran kernel-mode code at native speed (" +
               Millions(t.kernelLoopRate) + " loop iterations per CPU-second)";
    return;
  }
  p.usable = false;
  if (t.error.empty() && t.kernelLoopRate >= 0) {
    std::string speed;
    if (t.userLoopRate > 0 && t.kernelLoopRate > 0) {
      speed = "~" + Fixed(t.userLoopRate / t.kernelLoopRate, 0) + "x slower than user-mode code (" +
              Millions(t.kernelLoopRate) + " vs " + Millions(t.userLoopRate) + " loop iterations per CPU-second)";
    } else {
      speed = "at only " + Millions(t.kernelLoopRate) + " loop iterations per CPU-second";
    }
    p.reason = "/dev/kvm is present but cannot run stock guests: " + BackendPhrase(p) +
               ". A self-test VM ran kernel-mode code " + speed +
               ": the backend emulates guest kernel code, so a stock kernel would appear to hang.";
    return;
  }
  p.reason = "/dev/kvm is present but a self-test VM failed (stage " + t.stage + ": " + t.error + "); " +
             BackendPhrase(p) + ".";
}

} // namespace

KvmProbe ProbeKvm(const ProbeOptions& options) {
  KvmProbe p;
  DetectBackend(p);
  p.present = PathExists("/dev/kvm");
  if (!p.present) {
    p.reason = "/dev/kvm does not exist: enable VT-x/AMD-V in the firmware and load kvm_intel or kvm_amd "
               "(modprobe kvm_intel / kvm_amd); in a cloud VM, enable nested virtualization";
    return p;
  }
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    p.openErrno = errno;
    if (errno == EACCES || errno == EPERM) {
      p.reason = "/dev/kvm exists but this user may not open it: add the user to the kvm group "
                 "(sudo usermod -aG kvm $USER, then log in again) or run as root";
    } else {
      p.reason = std::string("/dev/kvm exists but cannot be opened: ") + strerror(errno);
    }
    return p;
  }
  p.accessible = true;
  p.apiVersion = ioctl(fd, KVM_GET_API_VERSION, 0);
  for (const CapInfo& c : kCaps) {
    int v = ioctl(fd, KVM_CHECK_EXTENSION, c.id);
    if (v < 0) v = 0;
    p.capabilities.emplace_back(c.name, v);
    if (c.requiredByQemu && v <= 0) p.missingCapabilities.push_back(c.name);
  }
  close(fd);

  if (p.apiVersion != KVM_API_VERSION) {
    p.reason = "/dev/kvm speaks KVM API version " + std::to_string(p.apiVersion) + ", QEMU needs " +
               std::to_string(KVM_API_VERSION);
    return p;
  }
  if (!p.missingCapabilities.empty()) {
    std::string list;
    for (const std::string& m : p.missingCapabilities) list += (list.empty() ? "" : ", ") + m;
    p.reason = "/dev/kvm lacks capabilities QEMU requires: " + list;
    return p;
  }
#if defined(__x86_64__)
  if (options.selfTest) RunSelfTest(options, p.selfTest);
#endif
  Decide(p);
  return p;
}

} // namespace dlite

#endif // __linux__
