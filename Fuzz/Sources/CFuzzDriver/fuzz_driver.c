// Declarations only: libFuzzer (linked by -sanitize=fuzzer) defines the driver.
#include "fuzz_driver.h"
