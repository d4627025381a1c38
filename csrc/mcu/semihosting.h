/* The two Arm semihosting calls the firmware makes without newlib: write a string to the host's
 * console and end the run with an exit status (QEMU exits with it). */
#ifndef FDAL_MCU_SEMIHOSTING_H
#define FDAL_MCU_SEMIHOSTING_H

#ifdef __cplusplus
extern "C" {
#endif

void fdal_semihost_write0(const char* text);
void fdal_semihost_exit(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif
