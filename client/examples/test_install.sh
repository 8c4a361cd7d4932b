#!/bin/sh
# test_install.sh BUILD_DIR EXAMPLES_DIR [SANITIZERS] — ctest
# client_example_pkgconfig: install the "client" component into a temporary
# prefix, compile example.c against it with pkg-config only (shared and
# static), and run it against a real redis-server on a free loopback port
# when one is installed. The prefix and the server are always removed.
set -eu
build=$1
examples=$2
sanitize=${3:-}
tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cmake --install "$build" --prefix "$tmp/prefix" --component client >/dev/null
libdir=$(ls -d "$tmp/prefix"/lib* | head -n1)
test -f "$tmp/prefix/include/shardkv.h"
test -f "$libdir/pkgconfig/shardkv.pc"
test -f "$libdir/cmake/shardkv/shardkvConfig.cmake"
test -x "$tmp/prefix/bin/shardkv-cli"
test -x "$tmp/prefix/bin/shardkv-bench"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
extra=
if [ -n "$sanitize" ]; then extra="-fsanitize=$sanitize"; fi
# Shared library (the default when both are installed).
cc $extra -Wall -Werror "$examples/example.c" $(pkg-config --cflags --libs shardkv) \
   -Wl,-rpath,"$libdir" -o "$tmp/example"
# Static library, with its private dependencies.
cc $extra -Wall -Werror "$examples/example.c" $(pkg-config --cflags shardkv) \
   "$libdir/libshardkv.a" $(pkg-config --libs-only-other --libs --static shardkv | sed 's/-lshardkv//') \
   -o "$tmp/example-static"
echo "example compiled and linked against the installed package (shared and static)"

# The CMake package: find_package(shardkv) and link shardkv::shardkv.
mkdir "$tmp/cmake-consumer"
cat >"$tmp/cmake-consumer/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(shardkv 0.1 REQUIRED)
add_executable(example "$examples/example.c")
target_link_libraries(example shardkv::shardkv)
if(NOT "$sanitize" STREQUAL "")
    target_compile_options(example PRIVATE -fsanitize=$sanitize)
    target_link_options(example PRIVATE -fsanitize=$sanitize)
endif()
CMAKE
cmake -S "$tmp/cmake-consumer" -B "$tmp/cmake-consumer/build" \
      -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; exit 1; }
cmake --build "$tmp/cmake-consumer/build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; exit 1; }
echo "example built with find_package(shardkv)"

if command -v redis-server >/dev/null 2>&1; then
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
    server_pid=$!
    i=0
    until "$tmp/example" 127.0.0.1 "$port" >"$tmp/out" 2>&1; do
        i=$((i + 1))
        if [ $i -gt 50 ]; then cat "$tmp/out"; echo "example never succeeded"; exit 1; fi
        sleep 0.1
    done
    expected='greeting = hello
counter = 5
counter = 10
counter = 15'
    if [ "$(cat "$tmp/out")" != "$expected" ]; then
        echo "unexpected output:"; cat "$tmp/out"; exit 1
    fi
    "$tmp/example-static" 127.0.0.1 "$port" >/dev/null
    echo "example ran against redis-server: ok"
else
    echo "redis-server not installed: example compiled and linked, not run"
fi
