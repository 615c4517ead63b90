/* Shifted flow-matching schedule and Euler step (schedule.h), following BFL `sampling.py`
 * (get_lin_function, time_shift, get_schedule) at commit 802fb47. */
#include "schedule.h"

#include <math.h>

double sched_mu(int64_t tokens) {
    double slope = (SCHED_MAX_SHIFT - SCHED_BASE_SHIFT) / (SCHED_MAX_SEQ - SCHED_BASE_SEQ);
    double intercept = SCHED_BASE_SHIFT - slope * SCHED_BASE_SEQ;
    return slope * (double)tokens + intercept;
}

double sched_time_shift(double mu, double sigma, double t) {
    if (t <= 0) return 0; /* 1/t − 1 = ∞: the reference's float division gives exactly 0 */
    double e = exp(mu);
    return e / (e + pow(1.0 / t - 1.0, sigma));
}

enum lw_status sched_sigmas(int steps, int64_t tokens, float *sigmas, struct lw_error *err) {
    if (steps < 1 || tokens < 1)
        return lw_error_set(err, LW_ERR_ARGUMENT,
                            "schedule: %d steps and %lld noise tokens (both ≥ 1)", steps,
                            (long long)tokens);
    double mu = sched_mu(tokens);
    for (int i = 0; i <= steps; i++) {
        /* torch.linspace(1, 0, steps + 1); the last value is exactly 0 */
        double t = i == steps ? 0.0 : 1.0 - (double)i / steps;
        sigmas[i] = (float)sched_time_shift(mu, 1.0, t);
    }
    return LW_OK;
}

void sched_euler_step(float *x, const float *v, size_t n, float t_cur, float t_next) {
    float dt = t_next - t_cur; /* negative: time runs from 1 (noise) to 0 (data) */
    for (size_t i = 0; i < n; i++)
        x[i] += dt * v[i];
}
