/* json.h — a small, strict JSON parser (RFC 8259) for the safetensors header
 * (internal to the runtime). The whole document becomes an array of values;
 * containers link their children by index. Input is a bounded buffer (no NUL
 * needed); nesting is limited to NNR_JSON_MAX_DEPTH. */
#ifndef NNR_JSON_H
#define NNR_JSON_H

#include <stddef.h>
#include <stdint.h>

#define NNR_JSON_MAX_DEPTH 64
#define NNR_JSON_NONE ((size_t)-1)

typedef enum nnr_json_type {
    NNR_JSON_NULL = 0,
    NNR_JSON_FALSE,
    NNR_JSON_TRUE,
    NNR_JSON_NUMBER,
    NNR_JSON_STRING,
    NNR_JSON_ARRAY,
    NNR_JSON_OBJECT,
} nnr_json_type;

typedef struct nnr_json_value {
    nnr_json_type type;
    size_t pos;          /* offset of the value's first byte in the input */
    /* When the value is an object member: its key (decoded, NUL-terminated;
     * key_len excludes the NUL, and the key may hold embedded NULs). */
    const char *key;
    size_t key_len;
    size_t key_pos;
    /* NNR_JSON_STRING: decoded UTF-8, NUL-terminated. */
    const char *str;
    size_t str_len;
    /* NNR_JSON_NUMBER: value; is_uint when the literal is a plain
     * non-negative integer (no sign, fraction or exponent) that fits u. */
    double num;
    int is_uint;
    uint64_t u;
    /* Containers: number of children, index of the first one. */
    size_t count;
    size_t first;
    /* Index of the next sibling in the parent container, or NNR_JSON_NONE. */
    size_t next;
} nnr_json_value;

typedef struct nnr_json_doc {
    nnr_json_value *v;   /* v[0] is the root */
    size_t n, cap;
    char *strings;       /* arena of decoded strings */
    size_t slen, scap;
} nnr_json_doc;

/* 0 on success. On failure -1, *err_pos = offset in buf of the problem and a
 * short description in msg (e.g. "expected ':' after an object key"). Only
 * whitespace may follow the top-level value. */
int nnr_json_parse(const char *buf, size_t len, nnr_json_doc *doc, size_t *err_pos,
                   char *msg, size_t msglen);
void nnr_json_free(nnr_json_doc *doc);

#endif
