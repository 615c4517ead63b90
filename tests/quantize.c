/* A plain CPU quantiser for the ggml block types and a GGUF writer, for tests and fuzz seeds (see
 * quantize.h). The quantisers are simple (min/max scales, round to nearest), not ggml's
 * error-minimising search: tests only need valid blocks with known codes. */
#include "quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint16_t put_half(uint8_t *p, float v, float *rounded) {
    uint16_t h = lw_f32_to_f16(v);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
    *rounded = lw_f16_to_f32(h);
    return h;
}

static int clampi(long v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : (int)v;
}

static float absmax_signed(const float *x, int n) { /* the value of largest magnitude */
    float m = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > fabsf(m)) m = x[i];
    return m;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    *mn = *mx = x[0];
    for (int i = 1; i < n; i++)
        *mn = fminf(*mn, x[i]), *mx = fmaxf(*mx, x[i]);
}

/* Q4_0 / Q5_0 (bits 4 or 5): symmetric, codes 0 .. 2^bits − 1 around 2^(bits−1). */
static void q_sym(int bits, const float *x, uint8_t *b, float *y) {
    int   half = 1 << (bits - 1);
    float d, m = absmax_signed(x, 32);
    put_half(b, m / (float)-half, &d);
    float id = d ? 1.0f / d : 0;
    int   q[32];
    for (int j = 0; j < 32; j++) {
        q[j] = clampi((long)floorf(x[j] * id + (float)half + 0.5f), 0, 2 * half - 1);
        y[j] = d * (float)(q[j] - half);
    }
    uint8_t *qs = b + (bits == 4 ? 2 : 6);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xF) | (q[j + 16] & 0xF) << 4);
        qh |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    if (bits == 5)
        for (int i = 0; i < 4; i++)
            b[2 + i] = (uint8_t)(qh >> (8 * i));
}

/* Q4_1 / Q5_1: codes 0 .. 2^bits − 1 from the minimum. */
static void q_affine(int bits, const float *x, uint8_t *b, float *y) {
    int   top = (1 << bits) - 1;
    float mn, mx, d, m;
    min_max(x, 32, &mn, &mx);
    put_half(b, (mx - mn) / (float)top, &d);
    put_half(b + 2, mn, &m);
    int q[32];
    for (int j = 0; j < 32; j++) {
        q[j] = d ? clampi(lrintf((x[j] - m) / d), 0, top) : 0;
        y[j] = d * (float)q[j] + m;
    }
    uint8_t *qs = b + (bits == 4 ? 4 : 8);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xF) | (q[j + 16] & 0xF) << 4);
        qh |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    if (bits == 5)
        for (int i = 0; i < 4; i++)
            b[4 + i] = (uint8_t)(qh >> (8 * i));
}

/* Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scale and min codes under two half super-scales. */
static void q_k45(int bits, const float *x, uint8_t *b, float *y) {
    int   top = (1 << bits) - 1;
    float scale[8], minv[8], max_scale = 0, max_min = 0, d, dmin;
    for (int j = 0; j < 8; j++) {
        float mn, mx;
        min_max(x + 32 * j, 32, &mn, &mx);
        mn = fminf(mn, 0); /* the format subtracts a non-negative min */
        scale[j] = (mx - mn) / (float)top;
        minv[j] = -mn;
        max_scale = fmaxf(max_scale, scale[j]);
        max_min = fmaxf(max_min, minv[j]);
    }
    put_half(b, max_scale / 63, &d);
    put_half(b + 2, max_min / 63, &dmin);
    uint8_t *s = b + 4, *qh = bits == 5 ? b + 16 : NULL, *qs = b + (bits == 5 ? 48 : 16);
    memset(s, 0, 12);
    if (qh) memset(qh, 0, 32);
    memset(qs, 0, 128);
    for (int j = 0; j < 8; j++) {
        int sc = d ? clampi(lrintf(scale[j] / d), 0, 63) : 0;
        int mc = dmin ? clampi(lrintf(minv[j] / dmin), 0, 63) : 0;
        if (j < 4) {
            s[j] |= (uint8_t)sc, s[j + 4] |= (uint8_t)mc;
        } else {
            s[j + 4] = (uint8_t)((sc & 0xF) | (mc & 0xF) << 4);
            s[j - 4] |= (uint8_t)((sc >> 4) << 6);
            s[j] |= (uint8_t)((mc >> 4) << 6);
        }
        float es = d * (float)sc, em = dmin * (float)mc;
        int   c = j / 2, hi = j % 2;
        for (int l = 0; l < 32; l++) {
            int q = es ? clampi(lrintf((x[32 * j + l] + em) / es), 0, top) : 0;
            y[32 * j + l] = d * (float)sc * (float)q - dmin * (float)mc;
            uint8_t *dst = &qs[32 * c + l];
            *dst = hi ? (uint8_t)((*dst & 0xF) | (q & 0xF) << 4)
                      : (uint8_t)((*dst & 0xF0) | (q & 0xF));
            if (qh) qh[l] |= (uint8_t)((q >> 4) << (2 * c + hi));
        }
    }
}

