/* Subcommands of the `niobium` executable: one file each in apps/, dispatched by main.c.
 * Each takes (argc, argv) with argv[0] the subcommand name and returns the exit code:
 * 0 ok, 1 runtime failure, 2 usage error. */
#ifndef NB_APPS_COMMANDS_H
#define NB_APPS_COMMANDS_H

enum { NB_EXIT_OK = 0, NB_EXIT_FAILURE = 1, NB_EXIT_USAGE = 2 };

typedef struct {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);
} nb_command;

int nb_cmd_demo(int argc, char **argv);
int nb_cmd_server(int argc, char **argv);
int nb_cmd_bootstrap(int argc, char **argv);
int nb_cmd_client(int argc, char **argv);
int nb_cmd_monitor(int argc, char **argv);
int nb_cmd_coap(int argc, char **argv);
int nb_cmd_keys(int argc, char **argv);
int nb_cmd_objects(int argc, char **argv);
int nb_cmd_decode(int argc, char **argv);
int nb_cmd_cose(int argc, char **argv);
int nb_cmd_fw(int argc, char **argv);
int nb_cmd_sim(int argc, char **argv);
/* `niobium coap serve`, reached through nb_cmd_coap (argv[0] is "serve"). */
int nb_cmd_coap_serve(int argc, char **argv);

#endif
