/* OMA DDF (LWM2M.xsd object definition XML) loader: turns registry files into nb_object_def and
 * adds them to a model. Parsing is safe for untrusted files: no network, no DTD or entities
 * (a DOCTYPE stops the parse), a size cap, and nothing is added from a file that has any error.
 * Module nb_lwm2m_ddf (libxml2), kept out of the device library. */
#ifndef NB_LWM2M_DDF_H
#define NB_LWM2M_DDF_H

#include <stddef.h>

#include "base/err.h"
#include "lwm2m/model.h"

/* Largest DDF file accepted (the largest registry file is about 100 KiB). */
#define NB_DDF_MAX_FILE ((size_t)4 * 1024 * 1024)

typedef struct {
  size_t files_loaded;   /* files whose objects were all added */
  size_t objects_loaded; /* definitions added or overridden */
  size_t files_skipped;  /* not object definitions (see nb_model_load_ddf_ex) */
  size_t files_failed;   /* malformed: nothing of them was added */
} nb_ddf_stats;

/* Told about every file a directory load skips (err NB_ERR_DDF_NOT_OBJECT, the reason in
 * message) or rejects (other errors, message "file:line: what is wrong"). */
typedef void (*nb_ddf_notice_fn)(void *ctx, const char *file, nb_err err, const char *message);

/* Loads a DDF file, or every *.xml file of a directory (not recursive, in name order), adding or
 * overriding definitions (a later file wins for the same object id).
 *
 * A file is all-or-nothing: every <Object> in it is added, or none when any is malformed.
 * A single file that is no object definition is an error (NB_ERR_DDF_NOT_OBJECT). In a
 * directory, such files are skipped, not errors: the registry's Common.xml (reusable resources,
 * ObjectType="CommonResources"), DDF.xml (the registry index, root <DDFList>),
 * LWM2M_senml_units.xml (root <units>), and any file not named *.xml (LWM2M.xsd...).
 * Malformed files in a directory do not stop the others from loading; the result is then the
 * first file's error (NB_ERR_DDF, NB_ERR_DDF_UNSAFE, NB_ERR_IO...) and errbuf says
 * "file:line: what is wrong" for it and how many more failed. errbuf may be NULL. */
nb_err nb_model_load_ddf(nb_model *m, const char *file_or_dir, char *errbuf, size_t errcap);

/* Same, with a callback for skipped and failed files and counters (both may be NULL). */
nb_err nb_model_load_ddf_ex(nb_model *m, const char *file_or_dir, nb_ddf_notice_fn notice,
                            void *ctx, nb_ddf_stats *stats, char *errbuf, size_t errcap);

/* Parses one DDF document held in memory; `name` is used in messages. On NB_OK *defs is a malloc
 * array of *count heap definitions (free each with nb_object_def_free, then the array with free);
 * on error nothing is returned. */
nb_err nb_ddf_parse(const char *data, size_t len, const char *name, nb_object_def ***defs,
                    size_t *count, char *errbuf, size_t errcap);

#endif
