/* pth_pickle.c — the restricted pickle machine of the .pth reader: runs the
 * opcodes torch.save emits (protocols 2 to 5) and accepts only what a
 * state_dict holds: collections.OrderedDict (or a dict), its _metadata set by
 * BUILD, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, and the
 * storages torch.FloatStorage, HalfStorage, ... named by persistent ids.
 * Any other global is an error naming it; nothing is ever imported or
 * called. No recursion: values live in an arena freed at the end. */
#include "pth.h"
#include "io_util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PK_SNIP 80

typedef enum pv_kind {
    PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_BYTES, PV_TUPLE, PV_LIST, PV_DICT,
    PV_GLOBAL, PV_STORAGE, PV_TENSOR
} pv_kind;

static const char *const pv_names[] = {
    "None", "a bool", "an int", "a float", "a str", "bytes", "a tuple", "a list", "a dict",
    "a global", "a storage", "a tensor"
};

typedef enum pk_global { G_ODICT, G_REBUILD_V2, G_REBUILD_PARAM, G_STORAGE } pk_global;

typedef struct pv {
    pv_kind k;
    int64_t i;              /* BOOL, INT; GLOBAL: pk_global; STORAGE: dtype */
    const char *s;          /* STR, BYTES; STORAGE: the key */
    uint64_t n;             /* STR, BYTES: length; STORAGE: numel */
    struct pv **it;         /* TUPLE, LIST; DICT: key, value, key, value, ... */
    size_t len, cap;
    nnr_pth_view *t;        /* TENSOR */
} pv;

typedef struct pk {
    const unsigned char *p;
    size_t len, at, op;     /* bytes, next byte, start of the current opcode */
    size_t base;
    const char *path;
    char *err;
    size_t errlen;
    pv **arena;             /* every value made, freed at the end */
    size_t narena, carena;
    pv **stack;
    size_t nstack, cstack;
    size_t *marks;
    size_t nmarks, cmarks;
    pv **memo;
    size_t nmemo;           /* slots */
    size_t memo_len;        /* slots set (MEMOIZE's next index) */
} pk;

static int fail(pk *m, const char *fmt, ...) NNR_IO_PRINTF(2, 3);
static int fail(pk *m, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    nnr_io_verrf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nnr_io_errf(m->err, m->errlen, "%s: %s (at byte offset %zu)", m->path, msg,
                       m->base + m->op);
}

static int grow(void **a, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size) return -1;
        c *= 2;
    }
    void *b = realloc(*a, c * size);
    if (b == NULL) return -1;
    *a = b;
    *cap = c;
    return 0;
}

static pv *new_value(pk *m, pv_kind k)
{
    if (grow((void **)&m->arena, &m->carena, m->narena + 1, sizeof *m->arena) != 0) return NULL;
    pv *v = calloc(1, sizeof *v);
    if (v == NULL) return NULL;
    v->k = k;
    m->arena[m->narena++] = v;
    return v;
}

static int push(pk *m, pv *v)
{
    if (v == NULL) return fail(m, "out of memory");
    if (grow((void **)&m->stack, &m->cstack, m->nstack + 1, sizeof *m->stack) != 0)
        return fail(m, "out of memory");
    m->stack[m->nstack++] = v;
    return 0;
}

static int add_item(pk *m, pv *c, pv *v)
{
    if (grow((void **)&c->it, &c->cap, c->len + 1, sizeof *c->it) != 0)
        return fail(m, "out of memory");
    c->it[c->len++] = v;
    return 0;
}

/* The first stack slot above the last MARK (values below it are out of reach). */
static size_t fence(const pk *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

/* The stack's top value (0) or the one below it (1), or NULL. */
static pv *peek(pk *m, size_t depth)
{
    if (m->nstack < fence(m) + depth + 1) return NULL;
    return m->stack[m->nstack - 1 - depth];
}

static int pop(pk *m, pv **v)
{
    *v = peek(m, 0);
    if (*v == NULL) return fail(m, "pickle stack underflow");
    m->nstack--;
    return 0;
}

/* Reads n bytes of operand; NULL (with a message) when past the end. */
static const unsigned char *take(pk *m, size_t n)
{
    if (n > m->len - m->at) {
        fail(m, "pickle truncated: opcode 0x%02x needs %zu more bytes", m->p[m->op], n);
        return NULL;
    }
    const unsigned char *q = m->p + m->at;
    m->at += n;
    return q;
}

static uint64_t le(const unsigned char *q, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)q[i] << (8 * i);
    return v;
}

