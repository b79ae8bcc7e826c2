#ifndef CFUZZ_H
#define CFUZZ_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver for programs that keep their own main (in libclang_rt.fuzzer, linked by
/// `-sanitize=fuzzer` in the `make fuzz` build only; an ordinary build never calls it).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
