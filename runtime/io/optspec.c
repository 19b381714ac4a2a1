/* optspec.c — the rules of training in one table: the optimizers (names,
 * arguments, defaults, ranges) and the loss names that nnc's train-block
 * checks (compiler/front) and a program's --optimizer and --loss both use;
 * and an optimizer written as the train block writes it, from a string (a
 * program's --optimizer): sgd(lr, momentum = 0, dampening = 0,
 * weight_decay = 0, nesterov = false), adam(lr = 1e-3, beta1 = 0.9,
 * beta2 = 0.999, eps = 1e-8, weight_decay = 0), adamw(...) (weight_decay =
 * 0.01); and a learning-rate schedule as the train block writes it (a
 * program's --schedule, and nnc's check of the `schedule` key). */
#include "../nnr_prog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANY (-HUGE_VAL), HUGE_VAL, 0, NULL
#define NONNEG(msg) 0.0, HUGE_VAL, 0, msg
#define BETA 0.0, 1.0, 1, "beta1 and beta2 must be in [0, 1)"
#define LR_MSG "the learning rate must not be negative"

/* torch.optim's defaults and checks (SGD, Adam, AdamW). */
const nnr_optim_spec nnr_optim_specs[NNR_OPTIM_COUNT] = {
    {"sgd", NNR_OPT_SGD, {
        {"lr", 0, 1, 0.0, NONNEG(LR_MSG)},
        {"momentum", 0, 0, 0.0, NONNEG("momentum must not be negative")},
        {"dampening", 0, 0, 0.0, ANY},
        {"weight_decay", 0, 0, 0.0, NONNEG("weight_decay must not be negative")},
        {"nesterov", 1, 0, 0.0, ANY},
    }},
    {"adam", NNR_OPT_ADAM, {
        {"lr", 0, 0, 1e-3, NONNEG(LR_MSG)},
        {"beta1", 0, 0, 0.9, BETA},
        {"beta2", 0, 0, 0.999, BETA},
        {"eps", 0, 0, 1e-8, NONNEG("eps must not be negative")},
        {"weight_decay", 0, 0, 0.0, NONNEG("weight_decay must not be negative")},
    }},
    {"adamw", NNR_OPT_ADAMW, {
        {"lr", 0, 0, 1e-3, NONNEG(LR_MSG)},
        {"beta1", 0, 0, 0.9, BETA},
        {"beta2", 0, 0, 0.999, BETA},
        {"eps", 0, 0, 1e-8, NONNEG("eps must not be negative")},
        {"weight_decay", 0, 0, 0.01, NONNEG("weight_decay must not be negative")},
    }},
};

const char *const nnr_loss_names[NNR_LOSS_COUNT] = {
    [NNR_LOSS_MSE] = "mse",
    [NNR_LOSS_L1] = "l1",
    [NNR_LOSS_BCE] = "bce",
    [NNR_LOSS_BCE_WITH_LOGITS] = "bce_with_logits",
    [NNR_LOSS_CROSS_ENTROPY] = "cross_entropy",
    [NNR_LOSS_NLL] = "nll",
};

const nnr_optim_spec *nnr_optim_find(const char *name, size_t len)
{
    for (int k = 0; k < NNR_OPTIM_COUNT; k++)
        if (strlen(nnr_optim_specs[k].name) == len && !strncmp(name, nnr_optim_specs[k].name, len))
            return &nnr_optim_specs[k];
    return NULL;
}

int nnr_loss_find(const char *s)
{
    for (int i = 0; i < NNR_LOSS_COUNT; i++)
        if (!strcmp(s, nnr_loss_names[i]))
            return i;
    return -1;
}

const char *nnr_loss_list(void)
{
    static char list[128];
    if (!list[0]) {
        size_t at = 0;
        for (int i = 0; i < NNR_LOSS_COUNT; i++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s",
                                   i == 0 ? "" : i + 1 == NNR_LOSS_COUNT ? " or " : ", ",
                                   nnr_loss_names[i]);
    }
    return list;
}

static int out_of_range(const nnr_optim_arg *a, double v)
{
    return v < a->lo || (a->hi_open ? v >= a->hi : v > a->hi);
}

