/* sched.c — learning-rate schedules that give torch.optim.lr_scheduler's
 * rates to the bit: each scheduler is simulated as PyTorch's object is
 * (last_epoch, _step_count, base_lr, and the optimizer group's lr,
 * initial_lr, max_lr, min_lr, momentum / betas that they read and write),
 * with the chained (recursive) get_lr forms of StepLR, CosineAnnealingLR
 * and LinearLR, OneCycleLR's phases, the closed forms that SequentialLR's
 * step(0) uses at a milestone, and SequentialLR's construction (every
 * scheduler constructed, the rate reset to initial_lr, the first one
 * stepped again). All arithmetic is double, in Python's order. */
#include <math.h>
#include <stddef.h>

#include "../nnr.h"

#define PI 3.141592653589793 /* math.pi */
#define OC_DIV 25.0          /* OneCycleLR's div_factor */
#define OC_FINAL_DIV 1e4     /* final_div_factor */
#define OC_PCT 0.3           /* pct_start */
#define OC_MOM_BASE 0.85     /* base_momentum */
#define OC_MOM_MAX 0.95      /* max_momentum */

/* Python's a % b for b > 0 (never negative). */
static long py_mod(long a, long b)
{
    long r = a % b;
    return r < 0 ? r + b : r;
}

static void set_momentum(nnr_optim *o, double m)
{
    if (o->kind == NNR_OPT_SGD)
        o->momentum = m;
    else
        o->beta1 = m;
}

/* OneCycleLR's _annealing_cos. */
static double anneal_cos(double start, double end, double pct)
{
    double cos_out = cos(PI * pct) + 1.0;
    return end + (start - end) / 2.0 * cos_out;
}

/* OneCycleLR.get_lr at step_num (already checked <= total_steps). */
static double onecycle_lr(const nnr_sched_part *p, nnr_sched_state *st, nnr_optim *o,
                          long step_num)
{
    const double e0 = OC_PCT * (double)p->n - 1.0, e1 = (double)(p->n - 1);
    const double x = (double)step_num;
    double lr, mom;
    if (x <= e0) {
        double pct = x / e0;
        lr = anneal_cos(st->initial_lr, st->max_lr, pct);
        mom = anneal_cos(OC_MOM_MAX, OC_MOM_BASE, pct);
    } else {
        double pct = (x - e0) / (e1 - e0);
        lr = anneal_cos(st->max_lr, st->min_lr, pct);
        mom = anneal_cos(OC_MOM_BASE, OC_MOM_MAX, pct);
    }
    if (st->cycle)
        set_momentum(o, mom);
    return lr;
}

/* Scheduler i's get_lr (the chained form), from the group's rate o->lr. */
static double get_lr(const nnr_sched *s, nnr_sched_state *st, int i, nnr_optim *o)
{
    const nnr_sched_part *p = &s->part[i];
    const long e = st->last[i];
    const double lr = o->lr;
    switch (p->kind) {
    case NNR_SCHED_STEPLR:
        if (e == 0 || e % p->n != 0)
            return lr;
        return lr * p->a;
    case NNR_SCHED_COSINE: {
        const double tm = (double)p->n, eta = p->a;
        if (e == 0)
            return lr;
        if (st->count[i] == 1 && e > 0)
            return eta + (st->base[i] - eta) * (1.0 + cos((double)e * PI / tm)) / 2.0;
        if (py_mod(e - 1 - p->n, 2 * p->n) == 0)
            return lr + (st->base[i] - eta) * (1.0 - cos(PI / tm)) / 2.0;
        return (1.0 + cos(PI * (double)e / tm)) / (1.0 + cos(PI * (double)(e - 1) / tm)) *
                   (lr - eta) + eta;
    }
    case NNR_SCHED_WARMUP: {
        const double sf = p->a, ef = 1.0, tot = (double)p->n;
        if (e == 0)
            return lr * sf;
        if (e > p->n)
            return lr;
        return lr * (1.0 + (ef - sf) / (tot * sf + (double)(e - 1) * (ef - sf)));
    }
    case NNR_SCHED_ONECYCLE:
        return onecycle_lr(p, st, o, e);
    }
    return lr;
}

