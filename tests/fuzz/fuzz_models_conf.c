/* Fuzzes the models.conf parser (hand-written INI reader): errors, never crashes; and the LoRWeB
 * key mapper on the same bytes as a key. */
#include <stdint.h>
#include <string.h>

#include "discover.h"
#include "names_flux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct md_conf conf;
    struct lw_error       err = {0};
    md_conf_parse((const char *)data, size, "fuzz.conf", &conf, &err);
    char   key[512];
    size_t n = size < sizeof key - 1 ? size : sizeof key - 1;
    memcpy(key, data, n);
    key[n] = 0;
    struct wt_lorweb_target t;
    wt_lorweb_target(key, 3072, &t, &err);
    char names[WT_MAX_PARTS][WT_NAME_MAX];
    bool swap;
    wt_flux_diffusers_names(key, names, &swap);
    return 0;
}