static const char *snip(char *buf, size_t len, const char *s, size_t n)
{
    return nnr_io_snip(buf, len, s, n, PK_SNIP);
}

/* ------------------------------------------------------------ globals */

static const struct {
    const char *module, *name;
    pk_global g;
    nnr_pth_dtype dt;
} known[] = {
    {"collections", "OrderedDict", G_ODICT, NNR_PT_F32},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_V2, NNR_PT_F32},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, NNR_PT_F32},
    {"torch", "FloatStorage", G_STORAGE, NNR_PT_F32},
    {"torch", "HalfStorage", G_STORAGE, NNR_PT_F16},
    {"torch", "BFloat16Storage", G_STORAGE, NNR_PT_BF16},
    {"torch", "DoubleStorage", G_STORAGE, NNR_PT_F64},
    {"torch", "LongStorage", G_STORAGE, NNR_PT_I64},
    {"torch", "IntStorage", G_STORAGE, NNR_PT_I32},
    {"torch", "ShortStorage", G_STORAGE, NNR_PT_I16},
    {"torch", "CharStorage", G_STORAGE, NNR_PT_I8},
    {"torch", "ByteStorage", G_STORAGE, NNR_PT_U8},
    {"torch", "BoolStorage", G_STORAGE, NNR_PT_BOOL},
};

static int eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int global(pk *m, const char *mod, size_t mlen, const char *name, size_t nlen)
{
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (eq(mod, mlen, known[k].module) && eq(name, nlen, known[k].name)) {
            pv *v = new_value(m, PV_GLOBAL);
            if (v != NULL) {
                v->i = known[k].g;
                v->n = known[k].dt;
                v->s = known[k].name;
            }
            return push(m, v);
        }
    char a[PK_SNIP + 8], b[PK_SNIP + 8];
    if (eq(mod, mlen, "__builtin__")) { /* protocol 2's name of builtins */
        mod = "builtins";
        mlen = 8;
    }
    snip(a, sizeof a, mod, mlen);
    snip(b, sizeof b, name, nlen);
    int model = (mlen >= 8 && memcmp(mod, "__main__", 8) == 0) ||
                (mlen >= 8 && memcmp(mod, "torch.nn", 8) == 0);
    return fail(m, "pickle calls %s.%s, which a state_dict does not hold%s", a, b,
                model ? " (the whole model was saved: save model.state_dict() instead)" : "");
}

/* GLOBAL: "module\nname\n" */
static int op_global(pk *m)
{
    const char *mod = (const char *)m->p + m->at, *name;
    const char *end = (const char *)m->p + m->len;
    const char *nl = memchr(mod, '\n', (size_t)(end - mod));
    if (nl == NULL) return fail(m, "pickle truncated in GLOBAL");
    name = nl + 1;
    const char *nl2 = memchr(name, '\n', (size_t)(end - name));
    if (nl2 == NULL) return fail(m, "pickle truncated in GLOBAL");
    m->at = (size_t)((const unsigned char *)nl2 + 1 - m->p);
    return global(m, mod, (size_t)(nl - mod), name, (size_t)(nl2 - name));
}

static int op_stack_global(pk *m)
{
    pv *name, *mod;
    if (pop(m, &name) || pop(m, &mod)) return -1;
    if (name->k != PV_STR || mod->k != PV_STR)
        return fail(m, "STACK_GLOBAL needs two strings");
    return global(m, mod->s, mod->n, name->s, name->n);
}

/* ------------------------------------------------------------ calls */

static int is_int(const pv *v) { return v->k == PV_INT || v->k == PV_BOOL; }

