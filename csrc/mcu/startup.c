/* Vector table and reset handler of the fdal firmware on a Cortex-M7 (mps2-an500 under QEMU, or
 * a board whose linker script defines the same symbols, csrc/mcu/mps2_an500.ld.in). */
#include <stdint.h>
#include <stdlib.h>

#include "memory_usage.h"
#include "semihosting.h"

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start__[], __bss_end__[];
extern uint32_t __stack_top[];

int main(void);
void initialise_monitor_handles(void); /* newlib rdimon: opens stdin/stdout/stderr on the host */
void __libc_init_array(void);          /* newlib: runs the C++ static constructors */

void Reset_Handler(void) __attribute__((noreturn));
static void fault_handler(void) __attribute__((noreturn));

typedef void (*vector_fn)(void);

/* Entries 0-15 of ARMv7-M: initial SP, reset, NMI, HardFault, MemManage, BusFault, UsageFault.
 * The firmware enables no interrupt, so every other exception is a fault too. */
__attribute__((section(".isr_vector"), used)) static const vector_fn vectors[16] = {
    (vector_fn)(uintptr_t)__stack_top, Reset_Handler, fault_handler, fault_handler,
    fault_handler, fault_handler, fault_handler, 0, 0, 0, 0,
    fault_handler, fault_handler, 0, fault_handler, fault_handler,
};

/* What crti/crtn and crtbegin would give (-nostartfiles): __libc_init_array and exit call
 * _init and _fini; __cxa_atexit registers static destructors under __dso_handle. */
void _init(void) {}
void _fini(void) {}
void* __dso_handle = &__dso_handle;

void Reset_Handler(void) {
  /* The FPU is off at reset: full access to CP10/CP11 before any floating-point instruction. */
  volatile uint32_t* const cpacr = (volatile uint32_t*)0xE000ED88u;
  *cpacr |= 0xFu << 20;
  __asm volatile("dsb\n\tisb" ::: "memory");

  for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t* dst = __bss_start__; dst < __bss_end__;) *dst++ = 0;
  fdal_mcu_paint_stack();

  initialise_monitor_handles();
  __libc_init_array();
  exit(main()); /* flushes stdout; newlib's _exit ends the run through semihosting */
}

/* A fault has no caller to return an error to: say so on the host and stop with a failure. */
static void fault_handler(void) {
  fdal_semihost_write0("fdal-mcu: CPU fault (HardFault, BusFault, UsageFault or MemManage)\n");
  fdal_semihost_exit(1);
}
