/* newlib's malloc grows its heap through _sbrk: here it takes the RAM between the end of .bss and
 * the stack (the linker script's __heap_start..__heap_end) and no more, and keeps the high-water
 * mark (memory_usage.h). Replaces rdimon's _sbrk, which stops only at the live stack pointer. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "memory_usage.h"

extern char __heap_start[], __heap_end[];

static char* heap_break;
static char* heap_high;

void* _sbrk(ptrdiff_t increment) {
  if (heap_break == NULL) heap_break = heap_high = __heap_start;
  if (increment > __heap_end - heap_break || increment < __heap_start - heap_break) {
    errno = ENOMEM;
    return (void*)-1;
  }
  char* const previous = heap_break;
  heap_break += increment;
  if (heap_break > heap_high) heap_high = heap_break;
  return previous;
}

size_t fdal_mcu_heap_high_water(void) { return heap_high == NULL ? 0 : (size_t)(heap_high - __heap_start); }

size_t fdal_mcu_heap_size(void) { return (size_t)(__heap_end - __heap_start); }
