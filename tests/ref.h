/* Plain-C CPU references for every kernel (style.md §4.8, llm.c style). Double accumulation where it
 * is cheap. Shapes use the model files' letters: M rows (tokens), K inputs, N outputs. */
#pragma once

#include <stddef.h>
#include <stdint.h>
