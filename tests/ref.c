/* CPU references declared in ref.h: the definitions written out plainly, in double. */
#include "ref.h"

#include <math.h>
#include <stdlib.h>

double ref_act(double x, int act) {
    switch (act) {
    case 1: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case 2: return 0.5 * x * (1 + erf(x / sqrt(2)));
    case 3: return x / (1 + exp(-1.702 * x));
    case 4: return x / (1 + exp(-x));
    default: return x;
    }
}

void ref_matmul(const float *x, const float *w, const float *b, const float *g, float *y, int m,
                int n, int k, int act, int mode) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = b ? b[j] : 0;
            for (int t = 0; t < k; t++) s += (double)x[i * k + t] * w[j * k + t];
            s = ref_act(s, act);
            float *out = &y[i * n + j];
            if (mode == 1) *out = (float)(*out + (g ? g[j] : 1.0) * s);
            else if (mode == 2) *out = (float)(*out * s);
            else *out = (float)s;
        }
}

void ref_norm(const float *x, const float *w, const float *b, const float *shift,
              const float *scale, float *y, int rows, int cols, float eps, bool rms) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        double       mean = 0, var = 0;
        if (!rms) {
            for (int c = 0; c < cols; c++) mean += xr[c];
            mean /= cols;
        }
        for (int c = 0; c < cols; c++) var += (xr[c] - mean) * (xr[c] - mean);
        double inv = 1 / sqrt(var / cols + eps);
        for (int c = 0; c < cols; c++) {
            double v = (xr[c] - mean) * inv;
            if (w) v *= w[c];
            if (b) v += b[c];
            if (scale) v *= 1 + scale[c];
            if (shift) v += shift[c];
            y[(size_t)r * cols + c] = (float)v;
        }
    }
}

void ref_attention(const float *q, const float *k, const float *v, const float *bias, float *out,
                   int mq, int mk, int h, int d, float scale, bool causal) {
    double *p = malloc((size_t)mk * sizeof *p);
    for (int hh = 0; hh < h; hh++)
        for (int i = 0; i < mq; i++) {
            double top = -INFINITY, sum = 0;
            int    last = causal ? (i + 1 < mk ? i + 1 : mk) : mk;
            for (int j = 0; j < last; j++) {
                double s = 0;
                for (int t = 0; t < d; t++) s += (double)q[i * h * d + hh * d + t] * k[j * h * d + hh * d + t];
                s *= scale;
                if (bias) s += bias[((size_t)hh * mq + i) * mk + j];
                p[j] = s;
                if (s > top) top = s;
            }
            for (int j = 0; j < last; j++) sum += p[j] = exp(p[j] - top);
            for (int t = 0; t < d; t++) {
                double acc = 0;
                for (int j = 0; j < last; j++) acc += p[j] * v[j * h * d + hh * d + t];
                out[i * h * d + hh * d + t] = (float)(acc / sum);
            }
        }
    free(p);
}

void ref_qk_norm_rope(float *x, const float *scale, const float *rope, int tokens, int h, int d,
                      float eps) {
    for (int t = 0; t < tokens; t++)
        for (int hh = 0; hh < h; hh++) {
            float *v = x + (size_t)t * h * d + hh * d;
            if (scale) {
                double ss = 0;
                for (int i = 0; i < d; i++) ss += (double)v[i] * v[i];
                double inv = 1 / sqrt(ss / d + eps);
                for (int i = 0; i < d; i++) v[i] = (float)(v[i] * inv * scale[i]);
            }
            if (rope)
                for (int i = 0; i < d / 2; i++) {
                    const float *r = rope + ((size_t)t * (d / 2) + i) * 4;
                    double       x0 = v[2 * i], x1 = v[2 * i + 1];
                    v[2 * i] = (float)(r[0] * x0 + r[1] * x1);
                    v[2 * i + 1] = (float)(r[2] * x0 + r[3] * x1);
                }
        }
}

void ref_group_norm(const float *x, const float *gamma, const float *beta, float *y, int c, int hw,
                    int groups, float eps, bool silu) {
    int per = c / groups;
    for (int g = 0; g < groups; g++) {
        const float *xg = x + (size_t)g * per * hw;
        double       mean = 0, var = 0;
        for (int i = 0; i < per * hw; i++) mean += xg[i];
        mean /= per * hw;
        for (int i = 0; i < per * hw; i++) var += (xg[i] - mean) * (xg[i] - mean);
        double inv = 1 / sqrt(var / (per * hw) + eps);
        for (int i = 0; i < per * hw; i++) {
            int    ch = g * per + i / hw;
            double v = (xg[i] - mean) * inv * gamma[ch] + beta[ch];
            if (silu) v = v / (1 + exp(-v));
            y[(size_t)g * per * hw + i] = (float)v;
        }
    }
}

void ref_conv2d(const float *x, const float *w, const float *b, float *y, int c, int h, int wd,
                int o, int kh, int kw, int stride, int pt, int pl, int pb, int pr) {
    int ho = (h + pt + pb - kh) / stride + 1, wo = (wd + pl + pr - kw) / stride + 1;
    for (int oc = 0; oc < o; oc++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                double s = b ? b[oc] : 0;
                for (int ic = 0; ic < c; ic++)
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            s += (double)w[((oc * c + ic) * kh + ky) * kw + kx] * x[(ic * h + iy) * wd + ix];
                        }
                y[(oc * ho + oy) * wo + ox] = (float)s;
            }
}

void ref_softmax(const float *x, float *y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double top = -INFINITY, sum = 0;
        for (int c = 0; c < cols; c++) top = fmax(top, x[r * cols + c]);
        for (int c = 0; c < cols; c++) sum += exp(x[r * cols + c] - top);
        for (int c = 0; c < cols; c++) y[r * cols + c] = (float)(exp(x[r * cols + c] - top) / sum);
    }
}