static int int_tuple(pk *m, const pv *t, uint64_t *out, int *n, const char *what)
{
    if (t->k != PV_TUPLE) return fail(m, "_rebuild_tensor_v2: %s is %s, not a tuple", what,
                                      pv_names[t->k]);
    if (t->len > NNR_PTH_MAX_DIMS)
        return fail(m, "a tensor of %zu dimensions (at most %d supported)", t->len,
                    NNR_PTH_MAX_DIMS);
    for (size_t i = 0; i < t->len; i++) {
        if (!is_int(t->it[i]) || t->it[i]->i < 0)
            return fail(m, "_rebuild_tensor_v2: %s[%zu] is not a non-negative int", what, i);
        out[i] = (uint64_t)t->it[i]->i;
    }
    *n = (int)t->len;
    return 0;
}

static int empty_hooks(const pv *v) { return v->k == PV_DICT && v->len == 0; }

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) */
static int rebuild_tensor(pk *m, const pv *a)
{
    if (a->len != 6 && a->len != 7)
        return fail(m, "_rebuild_tensor_v2 takes 6 or 7 arguments, not %zu", a->len);
    const pv *st = a->it[0], *off = a->it[1];
    if (st->k != PV_STORAGE)
        return fail(m, "_rebuild_tensor_v2: the storage is %s", pv_names[st->k]);
    if (!is_int(off) || off->i < 0)
        return fail(m, "_rebuild_tensor_v2: the storage offset is not a non-negative int");
    if (!is_int(a->it[4])) return fail(m, "_rebuild_tensor_v2: requires_grad is not a bool");
    if (!empty_hooks(a->it[5]))
        return fail(m, "_rebuild_tensor_v2: a tensor with backward hooks");
    if (a->len == 7 && a->it[6]->k != PV_NONE && !empty_hooks(a->it[6]))
        return fail(m, "_rebuild_tensor_v2: a tensor with Python attributes (metadata)");
    pv *v = new_value(m, PV_TENSOR);
    nnr_pth_view *t = v != NULL ? calloc(1, sizeof *t) : NULL;
    if (t == NULL) return fail(m, "out of memory");
    v->t = t;
    int nstride = 0;
    if (int_tuple(m, a->it[2], t->shape, &t->ndim, "the size") ||
        int_tuple(m, a->it[3], t->stride, &nstride, "the stride"))
        return -1;
    if (nstride != t->ndim)
        return fail(m, "_rebuild_tensor_v2: %d sizes but %d strides", t->ndim, nstride);
    t->key = st->s;
    t->key_len = (size_t)st->len;
    t->dtype = (nnr_pth_dtype)st->i;
    t->storage_numel = st->n;
    t->offset = (uint64_t)off->i;
    t->pos = m->base + m->op;
    return push(m, v);
}

static int op_reduce(pk *m)
{
    pv *args, *fn;
    if (pop(m, &args) || pop(m, &fn)) return -1;
    if (fn->k != PV_GLOBAL) return fail(m, "REDUCE calls %s", pv_names[fn->k]);
    if (args->k != PV_TUPLE)
        return fail(m, "REDUCE of %s with %s, not a tuple", fn->s, pv_names[args->k]);
    switch ((pk_global)fn->i) {
    case G_ODICT:
        if (args->len != 0) return fail(m, "OrderedDict called with arguments");
        return push(m, new_value(m, PV_DICT));
    case G_REBUILD_V2:
        return rebuild_tensor(m, args);
    case G_REBUILD_PARAM:
        if (args->len != 3 || args->it[0]->k != PV_TENSOR || !empty_hooks(args->it[2]))
            return fail(m, "_rebuild_parameter takes (tensor, requires_grad, {})");
        return push(m, args->it[0]);
    case G_STORAGE:
        break;
    }
    return fail(m, "pickle calls torch.%s, which a state_dict does not hold", fn->s);
}

