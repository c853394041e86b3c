/* Test helpers: environment, hex, ports, processes. */
#include "nb_test.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *nb_test_env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

const char *nb_test_shared_dir(void) {
  const char *dir = nb_test_env("NB_SHARED_DIR");
  struct stat st;
  if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
  return dir;
}

bool nb_test_have_program(const char *name) {
  const char *path = getenv("PATH");
  if (!path) return false;
  char *copy = strdup(path);
  bool found = false;
  for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir && !found;
       dir = strtok_r(NULL, ":", &save)) {
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", dir, name);
    found = access(full, X_OK) == 0;
  }
  free(copy);
  return found;
}

ssize_t nb_test_unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  int hi = -1;
  for (const char *p = hex; *p; p++) {
    if (*p == ' ' || *p == '\n' || *p == ':') continue;
    int v;
    if (*p >= '0' && *p <= '9') {
      v = *p - '0';
    } else if (*p >= 'a' && *p <= 'f') {
      v = *p - 'a' + 10;
    } else if (*p >= 'A' && *p <= 'F') {
      v = *p - 'A' + 10;
    } else {
      return -1;
    }
    if (hi < 0) {
      hi = v;
      continue;
    }
    if (n == cap) return -1;
    out[n++] = (uint8_t)(hi << 4 | v);
    hi = -1;
  }
  return hi < 0 ? (ssize_t)n : -1;
}

uint16_t nb_test_free_port(int socktype) {
  int fd = socket(AF_INET, socktype, 0);
  if (fd < 0) return 0;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  uint16_t port = 0;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
    port = ntohs(sa.sin_port);
  }
  close(fd);
  return port;
}

bool nb_test_proc_start(nb_test_proc *p, char *const argv[]) {
  static unsigned seq;
  memset(p, 0, sizeof *p);
  snprintf(p->out_path, sizeof p->out_path, "/tmp/nb-test-%d-%u.out", getpid(), seq);
  snprintf(p->err_path, sizeof p->err_path, "/tmp/nb-test-%d-%u.err", getpid(), seq++);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int rc = posix_spawnp(&p->pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "cannot start %s: %s\n", argv[0], strerror(rc));
    p->pid = 0;
    return false;
  }
  return true;
}

static void nb_test_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int nb_test_proc_wait(nb_test_proc *p, int timeout_ms) {
  if (p->pid <= 0) return -1;
  for (int waited = 0;; waited += 10) {
    int status;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid) {
      p->pid = 0;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (waited >= timeout_ms) break;
    nb_test_sleep_ms(10);
  }
  nb_test_proc_stop(p);
  return -1;
}

void nb_test_proc_stop(nb_test_proc *p) {
  if (p->pid <= 0) return;
  kill(p->pid, SIGTERM);
  for (int i = 0; i < 300; i++) {
    if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
      p->pid = 0;
      return;
    }
    nb_test_sleep_ms(10);
  }
  kill(p->pid, SIGKILL);
  waitpid(p->pid, NULL, 0);
  p->pid = 0;
}

void nb_test_remove_db(const char *db) {
  static const char *const suffix[] = {"", "-wal", "-shm"};
  char p[512];
  for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
    snprintf(p, sizeof(p), "%s%s", db, suffix[i]);
    unlink(p);
  }
}

char *nb_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (cap - n - 1 == 0) {
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) return NULL;
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

char *nb_test_proc_stdout(const nb_test_proc *p) {
  char *s = nb_test_read_file(p->out_path, NULL);
  return s ? s : strdup("");
}

char *nb_test_proc_stderr(const nb_test_proc *p) {
  char *s = nb_test_read_file(p->err_path, NULL);
  return s ? s : strdup("");
}

void nb_test_proc_cleanup(nb_test_proc *p) {
  nb_test_proc_stop(p);
  unlink(p->out_path);
  unlink(p->err_path);
}

int nb_test_run(char *const argv[], int timeout_ms, char **out) {
  return nb_test_run_capture(argv, timeout_ms, out, NULL);
}

int nb_test_run_capture(char *const argv[], int timeout_ms, char **out, char **err) {
  nb_test_proc p;
  if (!nb_test_proc_start(&p, argv)) return -1;
  int rc = nb_test_proc_wait(&p, timeout_ms);
  if (out) *out = nb_test_proc_stdout(&p);
  if (err) *err = nb_test_proc_stderr(&p);
  nb_test_proc_cleanup(&p);
  return rc;
}

bool nb_test_proc_wait_output(const nb_test_proc *p, bool on_stderr, const char *needle,
                              int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    char *text = on_stderr ? nb_test_proc_stderr(p) : nb_test_proc_stdout(p);
    bool found = text && strstr(text, needle) != NULL;
    free(text);
    if (found) return true;
    /* Exited? (WNOWAIT leaves the child for nb_test_proc_wait/stop to reap.) */
    siginfo_t info = {0};
    if (p->pid <= 0 ||
        (waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid)) {
      return false;
    }
    nb_test_sleep_ms(20);
  }
  return false;
}

char *nb_test_http(const char *base, const char *method, const char *path, const char *body) {
  return nb_test_http_auth(base, NULL, method, path, body);
}

char *nb_test_http_auth(const char *base, const char *token, const char *method, const char *path,
                        const char *body) {
  char url[512], auth[300];
  if (token &&
      (size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", token) >= sizeof auth)
    return NULL;
  if ((size_t)snprintf(url, sizeof url, "%s%s", base, path) >= sizeof url) return NULL;
  char *argv[20];
  int n = 0;
  argv[n++] = "curl";
  argv[n++] = "-s";
  argv[n++] = "-m";
  argv[n++] = "20";
  argv[n++] = "-w";
  argv[n++] = "|%{http_code}";
  argv[n++] = "-X";
  argv[n++] = (char *)method;
  if (token) {
    argv[n++] = "-H";
    argv[n++] = auth;
  }
  if (body) {
    argv[n++] = "-H";
    argv[n++] = "Content-Type: application/json";
    argv[n++] = "--data-binary";
    argv[n++] = (char *)body;
  }
  argv[n++] = url;
  argv[n] = NULL;
  char *out = NULL;
  if (nb_test_run(argv, 30000, &out) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

bool nb_test_find_python(const char *modules, char *out, size_t cap) {
  char import[256];
  snprintf(import, sizeof import, "import %s", modules);
  const char *cands[] = {getenv("NB_PYTHON"), "python3", "/usr/bin/python3"};
  for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
    if (!cands[i] || !cands[i][0]) continue;
    char *argv[] = {(char *)cands[i], "-c", import, NULL};
    char *o = NULL, *e = NULL;
    int rc = nb_test_run_capture(argv, 30000, &o, &e);
    free(o);
    free(e);
    if (rc == 0) {
      snprintf(out, cap, "%s", cands[i]);
      return true;
    }
  }
  return false;
}

json_t *nb_test_json_lines(const char *text, char *bad, size_t bad_cap) {
  json_t *arr = json_array();
  for (const char *line = text ? text : ""; arr && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len) {
      json_error_t jerr;
      json_t *o = json_loadb(line, len, 0, &jerr);
      if (!o) {
        snprintf(bad, bad_cap, "%.*s (%s)", (int)(len > 200 ? 200 : len), line, jerr.text);
        json_decref(arr);
        return NULL;
      }
      json_array_append_new(arr, o);
    }
    line = end ? end + 1 : line + len;
  }
  return arr;
}
