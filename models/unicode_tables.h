/* Unicode and text-cleaning facts for the CLIP tokenizer (generated tables, see
 * tools/gen-unicode-tables.py). Every table is sorted by its first field for binary search. */
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
    uint32_t a, b, c; /* uni_compose: a + b → c; uni_decompose: a → b + c */
};
struct uni_class {
    uint32_t first, last, ccc; /* canonical combining class of first..last */
};
struct uni_pair16 {
    uint16_t a, b; /* up to two code points, 0 = none */
};
struct uni_entity {
    const char *name;     /* without '&' and ';' */
    uint32_t    value[2]; /* its one or two characters (0: none) */
    uint32_t    upper[2]; /* what ftfy decodes the upper-cased name to (0: it does not) */
    bool        legacy;   /* html.unescape also decodes it without the ';' */
};

extern const struct uni_range uni_letters[], uni_numbers[], uni_spaces[], uni_case_ignorable[],
    uni_cased[];
extern const struct uni_map     uni_lower[], uni_singleton[];
extern const struct uni_compose uni_compose[], uni_decompose[];
extern const struct uni_class   uni_combining[];
extern const struct uni_pair16  uni_width[];    /* ftfy's width map for U+FF01 + index */
extern const struct uni_entity  uni_entities[]; /* sorted by name (strcmp) */
extern const unsigned           uni_letters_count, uni_numbers_count, uni_spaces_count,
    uni_case_ignorable_count, uni_cased_count, uni_lower_count, uni_singleton_count,
    uni_compose_count, uni_decompose_count, uni_combining_count, uni_width_count,
    uni_entities_count;
