// macOS: Hypervisor.framework availability, from `sysctl kern.hv_support`.
#ifdef __APPLE__
#include <sys/sysctl.h>
#include <sys/types.h>

#include "probe.h"

namespace dlite {

HvfProbe ProbeHvf() {
  HvfProbe p;
  int value = 0;
  size_t size = sizeof(value);
  if (sysctlbyname("kern.hv_support", &value, &size, nullptr, 0) != 0) {
    p.reason = "kern.hv_support is not available: this macOS has no Hypervisor.framework "
               "(macOS 10.10 or later on a CPU with VT-x or Apple silicon is needed)";
    return p;
  }
  p.present = true;
  p.sysctlValue = value;
  if (value == 1) {
    p.usable = true;
    p.reason = "Hypervisor.framework is supported (kern.hv_support = 1)";
  } else {
    p.reason = "kern.hv_support = 0: the CPU or the virtual machine this macOS runs in does not "
               "offer hardware virtualization (enable nested virtualization, or use tcg)";
  }
  return p;
}

} // namespace dlite
#endif
