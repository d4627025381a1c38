/* RAM the firmware used, measured while it runs: the heap's high-water mark (csrc/mcu/heap.c) and
 * the stack's, found by painting the stack at reset and looking for the deepest overwritten word. */
#ifndef FDAL_MCU_MEMORY_USAGE_H
#define FDAL_MCU_MEMORY_USAGE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void fdal_mcu_paint_stack(void);        /* at reset, before the heap or much stack is used */
size_t fdal_mcu_stack_high_water(void); /* bytes of stack ever used since the paint; over
                                           fdal_mcu_stack_size(): it overflowed into free heap */
size_t fdal_mcu_stack_size(void);
size_t fdal_mcu_heap_high_water(void);  /* bytes the heap took from the linker's free RAM */
size_t fdal_mcu_heap_size(void);

#ifdef __cplusplus
}
#endif

#endif