int nnr_optim_make(const nnr_optim_spec *spec, const double *v, const int *given, nnr_optim *o,
                   char *err, size_t errlen)
{
    double x[NNR_OPTIM_NARGS];
    for (int i = 0; i < NNR_OPTIM_NARGS; i++) {
        const nnr_optim_arg *a = &spec->args[i];
        if (!given[i] && a->required) {
            snprintf(err, errlen, "%s: missing argument '%s'", spec->name, a->name);
            return -1;
        }
        x[i] = given[i] ? v[i] : a->def;
    }
    memset(o, 0, sizeof *o);
    o->kind = spec->kind;
    o->lr = x[0];
    if (spec->kind == NNR_OPT_SGD) {
        o->momentum = x[1];
        o->dampening = x[2];
        o->weight_decay = x[3];
        o->nesterov = x[4] != 0;
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
            snprintf(err, errlen, "sgd: nesterov momentum requires a momentum and zero dampening");
            return -1;
        }
    } else {
        o->beta1 = x[1];
        o->beta2 = x[2];
        o->eps = x[3];
        o->weight_decay = x[4];
    }
    for (int i = 0; i < NNR_OPTIM_NARGS; i++) {
        const nnr_optim_arg *a = &spec->args[i];
        if (!a->range_msg || !out_of_range(a, x[i]))
            continue;
        if (!strncmp(a->range_msg, "the ", 4))
            snprintf(err, errlen, "%s", a->range_msg);
        else
            snprintf(err, errlen, "%s: %s", spec->name, a->range_msg);
        return -1;
    }
    return 0;
}

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static size_t skip_ws(const char *s, size_t i)
{
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    return i;
}

/* The length of the name at s[i] (a letter or _ first), 0 if none. */
static size_t scan_ident(const char *s, size_t i)
{
    size_t j = i;
    if (!is_ident_char(s[j]) || (s[j] >= '0' && s[j] <= '9'))
        return 0;
    while (is_ident_char(s[j]))
        j++;
    return j - i;
}

/* The length of the number at s[i]: [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?,
 * 0 if none. */
static size_t scan_number(const char *s, size_t i)
{
    size_t j = i, nd = 0;
    if (s[j] == '+' || s[j] == '-')
        j++;
    while (s[j] >= '0' && s[j] <= '9')
        j++, nd++;
    if (s[j] == '.')
        for (j++; s[j] >= '0' && s[j] <= '9'; j++)
            nd++;
    if (!nd)
        return 0;
    if (s[j] == 'e' || s[j] == 'E') {
        size_t k = j + 1;
        if (s[k] == '+' || s[k] == '-')
            k++;
        if (s[k] >= '0' && s[k] <= '9') {
            while (s[k] >= '0' && s[k] <= '9')
                k++;
            j = k;
        }
    }
    return is_ident_char(s[j]) || s[j] == '.' ? 0 : j - i;
}

/* The argument text at s[i] for a message: up to the next ',' or ')'. */
static int arg_len(const char *s, size_t i)
{
    size_t j = i;
    while (s[j] && s[j] != ',' && s[j] != ')')
        j++;
    while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t'))
        j--;
    return j - i > 40 ? 40 : (int)(j - i);
}

/* adam's `betas = [b1, b2]` (PyTorch's tuple, also written (b1, b2)) at
 * s[*i], the value: beta1 and beta2 (slots 1 and 2) into v and given. */
static int parse_betas(const char *s, size_t *i, const char *what, double *v, int *given,
                       char *err, size_t errlen)
{
    size_t j = *i;
    char close = s[j] == '[' ? ']' : s[j] == '(' ? ')' : 0;
    if (given[1] || given[2]) {
        snprintf(err, errlen, "%s: betas and %s are both given", what, given[1] ? "beta1" : "beta2");
        return -1;
    }
    for (int k = 0; close && k < 2; k++) {
        j = skip_ws(s, j + 1);
        size_t w = scan_number(s, j);
        v[1 + k] = w ? strtod(s + j, NULL) : NAN;
        j = w ? skip_ws(s, j + w) : j;
        if (!w || !isfinite(v[1 + k]) || s[j] != (k ? close : ','))
            close = 0;
    }
    if (!close) {
        snprintf(err, errlen, "%s: 'betas' must be a list of two numbers, as betas = [0.9, "
                 "0.999], not '%.*s'", what, arg_len(s, *i), s + *i);
        return -1;
    }
    given[1] = given[2] = 1;
    *i = j + 1;
    return 0;
}

