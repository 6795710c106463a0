#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver, for targets whose `main` SwiftPM renames (testable executables):
// each target's renamed main calls it with its one-input function.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*one_input)(const uint8_t *data, size_t size));
