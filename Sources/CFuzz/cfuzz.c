#include "cfuzz.h"

// libFuzzer's entry for programs with their own main (libclang_rt.fuzzer_no_main). Weak, so an
// ordinary build links without libFuzzer and only the replay and mutation modes are available.
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t)) __attribute__((weak));

int cf_have_libfuzzer(void) { return LLVMFuzzerRunDriver != 0; }

int cf_run_driver(int *argc, char ***argv, cf_callback callback) {
    return LLVMFuzzerRunDriver(argc, argv, callback);
}
