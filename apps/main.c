/* `niobium`: one executable, one subcommand per file (see commands.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const nb_command nb_commands[] = {};

static void nb_usage(FILE *out) {
  fprintf(out,
          "Usage: niobium COMMAND [OPTIONS]\n"
          "Niobium: secure OMA LwM2M device management.\n\nCommands:\n");
  for (size_t i = 0; i < sizeof nb_commands / sizeof nb_commands[0]; i++) {
    fprintf(out, "  %-10s %s\n", nb_commands[i].name, nb_commands[i].summary);
  }
  fprintf(out, "\nRun 'niobium COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
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
  for (size_t i = 0; i < sizeof nb_commands / sizeof nb_commands[0]; i++) {
    if (strcmp(argv[1], nb_commands[i].name) == 0) return nb_commands[i].run(argc - 1, argv + 1);
  }
  fprintf(stderr, "niobium: unknown command '%s'\n\n", argv[1]);
  nb_usage(stderr);
  return NB_EXIT_USAGE;
}
