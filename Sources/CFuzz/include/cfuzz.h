#ifndef CFUZZ_H
#define CFUZZ_H
#include <stddef.h>
#include <stdint.h>

/// One fuzz input: returns 0 (libFuzzer's convention for "keep going").
typedef int (*cf_callback)(const uint8_t *data, size_t size);

/// 1 when the binary was linked with libFuzzer (`make fuzz`), 0 in an ordinary build.
int cf_have_libfuzzer(void);

/// Hands control to libFuzzer's driver with the given arguments (its own flags and corpus folders).
/// Only valid when `cf_have_libfuzzer()` is 1.
int cf_run_driver(int *argc, char ***argv, cf_callback callback);

#endif