/* An optimizer as the train block writes it: sgd(lr, momentum = 0,
 * dampening = 0, weight_decay = 0, nesterov = false), adam(lr = 1e-3,
 * beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0), adamw(...)
 * (weight_decay = 0.01); positional arguments in that order, then keywords;
 * adam's betas = [b1, b2] for beta1 and beta2. 0, or -1 with a message in err. */
int nnr_parse_optimizer(const char *s, nnr_optim *o, char *err, size_t errlen)
{
    size_t i = skip_ws(s, 0), n = scan_ident(s, i);
    const nnr_optim_spec *spec = n ? nnr_optim_find(s + i, n) : NULL;
    if (!spec) {
        if (n)
            snprintf(err, errlen, "unknown optimizer '%.*s' (expected sgd, adam or adamw)",
                     (int)n, s + i);
        else
            snprintf(err, errlen, "expected sgd(...), adam(...) or adamw(...), got '%s'", s);
        return -1;
    }
    const char *what = spec->name;
    double v[NNR_OPTIM_NARGS] = {0};
    int given[NNR_OPTIM_NARGS] = {0};
    i = skip_ws(s, i + n);
    if (s[i] == '(') {
        int npos = 0, named = 0;
        i = skip_ws(s, i + 1);
        while (s[i] != ')') {
            int slot = -1;
            size_t id = scan_ident(s, i), j = skip_ws(s, i + id);
            if (id == 5 && !strncmp(s + i, "betas", 5) && s[j] == '=' &&
                spec->kind != NNR_OPT_SGD) {
                i = skip_ws(s, j + 1);
                if (parse_betas(s, &i, what, v, given, err, errlen))
                    return -1;
                named = 1;
                goto next;
            }
            if (id && s[j] == '=') {
                for (int k = 0; k < NNR_OPTIM_NARGS; k++)
                    if (strlen(spec->args[k].name) == id && !strncmp(s + i, spec->args[k].name, id))
                        slot = k;
                if (slot < 0) {
                    snprintf(err, errlen, "%s has no argument '%.*s'", what, (int)id, s + i);
                    return -1;
                }
                named = 1;
                i = skip_ws(s, j + 1);
            } else if (named) {
                snprintf(err, errlen, "%s: a positional argument cannot follow a keyword "
                         "argument", what);
                return -1;
            } else if (npos >= NNR_OPTIM_NARGS) {
                snprintf(err, errlen, "%s takes at most %d arguments", what, NNR_OPTIM_NARGS);
                return -1;
            } else {
                slot = npos++;
            }
            if (given[slot]) {
                snprintf(err, errlen, "%s: argument '%s' is given twice", what, spec->args[slot].name);
                return -1;
            }
            given[slot] = 1;
            if (spec->args[slot].is_bool) {
                size_t w = scan_ident(s, i);
                if (w == 4 && !strncmp(s + i, "true", 4))
                    v[slot] = 1;
                else if (w == 5 && !strncmp(s + i, "false", 5))
                    v[slot] = 0;
                else {
                    snprintf(err, errlen, "%s: argument '%s' must be true or false, not "
                             "'%.*s'", what, spec->args[slot].name, arg_len(s, i), s + i);
                    return -1;
                }
                i += w;
            } else {
                size_t w = scan_number(s, i);
                if (!w) {
                    snprintf(err, errlen, "%s: argument '%s' must be a number, not '%.*s'", what,
                             spec->args[slot].name, arg_len(s, i), s + i);
                    return -1;
                }
                v[slot] = strtod(s + i, NULL);
                if (!isfinite(v[slot])) {
                    snprintf(err, errlen, "%s: argument '%s' = %.*s is out of range", what,
                             spec->args[slot].name, (int)w, s + i);
                    return -1;
                }
                i += w;
            }
        next:
            i = skip_ws(s, i);
            if (s[i] == ',')
                i = skip_ws(s, i + 1);
            else if (s[i] != ')') {
                snprintf(err, errlen, "expected ',' or ')' at column %zu of '%s'", i + 1, s);
                return -1;
            }
        }
        i = skip_ws(s, i + 1);
    }
    if (s[i]) {
        snprintf(err, errlen, "unexpected '%s' after %s%s", s + i, what,
                 strchr(s, '(') ? "(...)" : "");
        return -1;
    }
    return nnr_optim_make(spec, v, given, o, err, errlen);
}