/* Q6_K: 16 sub-blocks of 16 with int8 scales under one half super-scale; codes −32 .. 31. */
static void q6_k(const float *x, uint8_t *b, float *y) {
    float scale[16], max_scale = 0, d;
    for (int s = 0; s < 16; s++) {
        scale[s] = fabsf(absmax_signed(x + 16 * s, 16)) / 31;
        max_scale = fmaxf(max_scale, scale[s]);
    }
    memset(b, 0, 208);
    put_half(b + 208, max_scale / 127, &d);
    uint8_t *ql = b, *qh = b + 128;
    int8_t  *sc = (int8_t *)(b + 192);
    for (int s = 0; s < 16; s++)
        sc[s] = (int8_t)(d ? clampi(lrintf(scale[s] / d), -128, 127) : 0);
    for (int e = 0; e < 256; e++) {
        int   h = e / 128, k = e % 128 / 32, l = e % 32, s = e / 16;
        float es = d * (float)sc[s];
        int   q = es ? clampi(lrintf(x[e] / es), -32, 31) : 0, u = q + 32;
        y[e] = d * (float)sc[s] * (float)q;
        uint8_t *dst = &ql[64 * h + l + 32 * (k & 1)];
        *dst |= (uint8_t)(k < 2 ? (u & 0xF) : (u & 0xF) << 4);
        qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * k));
    }
}

void th_quantize(enum lw_dtype dtype, const float *x, size_t n, uint8_t *out, float *approx) {
    const struct lw_dtype_info *info = lw_dtype_info(dtype);
    for (size_t i = 0; i < n / info->block_elems; i++) {
        const float *xb = x + i * info->block_elems;
        uint8_t     *b = out + i * info->block_bytes;
        float       *y = approx + i * info->block_elems;
        switch (dtype) {
        case LW_DTYPE_F32:
            memcpy(b, xb, 4), y[0] = xb[0];
            break;
        case LW_DTYPE_F16:
            put_half(b, xb[0], y);
            break;
        case LW_DTYPE_BF16: {
            uint32_t bits;
            memcpy(&bits, xb, 4);
            bits = (bits + 0x7fffu + ((bits >> 16) & 1)) >> 16;
            b[0] = (uint8_t)bits, b[1] = (uint8_t)(bits >> 8);
            bits <<= 16;
            memcpy(y, &bits, 4);
            break;
        }
        case LW_DTYPE_I32: {
            int32_t v = (int32_t)lrintf(xb[0]);
            memcpy(b, &v, 4), y[0] = (float)v;
            break;
        }
        case LW_DTYPE_I64: {
            int64_t v = (int64_t)lrintf(xb[0]);
            memcpy(b, &v, 8), y[0] = (float)v;
            break;
        }
        case LW_DTYPE_Q8_0: {
            float d, m = fabsf(absmax_signed(xb, 32));
            put_half(b, m / 127, &d);
            for (int j = 0; j < 32; j++) {
                int q = d ? clampi(lrintf(xb[j] / d), -128, 127) : 0;
                b[2 + j] = (uint8_t)(int8_t)q;
                y[j] = d * (float)q;
            }
            break;
        }
        case LW_DTYPE_Q4_0:
            q_sym(4, xb, b, y);
            break;
        case LW_DTYPE_Q5_0:
            q_sym(5, xb, b, y);
            break;
        case LW_DTYPE_Q4_1:
            q_affine(4, xb, b, y);
            break;
        case LW_DTYPE_Q5_1:
            q_affine(5, xb, b, y);
            break;
        case LW_DTYPE_Q4_K:
            q_k45(4, xb, b, y);
            break;
        case LW_DTYPE_Q5_K:
            q_k45(5, xb, b, y);
            break;
        case LW_DTYPE_Q6_K:
            q6_k(xb, b, y);
            break;
        default:
            abort(); /* F8: not a GGUF type */
        }
    }
}

