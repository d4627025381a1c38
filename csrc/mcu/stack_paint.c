/* Stack high-water mark: fill the free stack with a pattern at reset; the lowest word that no
 * longer holds it is the deepest the stack went. */
#include <stdint.h>

#include "memory_usage.h"

extern uint32_t __stack_limit[], __stack_top[];

static const uint32_t kPaint = 0xC5A5C5A5u;

__attribute__((noinline)) void fdal_mcu_paint_stack(void) {
  uint32_t* sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  /* Stop short of this function's own frame. */
  for (uint32_t* p = __stack_limit; p < sp - 16; ++p) *p = kPaint;
}

size_t fdal_mcu_stack_high_water(void) {
  const uint32_t* p = __stack_limit;
  while (p < __stack_top && *p == kPaint) ++p;
  return (size_t)((const char*)__stack_top - (const char*)p);
}

size_t fdal_mcu_stack_size(void) { return (size_t)((char*)__stack_top - (char*)__stack_limit); }
