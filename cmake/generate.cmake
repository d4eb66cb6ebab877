# Runs BIN ARG and writes its stdout to OUT (the man page and the bash
# completion are printed by snapfs itself from its verb table). Fails the
# build if snapfs fails.
execute_process(COMMAND "${BIN}" "${ARG}" OUTPUT_FILE "${OUT}.tmp" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE "${OUT}.tmp")
  message(FATAL_ERROR "${BIN} ${ARG} failed: ${rc}")
endif()
file(RENAME "${OUT}.tmp" "${OUT}")
