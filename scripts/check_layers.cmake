# check_layers.cmake — the include rule of server/ (docs/DESIGN.md, "Layers
# and hooks"): every file of server/ lives in a folder that server/LAYERS
# declares, LAYERS names only folders declared above each one (so the arrows
# cannot form a cycle), and every `#include "server/<folder>/..."` names the
# file's own folder or one that LAYERS lets it include.
#   cmake -DROOT=<source tree> -P scripts/check_layers.cmake
# Exits non-zero, listing every violation, when the rule is broken. The build
# runs it before compiling the server (target skv_check_layers), and ctest
# runs it and proves it catches violations (tests/tools/check_layers_test.cmake).
# A CMake script, not Python: every machine that builds has CMake.
cmake_minimum_required(VERSION 3.25)
if(NOT ROOT)
    message(FATAL_ERROR "check_layers: pass -DROOT=<source tree>")
endif()
set(server "${ROOT}/server")
set(errors "")
if(NOT EXISTS "${server}/LAYERS")
    message(FATAL_ERROR "check_layers: ${server}/LAYERS is missing")
endif()

# server/LAYERS: "folder: allowed folders...", lowest layer first.
file(STRINGS "${server}/LAYERS" lines)
set(declared "")
foreach(line IN LISTS lines)
    string(REGEX REPLACE "#.*$" "" line "${line}")
    string(STRIP "${line}" line)
    if(line STREQUAL "")
        continue()
    endif()
    if(NOT line MATCHES "^([a-z_]+):(.*)$")
        list(APPEND errors "server/LAYERS: expected 'folder: folders...', got '${line}'")
        continue()
    endif()
    set(name "${CMAKE_MATCH_1}")
    separate_arguments(deps UNIX_COMMAND "${CMAKE_MATCH_2}")
    if(name IN_LIST declared)
        list(APPEND errors "server/LAYERS: ${name} is declared twice")
    endif()
    foreach(d IN LISTS deps)
        # Only folders declared above: this is what rules out cycles.
        if(NOT d IN_LIST declared)
            list(APPEND errors "server/LAYERS: ${name} may include ${d}, which is not declared above it (a cycle, or no such folder)")
        endif()
    endforeach()
    list(APPEND declared "${name}")
    set(allow_${name} "${deps}")
endforeach()

# Nothing loose in server/, no undeclared folder.
file(GLOB entries RELATIVE "${server}" "${server}/*")
foreach(e IN LISTS entries)
    if(IS_DIRECTORY "${server}/${e}")
        if(NOT e IN_LIST declared)
            list(APPEND errors "server/${e}/: folder not declared in server/LAYERS")
        endif()
    elseif(NOT e STREQUAL "LAYERS")
        list(APPEND errors "server/${e}: file outside a layer folder (move it into the folder of its layer, server/LAYERS)")
    endif()
endforeach()

# Every include of a server header follows an arrow.
foreach(folder IN LISTS declared)
    file(GLOB_RECURSE files RELATIVE "${ROOT}" "${server}/${folder}/*.c" "${server}/${folder}/*.h")
    foreach(f IN LISTS files)
        file(STRINGS "${ROOT}/${f}" incs REGEX "^[ \t]*#[ \t]*include[ \t]*\"server/")
        foreach(inc IN LISTS incs)
            if(NOT inc MATCHES "\"server/([^\"]+)\"")
                continue()
            endif()
            set(target "${CMAKE_MATCH_1}")
            if(NOT target MATCHES "^([^/]+)/")
                list(APPEND errors "${f}: includes server/${target}, which is outside a layer folder")
                continue()
            endif()
            set(tf "${CMAKE_MATCH_1}")
            if(NOT tf STREQUAL folder AND NOT tf IN_LIST allow_${folder})
                list(APPEND errors "${f}: ${folder}/ may not include server/${target} (${folder} -> ${tf} is not an arrow in server/LAYERS)")
            endif()
        endforeach()
    endforeach()
endforeach()

if(errors)
    list(LENGTH errors n)
    list(JOIN errors "\n  " text)
    message(FATAL_ERROR "check_layers: ${n} violation(s) of server/LAYERS:\n  ${text}\n")
endif()
message(STATUS "check_layers: server/ follows server/LAYERS")
