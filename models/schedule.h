/* The flow-matching timestep schedule of FLUX.1 and its Euler step (spec-flux-kontext.md §3).
 *
 * Mirrors black-forest-labs/flux `sampling.py`: get_lin_function, time_shift and get_schedule with
 * shift=True (diffusers' FlowMatchEulerDiscreteScheduler with dynamic shifting gives the same
 * numbers). Not here: the sampling loop itself (flux.c runs it on the device). Everything is plain
 * CPU math on caller-owned arrays; no function keeps state. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* The published endpoints of the shift line: μ = 0.5 at 256 noise tokens, 1.15 at 4096. */
#define SCHED_BASE_SEQ 256.0
#define SCHED_MAX_SEQ 4096.0
#define SCHED_BASE_SHIFT 0.5
#define SCHED_MAX_SHIFT 1.15

/* μ for `tokens` noise tokens (context tokens are not counted): the line through
 * (SCHED_BASE_SEQ, SCHED_BASE_SHIFT) and (SCHED_MAX_SEQ, SCHED_MAX_SHIFT), extrapolated outside. */
double sched_mu(int64_t tokens);

/* BFL time_shift: e^μ / (e^μ + (1/t − 1)^σ); 0 at t = 0 (the division by zero is taken as 0) and
 * 1 at t = 1. */
double sched_time_shift(double mu, double sigma, double t);

/* Writes the steps + 1 shifted times from 1 down to 0 for `tokens` noise tokens into `sigmas`:
 * t_i = 1 − i/steps, then sched_time_shift(sched_mu(tokens), 1, t_i). Computed in double and
 * rounded once to float. The reference computes in float32, and its torch.linspace values even
 * depend on the CPU's vector width, so we take the exact value instead: the fixtures agree to
 * ≤ 1.2e-7 (two float ulps), far inside the 1e-6 contract.
 * LW_ERR_ARGUMENT when steps < 1 or tokens < 1. */
enum lw_status sched_sigmas(int steps, int64_t tokens, float *sigmas, struct lw_error *err);

/* One Euler step of the flow-matching ODE, in place: x ← x + (t_next − t_cur)·v, n values. The CPU
 * reference of the device step (spec-flux-kontext.md §3.1). */
void sched_euler_step(float *x, const float *v, size_t n, float t_cur, float t_next);