/* ------------------------------------------------------------ schedules */

static const char *const sched_names[] = {"steplr", "cosine", "linear_warmup", "onecycle"};
static const char *const sched_args[4][2] = {
    {"step_size", "gamma"}, {"t_max", "eta_min"}, {"steps", "start_factor"},
    {"max_lr", "total_steps"},
};

/* One argument value at s[*i] into slot k of a schedule of kind: a count
 * (step_size, t_max, steps, total_steps: an integer >= 1) or a number. */
static int sched_value(const char *s, size_t *i, int kind, int k, double *v, char *err,
                       size_t errlen)
{
    const char *what = sched_names[kind], *an = sched_args[kind][k];
    const int count = kind == NNR_SCHED_ONECYCLE ? k == 1 : k == 0;
    size_t w = scan_number(s, *i);
    if (!w) {
        snprintf(err, errlen, "%s: argument '%s' must be a number, not '%.*s'", what, an,
                 arg_len(s, *i), s + *i);
        return -1;
    }
    *v = strtod(s + *i, NULL);
    if (!isfinite(*v) || (count && (*v < 1 || *v > 1e15 || *v != floor(*v)))) {
        snprintf(err, errlen, "%s: argument '%s' must be %s, not %.*s", what, an,
                 count ? "an integer >= 1" : "a finite number", (int)w, s + *i);
        return -1;
    }
    *i += w;
    return 0;
}

/* `per = "epoch"` or `per = "step"` at s[*i] (the value). */
static int sched_per(const char *s, size_t *i, const char *what, int *per_step, char *err,
                     size_t errlen)
{
    if (!strncmp(s + *i, "\"epoch\"", 7)) {
        *per_step = 0;
        *i += 7;
    } else if (!strncmp(s + *i, "\"step\"", 6)) {
        *per_step = 1;
        *i += 6;
    } else {
        snprintf(err, errlen, "%s: per must be \"epoch\" or \"step\", not '%.*s'", what,
                 arg_len(s, *i), s + *i);
        return -1;
    }
    return 0;
}

