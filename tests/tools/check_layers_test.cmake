# check_layers_test.cmake — proves scripts/check_layers.cmake catches what
# it must (ctest unit_check_layers_catches): on a copy of server/ it passes
# first, then fails for an include against the arrows, for a file outside a
# folder, for an undeclared folder and for a cycle in server/LAYERS.
#   cmake -DROOT=<source tree> -DWORK=<scratch dir> -P check_layers_test.cmake
cmake_minimum_required(VERSION 3.25)
set(checker "${ROOT}/scripts/check_layers.cmake")
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(COPY "${ROOT}/server" DESTINATION "${WORK}")

# run(<expect 0|1> <what> <pattern>): run the checker on WORK; its exit code
# must be as expected and, on failure, its output must contain pattern.
function(run expect what pattern)
    execute_process(COMMAND "${CMAKE_COMMAND}" -DROOT=${WORK} -P "${checker}"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(expect EQUAL 0 AND NOT rc EQUAL 0)
        message(FATAL_ERROR "check_layers failed on ${what}:\n${err}")
    endif()
    if(expect EQUAL 1)
        if(rc EQUAL 0)
            message(FATAL_ERROR "check_layers did not catch ${what}")
        endif()
        string(FIND "${err}" "${pattern}" at)
        if(at EQUAL -1)
            message(FATAL_ERROR "check_layers failed on ${what} without naming it ('${pattern}'):\n${err}")
        endif()
    endif()
    message(STATUS "ok: ${what}")
endfunction()

run(0 "the unmodified tree" "")

# The lowest layer including the highest, from a header.
file(WRITE "${WORK}/server/util/zz_bad.h" "#include \"server/app/hooks.h\"\n")
run(1 "an include against the arrows (util -> app)" "util -> app is not an arrow")
file(REMOVE "${WORK}/server/util/zz_bad.h")

# A middle layer including one above it, from a source file.
file(WRITE "${WORK}/server/net/zz_bad.c" "#include <stdio.h>\n  #  include \"server/route/dispatch.h\"\n")
run(1 "an include against the arrows (net -> route)" "net -> route is not an arrow")
file(REMOVE "${WORK}/server/net/zz_bad.c")

# A file dropped into server/ itself, as the flat layout had them.
file(WRITE "${WORK}/server/cmd_new.c" "")
run(1 "a file outside a folder" "server/cmd_new.c: file outside a layer folder")
file(REMOVE "${WORK}/server/cmd_new.c")

# A folder nobody declared.
file(MAKE_DIRECTORY "${WORK}/server/stats")
run(1 "an undeclared folder" "server/stats/: folder not declared")
file(REMOVE_RECURSE "${WORK}/server/stats")

# A cycle: the lowest layer allowed to include the highest.
file(READ "${WORK}/server/LAYERS" layers)
string(REGEX REPLACE "\nutil:[^\n]*" "\nutil: app" bad "${layers}")
file(WRITE "${WORK}/server/LAYERS" "${bad}")
run(1 "a cycle in server/LAYERS" "not declared above it")
file(WRITE "${WORK}/server/LAYERS" "${layers}")

run(0 "the tree restored" "")
file(REMOVE_RECURSE "${WORK}")
