# Installs web/'s npm packages into the build tree (cmake -P), from the committed lock file:
#   cmake -DNPM=npm -DSRC=web -DDEST=build/web -P npm-ci.cmake
# Runs `npm ci` only when the lock file changed since the last install, so a build tree whose
# node_modules is in place needs no network; otherwise npm takes the packages from its cache
# or the registry.
set(lock "${SRC}/package-lock.json")
set(installed "${DEST}/node_modules/.package-lock.json")
file(MAKE_DIRECTORY "${DEST}")
if(EXISTS "${installed}" AND EXISTS "${DEST}/package-lock.json")
  file(SHA256 "${lock}" want)
  file(SHA256 "${DEST}/package-lock.json" have)
  if(want STREQUAL have)
    return()
  endif()
endif()
file(COPY_FILE "${SRC}/package.json" "${DEST}/package.json")
file(COPY_FILE "${lock}" "${DEST}/package-lock.json")
execute_process(
  COMMAND "${NPM}" ci --prefer-offline --no-audit --no-fund --loglevel=error
  WORKING_DIRECTORY "${DEST}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE "${DEST}/package-lock.json")
  message(FATAL_ERROR "npm ci failed in ${DEST} (the console's libraries come from the npm "
                      "registry; reach it once, or configure with -DNB_WITH_CONSOLE=OFF)")
endif()
