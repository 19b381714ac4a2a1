/* json.c — a small, strict JSON parser for the safetensors header. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jp {
    const unsigned char *s;
    size_t len, i;
    nnr_json_doc *doc;
    size_t err_pos;
    char *msg;
    size_t msglen;
} jp;

static int fail(jp *p, size_t pos, const char *what)
{
    p->err_pos = pos;
    if (p->msg != NULL && p->msglen > 0) snprintf(p->msg, p->msglen, "%s", what);
    return -1;
}

static void skip_ws(jp *p)
{
    while (p->i < p->len) {
        unsigned char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static int new_value(jp *p, nnr_json_type t, size_t pos, size_t *idx)
{
    nnr_json_doc *d = p->doc;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        if (cap < d->cap || cap > SIZE_MAX / sizeof(nnr_json_value))
            return fail(p, pos, "out of memory");
        nnr_json_value *v = realloc(d->v, cap * sizeof *v);
        if (v == NULL) return fail(p, pos, "out of memory");
        d->v = v;
        d->cap = cap;
    }
    nnr_json_value *v = &d->v[d->n];
    memset(v, 0, sizeof *v);
    v->type = t;
    v->pos = pos;
    v->first = NNR_JSON_NONE;
    v->next = NNR_JSON_NONE;
    *idx = d->n++;
    return 0;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = s[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t k;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF) { k = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { k = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < k) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string at p->i (which is '"'); its decoded text goes into the
 * arena (never longer than the raw text, so the arena sized len + 1 is
 * enough... plus one NUL per string, covered by the two quotes). */
