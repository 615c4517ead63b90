/* Fuzzes the LoRWeB config.yaml reader (libyaml underneath): errors, never crashes. */
#include "fuzz_common.h"
#include "lorweb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct lorweb_config cfg;
    struct lw_error      err = {0};
    lorweb_config_read(fuzz_file(data, size, ".yaml"), &cfg, &err);
    return 0;
}