/* BINPERSID: ('storage', torch.XStorage, key, location, numel) */
static int op_persid(pk *m)
{
    pv *id;
    if (pop(m, &id)) return -1;
    if (id->k != PV_TUPLE || id->len != 5 || id->it[0]->k != PV_STR ||
        !eq(id->it[0]->s, id->it[0]->n, "storage"))
        return fail(m, "a persistent id that is not ('storage', type, key, location, size)");
    const pv *ty = id->it[1], *key = id->it[2], *n = id->it[4];
    if (ty->k != PV_GLOBAL || ty->i != G_STORAGE)
        return fail(m, "a storage whose type is not one of torch's storage types");
    if (key->k != PV_STR || id->it[3]->k != PV_STR || !is_int(n) || n->i < 0)
        return fail(m, "a persistent id with a malformed key, location or size");
    pv *v = new_value(m, PV_STORAGE);
    if (v != NULL) {
        v->i = (int64_t)ty->n;
        v->s = key->s;
        v->len = (size_t)key->n;
        v->n = (uint64_t)n->i;
    }
    return push(m, v);
}

/* BUILD on a dict: the OrderedDict's attributes ({'_metadata': ...}). */
static int op_build(pk *m)
{
    pv *state;
    if (pop(m, &state)) return -1;
    pv *obj = peek(m, 0);
    if (obj == NULL) return fail(m, "pickle stack underflow");
    if (obj->k == PV_DICT && (state->k == PV_DICT || state->k == PV_NONE)) return 0;
    return fail(m, "BUILD sets the state of %s from %s, which a state_dict does not do",
                pv_names[obj->k], pv_names[state->k]);
}

/* ------------------------------------------------------------ containers */

static int pop_mark(pk *m, size_t *from)
{
    if (m->nmarks == 0) return fail(m, "opcode 0x%02x without a MARK", m->p[m->op]);
    *from = m->marks[--m->nmarks];
    return 0;
}

/* Items from stack[from..] into c, then drops them. */
static int collect(pk *m, pv *c, size_t from)
{
    for (size_t i = from; i < m->nstack; i++)
        if (add_item(m, c, m->stack[i])) return -1;
    m->nstack = from;
    return 0;
}

static int make_tuple(pk *m, size_t k)
{
    pv *t = new_value(m, PV_TUPLE);
    if (t == NULL) return fail(m, "out of memory");
    if (m->nstack < fence(m) + k) return fail(m, "pickle stack underflow");
    if (collect(m, t, m->nstack - k)) return -1;
    return push(m, t);
}

static int set_items(pk *m, size_t from)
{
    if (from <= fence(m) || from > m->nstack) return fail(m, "pickle stack underflow");
    pv *d = m->stack[from - 1];
    if (d->k != PV_DICT) return fail(m, "SETITEM on %s", pv_names[d->k]);
    if ((m->nstack - from) % 2) return fail(m, "SETITEMS with an odd number of values");
    return collect(m, d, from);
}

static int append_items(pk *m, size_t from)
{
    if (from <= fence(m) || from > m->nstack) return fail(m, "pickle stack underflow");
    pv *l = m->stack[from - 1];
    if (l->k != PV_LIST) return fail(m, "APPEND on %s", pv_names[l->k]);
    return collect(m, l, from);
}

/* ------------------------------------------------------------ memo */

static int memo_put(pk *m, uint64_t idx)
{
    pv *v = peek(m, 0);
    if (v == NULL) return fail(m, "memo of an empty stack");
    if (idx > m->len) return fail(m, "memo index %" PRIu64 " out of range", idx);
    if (idx >= m->nmemo) {
        size_t n = m->nmemo ? m->nmemo : 16;
        while (n <= idx) n *= 2;
        pv **b = realloc(m->memo, n * sizeof *b);
        if (b == NULL) return fail(m, "out of memory");
        memset(b + m->nmemo, 0, (n - m->nmemo) * sizeof *b);
        m->memo = b;
        m->nmemo = n;
    }
    if (m->memo[idx] == NULL) m->memo_len++;
    m->memo[idx] = v;
    return 0;
}

static int memo_get(pk *m, uint64_t idx)
{
    if (idx >= m->nmemo || m->memo[idx] == NULL)
        return fail(m, "memo index %" PRIu64 " was never set", idx);
    return push(m, m->memo[idx]);
}

