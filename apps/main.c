/* `niobium`: one executable, one subcommand per file (see commands.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const nb_command nb_commands[] = {
    {"demo", "bootstrap + server + REST API + simulated devices in one process", nb_cmd_demo},
    {"server", "LwM2M server: registrations, device management, REST API", nb_cmd_server},
    {"bootstrap", "LwM2M bootstrap server: per-device configs, approval, fresh keys",
     nb_cmd_bootstrap},
    {"client", "LwM2M client (device): register, serve objects, report", nb_cmd_client},
    {"sim", "fleet simulator: thousands of real client engines in one process", nb_cmd_sim},
    {"monitor", "passive LwM2M security monitor: decode captures, track devices, alert",
     nb_cmd_monitor},
    {"coap", "CoAP client (get, put, post, delete, observe) and test server", nb_cmd_coap},
    {"keys", "PSKs, P-256 keys, secure IDs, QR codes and test certificates", nb_cmd_keys},
    {"objects", "list LwM2M object definitions (built-in and DDF files)", nb_cmd_objects},
    {"decode", "decode an LwM2M payload (TLV, JSON, SenML, CBOR, text, links)", nb_cmd_decode},
    {"cose", "verify or sign signed payloads (COSE_Sign1 evidence)", nb_cmd_cose},
    {"fw", "firmware: sign and inspect packages; images, pushes and campaigns on a server",
     nb_cmd_fw},
    {NULL, NULL, NULL},
};

static void nb_usage(FILE *out) {
  fprintf(out,
          "Usage: niobium COMMAND [OPTIONS]\n"
          "Niobium: secure OMA LwM2M device management.\n\nCommands:\n");
  for (const nb_command *c = nb_commands; c->name; c++) {
    fprintf(out, "  %-10s %s\n", c->name, c->summary);
  }
  fprintf(out, "\nRun 'niobium COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
  /* A file-size limit (RLIMIT_FSIZE) reached makes a write fail with EFBIG, which the stores
   * report as a storage fault, instead of killing the process (docs/server.md). */
  signal(SIGXFSZ, SIG_IGN);
  if (argc < 2) {
    nb_usage(stderr);
    return NB_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    nb_usage(stdout);
    return NB_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("niobium 0.1.0\n");
    return NB_EXIT_OK;
  }
  for (const nb_command *c = nb_commands; c->name; c++) {
    if (strcmp(argv[1], c->name) == 0) return c->run(argc - 1, argv + 1);
  }
  fprintf(stderr, "niobium: unknown command '%s'\n\n", argv[1]);
  nb_usage(stderr);
  return NB_EXIT_USAGE;
}
