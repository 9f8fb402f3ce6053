// A UDP echo server for containers: busybox has no UDP server applet.
import {staticProgram} from './static-program.js'

const SOURCE = `
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(atoi(argv[1]));
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return 1;
  for (;;) {
    char buf[2048];
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
    if (n > 0) sendto(fd, buf, n, 0, (struct sockaddr *)&peer, len);
  }
}
`

/** Builds `<dir>/udp-echo` (usage: udp-echo PORT) unless it is there. */
export function udpEchoBinary(dir: string): string {
  return staticProgram(dir, 'udp-echo', SOURCE)
}
