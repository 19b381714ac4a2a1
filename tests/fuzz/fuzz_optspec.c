/* fuzz_optspec.c — libFuzzer target for a program's --optimizer parser
 * (nnr_parse_optimizer): any string is accepted with finite, checked
 * hyper-parameters or refused with a message. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnr_prog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    nnr_optim o;
    char err[256];
    err[0] = '\0';
    if (nnr_parse_optimizer(s, &o, err, sizeof err) == 0) {
        if (!(o.lr >= 0) || !(o.weight_decay >= 0) || o.kind > NNR_OPT_ADAMW) abort();
        if (o.kind != NNR_OPT_SGD && !(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1))
            abort();
    } else if (err[0] == '\0' || memchr(err, '\0', sizeof err) == NULL) {
        abort(); /* every refusal says why */
    }
    free(s);
    return 0;
}
