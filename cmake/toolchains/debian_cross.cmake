# Shared tail of the Debian cross toolchain files: the caller sets FDAL_CROSS_TRIPLE (the
# g++-<triple> package's prefix, also its sysroot under /usr), FDAL_CROSS_QEMU (the qemu-user
# binary) and the FDAL_QEMU_CPU cache entry, plus CMAKE_SYSTEM_PROCESSOR and any *_FLAGS_INIT.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${FDAL_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${FDAL_CROSS_TRIPLE}-g++)
set(CMAKE_FIND_ROOT_PATH /usr/${FDAL_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# -L: the target's libc for dynamically linked binaries (tools and tests link statically by default).
set(CMAKE_CROSSCOMPILING_EMULATOR ${FDAL_CROSS_QEMU} -cpu ${FDAL_QEMU_CPU} -L /usr/${FDAL_CROSS_TRIPLE})