static int parse_string(jp *p, const char **out, size_t *out_len)
{
    nnr_json_doc *d = p->doc;
    size_t start = d->slen;
    char *o = d->strings + start;
    size_t k = 0;
    p->i++; /* opening quote */
    for (;;) {
        if (p->i >= p->len) return fail(p, p->i, "unterminated string");
        unsigned char c = p->s[p->i];
        if (c == '"') { p->i++; break; }
        if (c < 0x20) return fail(p, p->i, "control character in a string");
        if (c == '\\') {
            if (p->i + 1 >= p->len) return fail(p, p->i, "unterminated string");
            unsigned char e = p->s[p->i + 1];
            switch (e) {
            case '"': o[k++] = '"'; p->i += 2; break;
            case '\\': o[k++] = '\\'; p->i += 2; break;
            case '/': o[k++] = '/'; p->i += 2; break;
            case 'b': o[k++] = '\b'; p->i += 2; break;
            case 'f': o[k++] = '\f'; p->i += 2; break;
            case 'n': o[k++] = '\n'; p->i += 2; break;
            case 'r': o[k++] = '\r'; p->i += 2; break;
            case 't': o[k++] = '\t'; p->i += 2; break;
            case 'u': {
                unsigned cp, lo;
                if (p->len - p->i < 6 || hex4(p->s + p->i + 2, &cp) != 0)
                    return fail(p, p->i, "bad \\u escape (expected 4 hex digits)");
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail(p, p->i, "lone low surrogate in a \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (p->len - p->i < 12 || p->s[p->i + 6] != '\\' ||
                        p->s[p->i + 7] != 'u' || hex4(p->s + p->i + 8, &lo) != 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return fail(p, p->i, "lone high surrogate in a \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p->i += 12;
                } else {
                    p->i += 6;
                }
                k += put_utf8(o + k, cp);
                break;
            }
            default:
                return fail(p, p->i, "bad escape in a string");
            }
        } else {
            size_t n = utf8_len(p->s + p->i, p->len - p->i);
            if (n == 0) return fail(p, p->i, "invalid UTF-8 in a string");
            memcpy(o + k, p->s + p->i, n);
            k += n;
            p->i += n;
        }
    }
    o[k] = '\0';
    d->slen = start + k + 1;
    *out = o;
    *out_len = k;
    return 0;
}

static int parse_number(jp *p, nnr_json_value *v)
{
    const unsigned char *s = p->s;
    size_t i = p->i, start = p->i;
    int neg = 0, plain = 1;
    if (i < p->len && s[i] == '-') { neg = 1; i++; }
    if (i >= p->len || s[i] < '0' || s[i] > '9') return fail(p, i, "bad number");
    if (s[i] == '0') {
        i++;
        if (i < p->len && s[i] >= '0' && s[i] <= '9')
            return fail(p, i, "leading zero in a number");
    } else {
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && s[i] == '.') {
        plain = 0;
        i++;
        if (i >= p->len || s[i] < '0' || s[i] > '9')
            return fail(p, i, "expected a digit after '.'");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        plain = 0;
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->len || s[i] < '0' || s[i] > '9')
            return fail(p, i, "expected a digit in the exponent");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    size_t n = i - start;
    v->is_uint = 0;
    if (!neg && plain) {
        uint64_t u = 0;
        int ok = 1;
        for (size_t j = start; j < i; j++) {
            unsigned dgt = (unsigned)(s[j] - '0');
            if (u > (UINT64_MAX - dgt) / 10) { ok = 0; break; }
            u = u * 10 + dgt;
        }
        if (ok) { v->is_uint = 1; v->u = u; }
    }
    char small[64];
    char *tmp = small;
    if (n >= sizeof small) {
        tmp = malloc(n + 1);
        if (tmp == NULL) return fail(p, start, "out of memory");
    }
    memcpy(tmp, s + start, n);
    tmp[n] = '\0';
    v->num = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    p->i = i;
    return 0;
}

static int parse_value(jp *p, size_t *out, int depth);

static int parse_container(jp *p, size_t self, int is_obj, int depth)
{
    unsigned char close = is_obj ? '}' : ']';
    size_t prev = NNR_JSON_NONE;
    p->i++; /* '{' or '[' */
    skip_ws(p);
    if (p->i < p->len && p->s[p->i] == close) { p->i++; return 0; }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0, key_pos = 0, child;
        skip_ws(p);
        if (is_obj) {
            if (p->i >= p->len || p->s[p->i] != '"')
                return fail(p, p->i, p->i >= p->len ? "unexpected end of the header"
                                                    : "expected a string key");
            key_pos = p->i;
            if (parse_string(p, &key, &key_len) != 0) return -1;
            skip_ws(p);
            if (p->i >= p->len || p->s[p->i] != ':')
                return fail(p, p->i, "expected ':' after an object key");
            p->i++;
        }
        if (parse_value(p, &child, depth + 1) != 0) return -1;
        nnr_json_value *c = &p->doc->v[child];
        c->key = key;
        c->key_len = key_len;
        c->key_pos = key_pos;
        if (prev == NNR_JSON_NONE) p->doc->v[self].first = child;
        else p->doc->v[prev].next = child;
        prev = child;
        p->doc->v[self].count++;
        skip_ws(p);
        if (p->i >= p->len) return fail(p, p->i, "unexpected end of the header");
        if (p->s[p->i] == ',') { p->i++; continue; }
        if (p->s[p->i] == close) { p->i++; return 0; }
        return fail(p, p->i, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int match_lit(jp *p, const char *lit)
{
    size_t n = strlen(lit);
    if (p->len - p->i < n || memcmp(p->s + p->i, lit, n) != 0) return -1;
    p->i += n;
    return 0;
}

static int parse_value(jp *p, size_t *out, int depth)
{
    if (depth > NNR_JSON_MAX_DEPTH) return fail(p, p->i, "nesting too deep");
    skip_ws(p);
    if (p->i >= p->len) return fail(p, p->i, "unexpected end of the header");
    size_t pos = p->i, idx;
    unsigned char c = p->s[pos];
    switch (c) {
    case '{':
    case '[':
        if (new_value(p, c == '{' ? NNR_JSON_OBJECT : NNR_JSON_ARRAY, pos, &idx) != 0)
            return -1;
        if (parse_container(p, idx, c == '{', depth) != 0) return -1;
        break;
    case '"': {
        const char *s;
        size_t n;
        if (new_value(p, NNR_JSON_STRING, pos, &idx) != 0) return -1;
        if (parse_string(p, &s, &n) != 0) return -1;
        p->doc->v[idx].str = s;
        p->doc->v[idx].str_len = n;
        break;
    }
    case 't':
    case 'f':
    case 'n': {
        nnr_json_type t = c == 't' ? NNR_JSON_TRUE : c == 'f' ? NNR_JSON_FALSE : NNR_JSON_NULL;
        const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if (match_lit(p, lit) != 0) return fail(p, pos, "unexpected character");
        if (new_value(p, t, pos, &idx) != 0) return -1;
        break;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            if (new_value(p, NNR_JSON_NUMBER, pos, &idx) != 0) return -1;
            if (parse_number(p, &p->doc->v[idx]) != 0) return -1;
            break;
        }
        return fail(p, pos, "unexpected character");
    }
    *out = idx;
    return 0;
}

int nnr_json_parse(const char *buf, size_t len, nnr_json_doc *doc, size_t *err_pos,
                   char *msg, size_t msglen)
{
    memset(doc, 0, sizeof *doc);
    if (msg != NULL && msglen > 0) msg[0] = '\0';
    jp p = {(const unsigned char *)buf, len, 0, doc, 0, msg, msglen};
    /* Decoded strings are never longer than their raw text, and each raw
     * string has two quotes to pay for its NUL: len + 1 bytes suffice. */
    if (len == SIZE_MAX) { fail(&p, 0, "input too large"); goto bad; }
    doc->scap = len + 1;
    doc->strings = malloc(doc->scap);
    if (doc->strings == NULL) { fail(&p, 0, "out of memory"); goto bad; }
    size_t root;
    if (buf == NULL && len > 0) { fail(&p, 0, "no input"); goto bad; }
    if (parse_value(&p, &root, 1) != 0) goto bad;
    skip_ws(&p);
    if (p.i != len) { fail(&p, p.i, "unexpected data after the top-level value"); goto bad; }
    return 0;
bad:
    if (err_pos != NULL) *err_pos = p.err_pos;
    nnr_json_free(doc);
    return -1;
}

void nnr_json_free(nnr_json_doc *doc)
{
    if (doc == NULL) return;
    free(doc->v);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}
