// Plain C++ results of the host probes; addon.cc turns them into JS objects.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dlite {

struct KvmSelfTest {
  bool ran = false;
  bool ok = false;            // supervisor code ran at native speed
  bool timedOut = false;      // a loop or stage hit its deadline
  std::string stage = "none"; // last stage the guest reached
  std::string error;          // empty when none
  double durationMs = 0;
  double kernelLoopRate = -1; // loop iterations per CPU-second at CPL0, -1 unknown
  double userLoopRate = -1;   // same at CPL3
  double kernelLoopIterations = 0;
  double userLoopIterations = 0;
};

struct KvmProbe {
  bool present = false;    // /dev/kvm exists
  bool accessible = false; // could be opened read-write
  bool usable = false;     // can run a stock guest kernel
  std::string reason;
  int openErrno = 0;
  int apiVersion = -1;
  std::string backend;     // kvm_intel, kvm_amd, kvm_pvm, ... or "" when unknown
  std::string backendKind; // hardware | paravirtual | unknown
  std::string cpuVirtFlag; // vmx | svm | "" (from /proc/cpuinfo)
  std::vector<std::pair<std::string, long>> capabilities;
  std::vector<std::string> missingCapabilities;
  KvmSelfTest selfTest;
};

struct HvfProbe {
  bool present = false;
  bool usable = false;
  std::string reason;
  long sysctlValue = -1; // kern.hv_support, -1 when the sysctl is absent
};

struct ProbeOptions {
  bool selfTest = true;
  int selfTestTimeoutMs = 1000; // hard deadline for the whole self-test child
};

#ifdef __linux__
KvmProbe ProbeKvm(const ProbeOptions& options);

struct TapResult {
  int fd = -1;
  std::string name;
  int err = 0;           // errno when fd < 0
  std::string failedAt;  // "open" | "TUNSETIFF" | ...
  bool vnetHdr = false;
};
TapResult OpenTap(const std::string& name, bool vnetHdr, bool persist, bool cloexec);
#endif

#ifdef __APPLE__
HvfProbe ProbeHvf();
#endif

} // namespace dlite