/* Scheduler i's _get_closed_form_lr (OneCycleLR has none: its get_lr). */
static double closed_lr(const nnr_sched *s, nnr_sched_state *st, int i, nnr_optim *o)
{
    const nnr_sched_part *p = &s->part[i];
    const long e = st->last[i];
    const double b = st->base[i];
    switch (p->kind) {
    case NNR_SCHED_STEPLR:
        return b * pow(p->a, (double)(e / p->n));
    case NNR_SCHED_COSINE:
        return p->a + (b - p->a) * (1.0 + cos(PI * (double)e / (double)p->n)) / 2.0;
    case NNR_SCHED_WARMUP: {
        const double sf = p->a;
        return b * (sf + (1.0 - sf) * (double)(e < p->n ? e : p->n) / (double)p->n);
    }
    case NNR_SCHED_ONECYCLE:
        break;
    }
    return get_lr(s, st, i, o);
}

/* Scheduler i's step() (epoch < 0) or step(epoch). */
static int sched_step_one(const nnr_sched *s, nnr_sched_state *st, int i, long epoch,
                          nnr_optim *o)
{
    long next = epoch < 0 ? st->last[i] + 1 : epoch;
    if (s->part[i].kind == NNR_SCHED_ONECYCLE && next > s->part[i].n)
        return -1;
    st->count[i]++;
    st->last[i] = next;
    o->lr = epoch < 0 ? get_lr(s, st, i, o) : closed_lr(s, st, i, o);
    return 0;
}

void nnr_sched_start(const nnr_sched *s, nnr_sched_state *st, nnr_optim *o)
{
    int have_initial = 0;
    *st = (nnr_sched_state){0};
    for (int i = 0; i < s->nparts; i++) {
        const nnr_sched_part *p = &s->part[i];
        if (p->kind == NNR_SCHED_ONECYCLE) {
            st->initial_lr = p->a / OC_DIV;
            st->max_lr = p->a;
            st->min_lr = st->initial_lr / OC_FINAL_DIV;
            have_initial = 1;
            st->cycle = 1;
            set_momentum(o, OC_MOM_MAX);
        }
        if (!have_initial) {     /* group.setdefault('initial_lr', group['lr']) */
            st->initial_lr = o->lr;
            have_initial = 1;
        }
        st->base[i] = st->initial_lr;
        st->last[i] = -1;
        st->count[i] = 0;       /* _initial_step */
        sched_step_one(s, st, i, -1, o);
    }
    if (s->nparts > 1) {        /* SequentialLR.__init__ */
        st->t = 0;
        o->lr = st->initial_lr;
        for (int i = 0; i < s->nparts; i++)
            st->last[i]--;
        st->count[0] = 0;
        sched_step_one(s, st, 0, -1, o);
    }
}

int nnr_sched_step(const nnr_sched *s, nnr_sched_state *st, nnr_optim *o)
{
    if (s->nparts <= 0)
        return 0;
    if (s->nparts == 1)
        return sched_step_one(s, st, 0, -1, o);
    long t = st->t + 1, m = 0;
    int idx = 0;   /* bisect_right(milestones, t) */
    while (idx < s->nparts - 1 && m + s->part[idx].n <= t)
        m += s->part[idx++].n;
    int rc = sched_step_one(s, st, idx, idx > 0 && m == t ? 0 : -1, o);
    if (rc == 0)
        st->t = t;
    return rc;
}

long nnr_sched_limit(const nnr_sched *s)
{
    if (s->nparts <= 0 || s->part[s->nparts - 1].kind != NNR_SCHED_ONECYCLE)
        return -1;
    long start = 0;
    for (int i = 0; i + 1 < s->nparts; i++)
        start += s->part[i].n;
    return start + s->part[s->nparts - 1].n;
}
