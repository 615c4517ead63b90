/* Small test harness shared by every test program (style.md §4.8).
 *
 * - A fixed-seed generator whose seed is printed, so failures reproduce.
 * - th_check_close: pass when |got - want| <= atol OR |got - want| <= rtol * |want|, element-wise;
 *   on failure prints the first mismatches and the maximum error.
 * - th_rel_l2: ‖got − want‖ / ‖want‖ for block and model tests.
 * - Tests that need Vulkan call th_device_or_skip(), which exits 77 (meson's SKIP) when none exists.
 * - A test program counts its checks and returns th_finish(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cmp_device;

struct th_rng {
    uint64_t state;
};
void     th_rng_seed(struct th_rng *rng, uint64_t seed);
uint32_t th_rng_u32(struct th_rng *rng);
float    th_rng_uniform(struct th_rng *rng, float lo, float hi); /* [lo, hi) */
float    th_rng_normal(struct th_rng *rng);
void     th_fill_uniform(struct th_rng *rng, float *x, size_t n, float lo, float hi);
void     th_fill_normal(struct th_rng *rng, float *x, size_t n, float stddev);

/* Rounds through the storage type, for fp16/bf16 reference paths. */
float    th_round_f16(float x);
float    th_round_bf16(float x);
uint16_t th_f32_to_f16(float x);
float    th_f16_to_f32(uint16_t h);
uint16_t th_f32_to_bf16(float x); /* round to nearest even */
float    th_bf16_to_f32(uint16_t h);

/* Records one named check. Returns `ok`. */
bool th_check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool th_check_close(const char *what, const float *got, const float *want, size_t n, double atol,
                    double rtol);
double th_rel_l2(const float *got, const float *want, size_t n);
double th_max_abs_diff(const float *got, const float *want, size_t n);

/* An 8-bit RGB test image (w·h·3 bytes, malloc'd) from the formula tools/pil-reference.py evaluates,
 * so its Pillow results can be committed as hashes. */
uint8_t *th_pil_image(int w, int h, int salt);

/* Fills with a NaN pattern so an element the kernel never wrote fails the comparison. */
void th_poison(float *x, size_t n);

/* Creates the default device or exits 77 with a message when no Vulkan device exists. */
struct cmp_device *th_device_or_skip(void);

/* Exit helpers: prints "test: N checks, M failed" and returns the process status. */
int th_finish(void);
void th_skip(const char *why) __attribute__((noreturn));

/* Reads an environment path under ../shared/fixtures (LORWEB_FIXTURES overrides); NULL if absent. */
const char *th_fixtures_dir(void);
