/* Unicode facts for the CLIP tokenizer (generated tables, see tools/gen-unicode-tables.py). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct uni_range {
    uint32_t first, last;
};
struct uni_map {
    uint32_t from, to;
};
struct uni_compose {
    uint32_t base, mark, composed;
};

extern const struct uni_range   uni_letters[], uni_numbers[], uni_spaces[];
extern const struct uni_map     uni_lower[];
extern const struct uni_compose uni_compose[];
extern const unsigned uni_letters_count, uni_numbers_count, uni_spaces_count, uni_lower_count,
    uni_compose_count;
