// An inotify watcher for containers, as a dev server's file watcher would be (Debian's busybox has no
// inotifyd): `inotify-watch PATH...` prints "MODIFY<TAB>PATH[<TAB>NAME]" for each modify event and
// "ATTRIB<TAB>..." for each attribute change (both are a change to Node's fs.watch), a line at a time, after
// "WATCHING" once every watch is in place.
import {staticProgram} from './static-program.js'

const SOURCE = `
#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int fd = inotify_init();
  if (fd < 0) return 1;
  for (int i = 1; i < argc; i++) if (inotify_add_watch(fd, argv[i], IN_MODIFY | IN_ATTRIB) != i) return 2;
  printf("WATCHING\\n");
  fflush(stdout);
  char buf[65536] __attribute__((aligned(8)));
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return 3;
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *e = (struct inotify_event *)p;
      const char *kind = (e->mask & IN_MODIFY) ? "MODIFY" : (e->mask & IN_ATTRIB) ? "ATTRIB" : 0;
      if (kind) {
        if (e->len) printf("%s\\t%s\\t%s\\n", kind, argv[e->wd], e->name);
        else printf("%s\\t%s\\n", kind, argv[e->wd]);
        fflush(stdout);
      }
      p += sizeof *e + e->len;
    }
  }
}
`

/** Builds `<dir>/inotify-watch` unless it is there. */
export function inotifyWatchBinary(dir: string): string {
  return staticProgram(dir, 'inotify-watch', SOURCE)
}
