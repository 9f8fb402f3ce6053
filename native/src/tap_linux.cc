// Linux: create or attach a tap device and hand its fd to the caller
// (the daemon passes it to QEMU as `-netdev tap,fd=N`).
#ifdef __linux__

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "probe.h"

namespace dlite {

TapResult OpenTap(const std::string& name, bool vnetHdr, bool persist, bool cloexec) {
  TapResult r;
  int fd = open("/dev/net/tun", O_RDWR | (cloexec ? O_CLOEXEC : 0));
  if (fd < 0) {
    r.err = errno;
    r.failedAt = "open";
    return r;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    r.err = errno;
    r.failedAt = "TUNSETIFF";
    close(fd);
    return r;
  }
  if (persist && ioctl(fd, TUNSETPERSIST, 1) < 0) {
    r.err = errno;
    r.failedAt = "TUNSETPERSIST";
    close(fd);
    return r;
  }
  r.fd = fd;
  r.name = ifr.ifr_name;
  r.vnetHdr = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
  return r;
}

} // namespace dlite

#endif // __linux__
