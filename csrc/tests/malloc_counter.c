/* LD_PRELOAD allocation counter (glibc, native builds only): counts every malloc, calloc, realloc
 * and aligned allocation of the process (including libc's and libstdc++'s own) and writes the
 * count to $FDAL_ALLOC_COUNT_FILE at exit. Used by alloc_check.cmake to show that fdal-rank's
 * allocation count does not depend on the pool size or the chunk size. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static unsigned long long allocations;

void* malloc(size_t n) { ++allocations; return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { ++allocations; return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { ++allocations; return __libc_realloc(p, n); }
void* memalign(size_t a, size_t n) { ++allocations; return __libc_memalign(a, n); }
void* aligned_alloc(size_t a, size_t n) { ++allocations; return __libc_memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) {
  ++allocations;
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12; /* ENOMEM */
}

__attribute__((destructor)) static void write_count(void) {
  const char* path = getenv("FDAL_ALLOC_COUNT_FILE");
  if (path == NULL) return;
  char text[32];
  const int len = snprintf(text, sizeof(text), "%llu\n", allocations);
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  if (write(fd, text, (size_t)len) != len) { /* nothing to do: the check will fail on a bad count */ }
  close(fd);
}
