/* Helpers shared by the tests: environment, hex, free ports, and child processes for the
 * end-to-end and interop tests (real binaries on loopback). */
#ifndef NB_TEST_H
#define NB_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Value of an environment variable the test harness sets, or NULL. */
const char *nb_test_env(const char *name);
/* NB_SHARED_DIR when it exists as a directory, else NULL (tests then skip). */
const char *nb_test_shared_dir(void);
/* True when an executable of that name is on PATH. */
bool nb_test_have_program(const char *name);

/* Decodes hex (spaces allowed) into out; returns the byte count, or -1 on bad input. */
ssize_t nb_test_unhex(const char *hex, uint8_t *out, size_t cap);

/* A UDP (or TCP) port on 127.0.0.1 that is free right now (bound and released). */
uint16_t nb_test_free_port(int socktype);

/* A running child process with its stdout and stderr captured to files. */
typedef struct {
  pid_t pid;
  char out_path[256];
  char err_path[256];
} nb_test_proc;

/* Starts argv[0] (searched in PATH) with output captured; false if it cannot start. */
bool nb_test_proc_start(nb_test_proc *p, char *const argv[]);
/* Waits up to timeout_ms for exit; returns the exit status, or -1 on timeout (then kills). */
int nb_test_proc_wait(nb_test_proc *p, int timeout_ms);
/* SIGTERM, then SIGKILL after a grace period; reaps the child. */
void nb_test_proc_stop(nb_test_proc *p);
/* Reads a captured stream (heap string, caller frees); "" when empty. */
char *nb_test_proc_stdout(const nb_test_proc *p);
char *nb_test_proc_stderr(const nb_test_proc *p);
void nb_test_proc_cleanup(nb_test_proc *p);

/* Runs a command to completion (timeout_ms), capturing stdout into a heap string. */
int nb_test_run(char *const argv[], int timeout_ms, char **out);
/* Same, capturing stderr too (either pointer may be NULL). */
int nb_test_run_capture(char *const argv[], int timeout_ms, char **out, char **err);
/* Polls a running child's captured stdout (or stderr) until it contains `needle`; false when
 * timeout_ms pass or the child exits first. */
bool nb_test_proc_wait_output(const nb_test_proc *p, bool on_stderr, const char *needle,
                              int timeout_ms);

/* An HTTP request through curl to base + path ("http://127.0.0.1:8080" + "/api/clients"),
 * with an optional JSON body; returns "BODY|STATUS" (heap), or NULL when curl could not run. */
char *nb_test_http(const char *base, const char *method, const char *path, const char *body);
/* Same with "Authorization: Bearer token" (token NULL: none). */
char *nb_test_http_auth(const char *base, const char *token, const char *method, const char *path,
                        const char *body);

/* The first Python interpreter that can run `import MODULES` ("cbor2, cryptography"):
 * $NB_PYTHON, python3 on PATH, /usr/bin/python3 (a pyenv or venv python3 first on PATH often
 * lacks the Debian packages). Its name into out; false when none can. */
bool nb_test_find_python(const char *modules, char *out, size_t cap);

/* JSON lines (one object a line, as `niobium monitor` writes) as one JSON array (a json_t *,
 * caller decrefs); NULL when a line is not JSON, with that line (truncated) in bad. */
struct json_t;
struct json_t *nb_test_json_lines(const char *text, char *bad, size_t bad_cap);

/* Removes a SQLite database and its -wal and -shm companions (those that exist). */
void nb_test_remove_db(const char *db);

/* Reads a whole file (heap, NUL-terminated); NULL on error. */
char *nb_test_read_file(const char *path, size_t *len);

#endif
