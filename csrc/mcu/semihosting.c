/* Arm semihosting ("Semihosting for AArch32 and AArch64", Arm IHI 0094): on M-profile the call is
 * BKPT 0xAB with the operation in r0 and its argument in r1. */
#include "semihosting.h"

#include <stdint.h>

enum {
  kSysWrite0 = 0x04,       /* r1: a NUL-terminated string */
  kSysExitExtended = 0x20, /* r1: {reason, status}: the status reaches the host */
  kAdpStoppedApplicationExit = 0x20026,
};

static uintptr_t semihost_call(uintptr_t op, const void* arg) {
  register uintptr_t r0 __asm("r0") = op;
  register const void* r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void fdal_semihost_write0(const char* text) { semihost_call(kSysWrite0, text); }

void fdal_semihost_exit(int status) {
  const uintptr_t block[2] = {kAdpStoppedApplicationExit, (uintptr_t)status};
  semihost_call(kSysExitExtended, block);
  for (;;) {
  }
}
