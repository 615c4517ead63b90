/* LoRWeB mixing coefficients (spec-lorweb.md §1.5; the reference is LoRWeB's `attlora_forward`,
 * computed here in double then stored as f32). config.yaml reading is lorweb_config.c. */
#include "lorweb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum lw_status lorweb_coeffs(const struct lorweb_config *cfg, const float *projection,
                             const float *keys, int64_t n, int64_t k, int64_t q, const float *query,
                             float *coeffs, struct lw_error *err) {
    int64_t h = cfg->heads, dh = h ? k / h : 0;
    if (h <= 0 || k % h || n <= 0 || (!cfg->project && q != k))
        return lw_error_set(err, LW_ERR_SHAPE, "LoRWeB mixing: K %lld, Q %lld, %lld heads, N %lld",
                            (long long)k, (long long)q, (long long)h, (long long)n);
    double *qv = malloc((size_t)(k + n) * sizeof *qv), *logits = qv ? qv + k : NULL;
    if (!qv) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    for (int64_t j = 0; j < k; j++) {
        double s = 0;
        if (cfg->project)
            for (int64_t i = 0; i < q; i++) s += (double)projection[j * q + i] * query[i];
        else s = query[j];
        qv[j] = s;
    }
    for (int64_t i = 0; i < n; i++) coeffs[i] = 0;
    for (int64_t head = 0; head < h; head++) {
        double top = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int64_t j = head * dh; j < (head + 1) * dh; j++) s += qv[j] * keys[i * k + j];
            logits[i] = s / sqrt((double)dh);
            if (logits[i] > top) top = logits[i];
        }
        if (cfg->softmax) {
            for (int64_t i = 0; i < n; i++) sum += logits[i] = exp(logits[i] - top);
            for (int64_t i = 0; i < n; i++) logits[i] /= sum;
        } else {
            for (int64_t i = 0; i < n; i++) logits[i] = tanh(logits[i]);
        }
        for (int64_t i = 0; i < n; i++) coeffs[i] += (float)(cfg->mean ? logits[i] / (double)h : logits[i]);
    }
    if (!cfg->mean) /* clamped sum: [0, 1] under softmax, [−1, 1] under tanh */
        for (int64_t i = 0; i < n; i++) {
            float lo = cfg->softmax ? 0.0f : -1.0f;
            coeffs[i] = coeffs[i] < lo ? lo : coeffs[i] > 1 ? 1 : coeffs[i];
        }
    free(qv);
    return LW_OK;
}