/* ------------------------------------------------------------ scalars */

static int op_str(pk *m, size_t lenbytes, pv_kind k)
{
    const unsigned char *q = take(m, lenbytes);
    if (q == NULL) return -1;
    uint64_t n = le(q, lenbytes);
    if (n > m->len - m->at) return fail(m, "string of %" PRIu64 " bytes runs past the end", n);
    pv *v = new_value(m, k);
    if (v != NULL) {
        v->s = (const char *)m->p + m->at;
        v->n = n;
    }
    m->at += (size_t)n;
    return push(m, v);
}

static int op_int(pk *m, size_t n, int sign)
{
    const unsigned char *q = take(m, n);
    if (q == NULL) return -1;
    uint64_t u = le(q, n);
    int64_t i;
    if (sign && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~(uint64_t)0 << (8 * n);
    memcpy(&i, &u, sizeof i);
    pv *v = new_value(m, PV_INT);
    if (v != NULL) v->i = i;
    return push(m, v);
}

static int op_long1(pk *m)
{
    const unsigned char *q = take(m, 1);
    if (q == NULL) return -1;
    if (q[0] > 8) return fail(m, "an integer of %d bytes (at most 8 supported)", q[0]);
    if (q[0] == 0) return push(m, new_value(m, PV_INT));
    return op_int(m, q[0], 1);
}

static int op_const(pk *m, pv_kind k, int64_t i)
{
    pv *v = new_value(m, k);
    if (v != NULL) v->i = i;
    return push(m, v);
}

/* ------------------------------------------------------------ the machine */

static int step(pk *m, unsigned char op)
{
    pv *v;
    size_t from = 0;
    const unsigned char *q;
    switch (op) {
    case 0x80: /* PROTO */
        if ((q = take(m, 1)) == NULL) return -1;
        if (q[0] < 2 || q[0] > 5) return fail(m, "pickle protocol %d (2 to 5 supported)", q[0]);
        return 0;
    case 0x95: /* FRAME */
        return take(m, 8) == NULL ? -1 : 0;
    case '}': return push(m, new_value(m, PV_DICT));
    case ']': return push(m, new_value(m, PV_LIST));
    case ')': return push(m, new_value(m, PV_TUPLE));
    case '(':
        if (grow((void **)&m->marks, &m->cmarks, m->nmarks + 1, sizeof *m->marks))
            return fail(m, "out of memory");
        m->marks[m->nmarks++] = m->nstack;
        return 0;
    case 't':
        if (pop_mark(m, &from) || (v = new_value(m, PV_TUPLE)) == NULL) return -1;
        return collect(m, v, from) ? -1 : push(m, v);
    case 'l':
        if (pop_mark(m, &from) || (v = new_value(m, PV_LIST)) == NULL) return -1;
        return collect(m, v, from) ? -1 : push(m, v);
    case 'd':
        if (pop_mark(m, &from) || (v = new_value(m, PV_DICT)) == NULL) return -1;
        if ((m->nstack - from) % 2) return fail(m, "DICT with an odd number of values");
        return collect(m, v, from) ? -1 : push(m, v);
    case 0x85: return make_tuple(m, 1);
    case 0x86: return make_tuple(m, 2);
    case 0x87: return make_tuple(m, 3);
    case 'N': return op_const(m, PV_NONE, 0);
    case 0x88: return op_const(m, PV_BOOL, 1);
    case 0x89: return op_const(m, PV_BOOL, 0);
    case 'K': return op_int(m, 1, 0);
    case 'M': return op_int(m, 2, 0);
    case 'J': return op_int(m, 4, 1);
    case 0x8a: return op_long1(m);
    case 'G':
        if (take(m, 8) == NULL) return -1;
        return push(m, new_value(m, PV_FLOAT));
    case 'X': return op_str(m, 4, PV_STR);
    case 0x8c: return op_str(m, 1, PV_STR);
    case 0x8d: return op_str(m, 8, PV_STR);
    case 'C': return op_str(m, 1, PV_BYTES);
    case 'B': return op_str(m, 4, PV_BYTES);
    case 'q': return (q = take(m, 1)) == NULL ? -1 : memo_put(m, q[0]);
    case 'r': return (q = take(m, 4)) == NULL ? -1 : memo_put(m, le(q, 4));
    case 0x94: return memo_put(m, m->memo_len);
    case 'h': return (q = take(m, 1)) == NULL ? -1 : memo_get(m, q[0]);
    case 'j': return (q = take(m, 4)) == NULL ? -1 : memo_get(m, le(q, 4));
    case 'c': return op_global(m);
    case 0x93: return op_stack_global(m);
    case 'R': return op_reduce(m);
    case 'b': return op_build(m);
    case 'Q': return op_persid(m);
    case 's': return set_items(m, m->nstack >= 2 ? m->nstack - 2 : 0);
    case 'u': return pop_mark(m, &from) ? -1 : set_items(m, from);
    case 'a': return append_items(m, m->nstack >= 1 ? m->nstack - 1 : 0);
    case 'e': return pop_mark(m, &from) ? -1 : append_items(m, from);
    case '0': return pop(m, &v);
    case '1': return pop_mark(m, &from) ? -1 : (m->nstack = from, 0);
    }
    if (op >= 0x20 && op < 0x7f)
        return fail(m, "pickle opcode '%c' (0x%02x), which a state_dict does not use", op, op);
    return fail(m, "pickle opcode 0x%02x, which a state_dict does not use", op);
}

/* The state_dict's entries from the pickle's result. */
static int result(pk *m, const pv *d, nnr_pth_view **views, size_t *n)
{
    if (d->k != PV_DICT)
        return fail(m, "the pickle holds %s, not a state_dict (a dict of tensors)",
                    pv_names[d->k]);
    size_t cnt = d->len / 2;
    nnr_pth_view *out = calloc(cnt ? cnt : 1, sizeof *out);
    if (out == NULL) return fail(m, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        const pv *k = d->it[2 * i], *v = d->it[2 * i + 1];
        char nm[PK_SNIP + 8];
        if (k->k != PV_STR) {
            free(out);
            return fail(m, "the state_dict has a key that is %s, not a str", pv_names[k->k]);
        }
        if (v->k != PV_TENSOR) {
            free(out);
            return fail(m, "the state_dict's entry '%s' holds %s, not a tensor%s",
                        snip(nm, sizeof nm, k->s, k->n), pv_names[v->k],
                        v->k == PV_DICT ? " (a checkpoint? save the state_dict itself)" : "");
        }
        out[i] = *v->t;
        out[i].name = k->s;
        out[i].name_len = k->n;
    }
    *views = out;
    *n = cnt;
    return 0;
}

int nnr_pth_unpickle(const unsigned char *p, size_t len, size_t base, const char *path,
                     nnr_pth_view **views, size_t *n, char *err, size_t errlen)
{
    pk m;
    memset(&m, 0, sizeof m);
    m.p = p;
    m.len = len;
    m.base = base;
    m.path = NNR_IO_NAME(path);
    m.err = err;
    m.errlen = errlen;
    *views = NULL;
    *n = 0;
    int rc = -1, done = 0;
    while (!done) {
        m.op = m.at;
        if (m.at >= m.len) {
            fail(&m, "pickle ends without STOP");
            break;
        }
        unsigned char op = m.p[m.at++];
        if (op == '.') {
            pv *top;
            if (pop(&m, &top) == 0 && (m.nstack != 0 || m.nmarks != 0))
                fail(&m, "pickle STOP leaves values on the stack");
            else if (m.nstack == 0 && m.nmarks == 0 && top != NULL)
                rc = result(&m, top, views, n);
            done = 1;
        } else if (step(&m, op) != 0) {
            done = 1;
        }
    }
    for (size_t i = 0; i < m.narena; i++) {
        free(m.arena[i]->it);
        free(m.arena[i]->t);
        free(m.arena[i]);
    }
    free(m.arena);
    free(m.stack);
    free(m.marks);
    free(m.memo);
    return rc;
}
