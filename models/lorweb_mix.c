/* LoRWeB mixing coefficients and user controls (lorweb_mix.h). The coefficient math mirrors
 * LoRWeB's `attlora_forward` (NVlabs LoRWeB, toolkit/network_mixins.py @ 24aa736): the projected
 * query attends over the N basis keys with the N×N identity as values, so the attention weights
 * themselves are the coefficients. */
#include "lorweb_mix.h"

#include <math.h>
#include <stdlib.h>

enum lw_status mix_coeffs(const struct lorweb_config *cfg, const float *projection,
                          const float *keys, int64_t n, int64_t k, int64_t q, const float *query,
                          float *coeffs, struct lw_error *err) {
    int64_t h = cfg->heads, d = h > 0 ? k / h : 0; /* H heads of d = K/H components */
    if (h <= 0 || n <= 0 || k <= 0 || q <= 0 || k % h || (!cfg->project && q != k) ||
        (cfg->project && !projection))
        return lw_error_set(err, LW_ERR_SHAPE,
                            "LoRWeB mixing: N %lld, K %lld, Q %lld, %lld heads, projection %s "
                            "(H must divide K; without projection Q must equal K)",
                            (long long)n, (long long)k, (long long)q, (long long)h,
                            cfg->project ? "linear" : "none");
    /* (K) projected query, (N) weights of one head, (N) sum over heads */
    double *qv = malloc((size_t)(k + 2 * n) * sizeof *qv);
    if (!qv) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    double *w = qv + k, *acc = w + n;
    for (int64_t j = 0; j < k; j++) {
        double s = 0;
        if (cfg->project)
            for (int64_t i = 0; i < q; i++)
                s += (double)projection[j * q + i] * query[i];
        else
            s = query[j];
        qv[j] = s;
    }
    double scale = 1 / sqrt((double)d);
    for (int64_t i = 0; i < n; i++)
        acc[i] = 0;
    for (int64_t head = 0; head < h; head++) {
        double top = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int64_t j = head * d; j < (head + 1) * d; j++)
                s += qv[j] * keys[i * k + j];
            w[i] = s * scale;
            if (w[i] > top) top = w[i];
        }
        if (cfg->softmax) { /* shifted by the maximum, as every softmax kernel does */
            for (int64_t i = 0; i < n; i++)
                sum += w[i] = exp(w[i] - top);
            for (int64_t i = 0; i < n; i++)
                w[i] /= sum;
        } else {
            for (int64_t i = 0; i < n; i++)
                w[i] = tanh(w[i]);
        }
        for (int64_t i = 0; i < n; i++)
            acc[i] += w[i];
    }
    double lo = cfg->softmax ? 0 : -1; /* the clamp of the `sum` reduction */
    for (int64_t i = 0; i < n; i++)
        coeffs[i] = (float)(cfg->mean ? acc[i] / (double)h : fmin(fmax(acc[i], lo), 1));
    free(qv);
    return LW_OK;
}

enum lw_status mix_blend(const float *c0, const float *c1, int64_t n, float ratio, float *out,
                         struct lw_error *err) {
    if (!(ratio >= 0 && ratio <= 1))
        return lw_error_set(err, LW_ERR_ARGUMENT, "analogy blend ratio %g outside [0, 1]", ratio);
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)((1.0 - ratio) * c0[i] + (double)ratio * c1[i]);
    return LW_OK;
}

static float clampf(float x, float lo, float hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

enum lw_status mix_controls_apply(const struct lorweb_config *cfg, const struct mix_controls *ctl,
                                  float *c, int64_t n, struct lw_error *err) {
    if (!(ctl->strength >= 0) || !isfinite(ctl->strength))
        return lw_error_set(err, LW_ERR_ARGUMENT, "LoRWeB strength %g (must be finite and ≥ 0)",
                            ctl->strength);
    for (int64_t i = 0; i < n; i++) {
        bool set = ctl->override_set && ctl->override && ctl->override_set[i];
        if ((ctl->bias && !isfinite(ctl->bias[i])) || (set && !isfinite(ctl->override[i])))
            return lw_error_set(
                err, LW_ERR_ARGUMENT, "basis element %lld: bias %g, override %g (not finite)",
                (long long)i, ctl->bias ? ctl->bias[i] : 0.0, set ? ctl->override[i] : 0.0);
    }
    if (!cfg->softmax) {
        for (int64_t i = 0; i < n; i++) {
            bool  set = ctl->override_set && ctl->override && ctl->override_set[i];
            float v = set ? ctl->override[i] : c[i] + (ctl->bias ? ctl->bias[i] : 0.0f);
            c[i] = clampf(v, -1, 1) * ctl->strength;
        }
        return LW_OK;
    }
    double total = 0, fixed = 0, free_sum = 0; /* T, O, F of the rule in the header */
    for (int64_t i = 0; i < n; i++) {
        total += c[i];
        bool set = ctl->override_set && ctl->override && ctl->override_set[i];
        c[i] = fmaxf(set ? ctl->override[i] : c[i] + (ctl->bias ? ctl->bias[i] : 0.0f), 0.0f);
        if (set)
            fixed += c[i];
        else
            free_sum += c[i];
    }
    double rescale = fixed >= total ? 0 : free_sum > 0 ? (total - fixed) / free_sum : 1;
    for (int64_t i = 0; i < n; i++) {
        bool  set = ctl->override_set && ctl->override && ctl->override_set[i];
        float v = set ? c[i] : (float)(c[i] * rescale);
        c[i] = clampf(v, 0, 1) * ctl->strength;
    }
    return LW_OK;
}

void mix_mean(const float *coeffs, int64_t modules, int64_t n, float *mean) {
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t m = 0; m < modules; m++)
            s += coeffs[m * n + i];
        mean[i] = modules > 0 ? (float)(s / (double)modules) : 0.0f;
    }
}
