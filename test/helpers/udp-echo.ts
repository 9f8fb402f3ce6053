// A UDP echo server for containers: busybox has no UDP server applet and there is no registry to pull one
// from, so the tests compile this static program (the host's C compiler and static libc) into a directory the
// container can see.
import {execFileSync} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

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
  const binary = join(dir, 'udp-echo')
  if (existsSync(binary)) return binary
  const source = join(dir, 'udp-echo.c')
  writeFileSync(source, SOURCE)
  execFileSync('cc', ['-static', '-O2', '-o', binary, source], {stdio: 'pipe'})
  return binary
}