/* One scheduler at s[*i]: NAME(ARGS) into p; *per_step from its `per`. */
static int sched_item(const char *s, size_t *i, nnr_sched_part *p, int *per_step, char *err,
                      size_t errlen)
{
    size_t n = scan_ident(s, *i);
    int kind = -1;
    for (int k = 0; k < 4 && n; k++)
        if (strlen(sched_names[k]) == n && !strncmp(s + *i, sched_names[k], n))
            kind = k;
    if (kind < 0) {
        snprintf(err, errlen, "unknown schedule '%.*s' (expected steplr, cosine, linear_warmup "
                 "or onecycle)", n ? (int)n : arg_len(s, *i), s + *i);
        return -1;
    }
    const char *what = sched_names[kind];
    double v[2] = {0};
    int given[2] = {0}, npos = 0, named = 0;
    size_t j = skip_ws(s, *i + n);
    *per_step = 0;
    if (s[j] != '(') {
        snprintf(err, errlen, "%s needs its arguments: %s(%s%s)", what, what,
                 sched_args[kind][0], kind == NNR_SCHED_ONECYCLE ? ", total_steps" : ", ...");
        return -1;
    }
    j = skip_ws(s, j + 1);
    while (s[j] != ')') {
        int slot = -1;
        size_t id = scan_ident(s, j), e = skip_ws(s, j + id);
        if (id && s[e] == '=') {
            e = skip_ws(s, e + 1);
            if (id == 3 && !strncmp(s + j, "per", 3)) {
                if (sched_per(s, &e, what, per_step, err, errlen))
                    return -1;
                j = e;
                named = 1;
                goto next;
            }
            for (int k = 0; k < 2; k++)
                if (strlen(sched_args[kind][k]) == id && !strncmp(s + j, sched_args[kind][k], id))
                    slot = k;
            if (slot < 0) {
                snprintf(err, errlen, "%s has no argument '%.*s'", what, (int)id, s + j);
                return -1;
            }
            named = 1;
            j = e;
        } else if (named) {
            snprintf(err, errlen, "%s: a positional argument cannot follow a keyword argument",
                     what);
            return -1;
        } else if (npos >= 2) {
            snprintf(err, errlen, "%s takes at most 2 arguments and per", what);
            return -1;
        } else {
            slot = npos++;
        }
        if (given[slot]) {
            snprintf(err, errlen, "%s: argument '%s' is given twice", what, sched_args[kind][slot]);
            return -1;
        }
        given[slot] = 1;
        if (sched_value(s, &j, kind, slot, &v[slot], err, errlen))
            return -1;
    next:
        j = skip_ws(s, j);
        if (s[j] == ',')
            j = skip_ws(s, j + 1);
        else if (s[j] != ')') {
            snprintf(err, errlen, "expected ',' or ')' at column %zu of '%s'", j + 1, s);
            return -1;
        }
    }
    *i = j + 1;
    for (int k = 0; k < (kind == NNR_SCHED_ONECYCLE ? 2 : 1); k++)
        if (!given[k]) {
            snprintf(err, errlen, "%s: missing argument '%s'", what, sched_args[kind][k]);
            return -1;
        }
    p->kind = (nnr_sched_kind)kind;
    if (kind == NNR_SCHED_ONECYCLE) {
        p->a = v[0];
        p->n = (long)v[1];
        if (p->a <= 0) {
            snprintf(err, errlen, "onecycle: max_lr must be positive");
            return -1;
        }
        return 0;
    }
    p->n = (long)v[0];
    p->a = given[1] ? v[1] : kind == NNR_SCHED_STEPLR ? 0.1 : kind == NNR_SCHED_COSINE ? 0.0
                                                                      : 1.0 / (double)p->n;
    if (kind == NNR_SCHED_WARMUP && !(p->a > 0 && p->a <= 1)) {
        snprintf(err, errlen, "linear_warmup: start_factor must be in (0, 1]");
        return -1;
    }
    return 0;
}

int nnr_parse_schedule(const char *s, nnr_sched *out, char *err, size_t errlen)
{
    nnr_sched sc;
    memset(&sc, 0, sizeof sc);
    size_t i = skip_ws(s, 0);
    const int list = s[i] == '[';
    if (list)
        i = skip_ws(s, i + 1);
    if (list && s[i] == ']') {
        snprintf(err, errlen, "an empty list of schedules (leave schedule out for a constant "
                 "rate)");
        return -1;
    }
    for (;;) {
        int per = 0;
        if (sc.nparts == NNR_SCHED_MAX) {
            snprintf(err, errlen, "a schedule list holds at most %d schedules", NNR_SCHED_MAX);
            return -1;
        }
        if (sched_item(s, &i, &sc.part[sc.nparts], &per, err, errlen))
            return -1;
        if (sc.nparts > 0 && per != sc.per_step) {
            snprintf(err, errlen, "the schedules of a list must all have the same per "
                     "(\"epoch\" or \"step\")");
            return -1;
        }
        sc.per_step = per;
        sc.nparts++;
        i = skip_ws(s, i);
        if (!list || s[i] != ',')
            break;
        i = skip_ws(s, i + 1);
    }
    if (list) {
        if (s[i] != ']') {
            snprintf(err, errlen, "expected ',' or ']' at column %zu of '%s'", i + 1, s);
            return -1;
        }
        i = skip_ws(s, i + 1);
    }
    if (s[i]) {
        snprintf(err, errlen, "unexpected '%s' after the schedule", s + i);
        return -1;
    }
    *out = sc;
    return 0;
}
