// dlite guest share-events agent: makes a change the host saw under a shared directory visible to inotify in
// the guest (virtiofs carries no host file events). The host writes "touch SECONDS.NANOS PATH" lines on the
// org.dlite.files port; the agent sets PATH's modification time to that time, the one the file already has,
// so the guest's watchers get IN_MODIFY (a modification time set alone is reported as a modify) and the host's
// file keeps its time. A file whose time is already later changed again on the host, and a line with its new
// time follows: it is left alone, so a late line does not put an older time back. Only paths under a
// virtiofs share mounted read-write are touched, never created, never followed through a symbolic link.
//
// Not 9p: an uncached 9p mount gives each lookup a fresh inode, so no touch reaches a watcher's inode; and
// holding its directories open to keep one inode (which does make directory watches work) let a concurrent
// lookup refresh the size of a file the VM was still writing, and a page of it was lost in a trial.
// In C rather than busybox sh: no fork per file, and nanoseconds without GNU touch.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// the port's name comes from the host/guest contract (os/contract.json), passed by the build
#ifndef DLITE_FILES_PORT
#error "build with -DDLITE_FILES_PORT='\"<name>\"' (os/scripts/assemble.sh passes the contract's value)"
#endif

#define MAX_ROOTS 64
#define LINE_MAX_BYTES (PATH_MAX + 64)

struct root {
  char path[PATH_MAX];
  size_t len;
};

static struct root roots[MAX_ROOTS];
static int nroots;

/* /run/dlite/shares: "TAG TRANSPORT ro|rw PATH", the path last (it may hold spaces). */
static void read_roots(void) {
  FILE *f = fopen("/run/dlite/shares", "r");
  char line[LINE_MAX_BYTES];
  if (!f) return;
  while (nroots < MAX_ROOTS && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *tag = strtok(line, " "), *transport = strtok(NULL, " "), *mode = strtok(NULL, " "), *path = strtok(NULL, "");
    if (!tag || !transport || !mode || !path || strcmp(mode, "rw") != 0 || strcmp(transport, "virtiofs") != 0 || path[0] != '/') continue;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') path[--len] = 0;
    if (len >= PATH_MAX) continue;
    memcpy(roots[nroots].path, path, len + 1);
    roots[nroots].len = len;
    nroots++;
  }
  fclose(f);
}

static const struct root *root_of(const char *path) {
  if (strstr(path, "/../") || (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/.."))) return NULL;
  for (int i = 0; i < nroots; i++) {
    if (!strncmp(path, roots[i].path, roots[i].len) && path[roots[i].len] == '/') return &roots[i];
  }
  return NULL;
}

/* "SECONDS.NANOS": seconds from 1, exactly nine digits of nanoseconds. */
static int parse_time(const char *text, struct timespec *out) {
  char *end;
  if (text[0] < '1' || text[0] > '9') return 0;
  long long seconds = strtoll(text, &end, 10);
  if (*end != '.') return 0;
  const char *nanos = end + 1;
  for (int i = 0; i < 9; i++) if (nanos[i] < '0' || nanos[i] > '9') return 0;
  if (nanos[9] != 0) return 0;
  out->tv_sec = (time_t)seconds;
  out->tv_nsec = strtol(nanos, NULL, 10);
  return 1;
}

static void handle(char *line) {
  if (strncmp(line, "touch ", 6) != 0) return;
  char *time_text = line + 6, *path = strchr(time_text, ' ');
  if (!path) return;
  *path++ = 0;
  struct timespec mtime;
  if (!parse_time(time_text, &mtime) || path[0] != '/') return;
  const struct root *root = root_of(path);
  if (!root) return;
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (st.st_mtim.tv_sec > mtime.tv_sec || (st.st_mtim.tv_sec == mtime.tv_sec && st.st_mtim.tv_nsec > mtime.tv_nsec)) return;
  struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, mtime};
  utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
}

static int find_port(char *device, size_t size) {
  DIR *ports = opendir("/sys/class/virtio-ports");
  struct dirent *entry;
  int found = 0;
  while (ports && !found && (entry = readdir(ports)) != NULL) {
    char name_path[PATH_MAX], name[64] = "";
    snprintf(name_path, sizeof name_path, "/sys/class/virtio-ports/%s/name", entry->d_name);
    FILE *f = fopen(name_path, "r");
    if (!f) continue;
    if (fgets(name, sizeof name, f) && (name[strcspn(name, "\n")] = 0, !strcmp(name, DLITE_FILES_PORT))) {
      snprintf(device, size, "/dev/%s", entry->d_name);
      found = 1;
    }
    fclose(f);
  }
  if (ports) closedir(ports);
  return found;
}

/* Reads lines from fd until it ends. */
static void serve(int fd) {
  static char buffer[LINE_MAX_BYTES];
  size_t used = 0;
  int skipping = 0; /* the rest of a line too long to be one */
  ssize_t n;
  while ((n = read(fd, buffer + used, sizeof buffer - 1 - used)) > 0) {
    used += (size_t)n;
    char *start = buffer, *newline;
    while ((newline = memchr(start, '\n', used - (size_t)(start - buffer))) != NULL) {
      *newline = 0;
      if (!skipping) handle(start);
      skipping = 0;
      start = newline + 1;
    }
    used -= (size_t)(start - buffer);
    memmove(buffer, start, used);
    if (used == sizeof buffer - 1) {
      used = 0;
      skipping = 1;
    }
  }
}

/* --stdin: the lines come on standard input, and the agent exits at its end (the tests run it so). */
int main(int argc, char **argv) {
  umask(077);
  read_roots();
  if (nroots == 0) return 0;
  fprintf(stderr, "share-events: %d shares\n", nroots);
  if (argc > 1 && !strcmp(argv[1], "--stdin")) {
    serve(0);
    return 0;
  }
  char device[PATH_MAX];
  if (!find_port(device, sizeof device)) return 0;
  for (;;) {
    /* With nobody at the host end, a read ends at once: wait, and open the port again. */
    int fd = open(device, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      serve(fd);
      close(fd);
    }
    sleep(2);
  }
}
