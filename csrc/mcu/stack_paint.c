/* Stack high-water mark: at reset, fill all free RAM (the empty heap and the stack) with a
 * pattern; the deepest word the stack wrote is then the lowest one that no longer holds it above
 * the heap's high-water mark. That also sees a stack that ran past its limit into free heap. */
#include <stdint.h>

#include "memory_usage.h"

extern uint32_t __heap_start[], __stack_limit[], __stack_top[];

static const uint32_t kPaint = 0xC5A5C5A5u;

__attribute__((noinline)) void fdal_mcu_paint_stack(void) {
  uint32_t* sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  /* Stop short of this function's own frame. */
  for (uint32_t* p = __heap_start; p < sp - 16; ++p) *p = kPaint;
}

size_t fdal_mcu_stack_high_water(void) {
  const uintptr_t heap_top = (uintptr_t)__heap_start + fdal_mcu_heap_high_water();
  const uint32_t* p = (const uint32_t*)((heap_top + 3) & ~(uintptr_t)3);
  while (p < __stack_top && *p == kPaint) ++p;
  return (size_t)((const char*)__stack_top - (const char*)p);
}

size_t fdal_mcu_stack_size(void) { return (size_t)((char*)__stack_top - (char*)__stack_limit); }