uint32_t th_ggml_type(enum lw_dtype dtype) {
    static const uint32_t ids[LW_DTYPE_COUNT] = {
        [LW_DTYPE_F32] = 0,   [LW_DTYPE_F16] = 1,   [LW_DTYPE_BF16] = 30, [LW_DTYPE_F8_E4M3] = 999,
        [LW_DTYPE_I64] = 27,  [LW_DTYPE_I32] = 26,  [LW_DTYPE_Q8_0] = 8,  [LW_DTYPE_Q4_0] = 2,
        [LW_DTYPE_Q4_1] = 3,  [LW_DTYPE_Q5_0] = 6,  [LW_DTYPE_Q5_1] = 7,  [LW_DTYPE_Q4_K] = 12,
        [LW_DTYPE_Q5_K] = 13, [LW_DTYPE_Q6_K] = 14,
    };
    return ids[dtype];
}

/* ---------------------------------------------------------------------------------------------- */
/* GGUF writing */

void th_buf_put(struct th_buf *b, const void *data, size_t n) {
    if (b->len + n > b->capacity) {
        b->capacity = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->capacity);
        if (!b->p) abort();
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
}

void th_buf_u32(struct th_buf *b, uint32_t v) {
    th_buf_put(b, &v, 4);
}

void th_buf_u64(struct th_buf *b, uint64_t v) {
    th_buf_put(b, &v, 8);
}

void th_buf_str(struct th_buf *b, const char *s) {
    th_buf_u64(b, strlen(s));
    th_buf_put(b, s, strlen(s));
}

void th_gguf_init(struct th_gguf *g, uint32_t version) {
    *g = (struct th_gguf){.version = version, .alignment = 32};
}

void th_gguf_kv(struct th_gguf *g, const char *key, uint32_t type, const void *value,
                size_t bytes) {
    th_buf_str(&g->kv, key);
    th_buf_u32(&g->kv, type);
    th_buf_put(&g->kv, value, bytes);
    g->kv_count++;
}

void th_gguf_kv_u32(struct th_gguf *g, const char *key, uint32_t v) {
    th_gguf_kv(g, key, TH_GGUF_U32, &v, 4);
    if (!strcmp(key, "general.alignment")) g->alignment = v;
}

void th_gguf_kv_str(struct th_gguf *g, const char *key, const char *v) {
    struct th_buf s = {0};
    th_buf_str(&s, v);
    th_gguf_kv(g, key, TH_GGUF_STRING, s.p, s.len);
    free(s.p);
}

void th_gguf_tensor_info(struct th_gguf *g, const char *name, uint32_t ggml_type, int ndim,
                         const int64_t *shape, uint64_t offset) {
    th_buf_str(&g->info, name);
    th_buf_u32(&g->info, (uint32_t)ndim);
    for (int i = ndim - 1; i >= 0; i--)
        th_buf_u64(&g->info, (uint64_t)shape[i]);
    th_buf_u32(&g->info, ggml_type);
    th_buf_u64(&g->info, offset);
    g->tensor_count++;
}

void th_gguf_tensor(struct th_gguf *g, const char *name, uint32_t ggml_type, int ndim,
                    const int64_t *shape, const void *data, size_t bytes) {
    static const uint8_t zeros[256];
    while (g->data.len % g->alignment)
        th_buf_put(&g->data, zeros, 1);
    th_gguf_tensor_info(g, name, ggml_type, ndim, shape, g->data.len);
    th_buf_put(&g->data, data, bytes);
}

uint8_t *th_gguf_finish(struct th_gguf *g, size_t *len) {
    struct th_buf out = {0};
    th_buf_put(&out, "GGUF", 4);
    th_buf_u32(&out, g->version);
    th_buf_u64(&out, g->tensor_count);
    th_buf_u64(&out, g->kv_count);
    th_buf_put(&out, g->kv.p, g->kv.len);
    th_buf_put(&out, g->info.p, g->info.len);
    static const uint8_t zero = 0;
    while (out.len % g->alignment)
        th_buf_put(&out, &zero, 1);
    th_buf_put(&out, g->data.p, g->data.len);
    free(g->kv.p), free(g->info.p), free(g->data.p);
    *g = (struct th_gguf){0};
    *len = out.len;
    return out.p;
}

bool th_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0) && ok;
}
