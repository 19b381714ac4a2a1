/* prog_shard.c — train and eval over several processes (prog_par.h), as
 * PyTorch's DistributedDataParallel with a DistributedSampler: every rank
 * takes the rows rank, rank + K, rank + 2K, ... of each global batch (the
 * same global batches as one process), the gradients are summed with
 * weights rows_k / rows so that a partial last batch is right, and the
 * validation or eval metrics are summed over contiguous shares of the
 * rows. With one process every call is the one-process computation. */
#include "prog_int.h"
#include "prog_par.h"

#include <math.h>
#include <string.h>

size_t prog_shard_count(size_t n, size_t *first)
{
    size_t k = (size_t)prog_par_rank(), K = (size_t)prog_par_size();
    *first = k;
    return k < n ? (n - 1 - k) / K + 1 : 0;
}

double prog_shard_reduce(trainer *t, double loss, size_t mine, size_t n)
{
    if (prog_par_size() == 1)
        return loss;
    double w = (double)mine / (double)n, sum = mine ? loss * (double)mine : 0;
    for (int r = 0; r < t->nruns; r++) {
        float *g = t->grad + t->run_off[r];
        size_t len = t->run_len[r];
        if (!mine) {
            memset(g, 0, len * sizeof *g);
        } else if (mine != n) {
            float fw = (float)w;
            for (size_t j = 0; j < len; j++)
                g[j] *= fw;
        }
        prog_par_sum_f(g, len);
    }
    prog_par_sum_d(&sum, 1);
    return sum / (double)n;
}

void prog_shard_buffers(const nnr_model *m, float *state)
{
    if (prog_par_size() == 1)
        return;
    for (int i = 0; i < m->ntensors; i++) {
        const nnr_tensor_desc *d = &m->tensors[i];
        if (d->kind != NNR_T_PARAM && d->numel)
            prog_par_bcast_f(state + d->offset, d->numel);
    }
}

int prog_shard_evaluate(const nnr_model *m, nnr_loss loss, const float *infer,
                        const prog_data *p, int bs, float *arena, float *ybuf, double *loss_out,
                        double *acc_out)
{
    size_t K = (size_t)prog_par_size(), k = (size_t)prog_par_rank(), rows = p->d.rows;
    if (K == 1)
        return prog_evaluate(m, loss, infer, p, bs, arena, ybuf, loss_out, acc_out);
    size_t lo = rows * k / K, hi = rows * (k + 1) / K, out = m->out_size;
    size_t tstride = p->own_targets ? 1 : out;
    prog_data v = *p;
    v.d.rows = hi - lo;
    v.d.x = p->d.x + lo * m->in_size;
    if (p->d.labels)
        v.d.labels = p->d.labels + lo;
    if (p->labels)
        v.labels = p->labels + lo;
    if (p->targets)
        v.targets = p->targets + lo * tstride;
    double l = 0, acc = 0;
    int rc = hi > lo ? prog_evaluate(m, loss, infer, &v, bs, arena, ybuf, &l, &acc) : 0;
    if (prog_par_agree(rc ? EXIT_INPUT : 0))
        return -1;
    size_t per_row = p->accuracy == 2 || p->accuracy == 3 ? out : 1;
    double sums[2] = {hi > lo ? l * (double)(hi - lo) : 0,
                      hi > lo && p->accuracy ? round(acc * (double)((hi - lo) * per_row)) : 0};
    prog_par_sum_d(sums, 2);
    *loss_out = sums[0] / (double)rows;
    *acc_out = p->accuracy ? sums[1] / (double)(rows * per_row) : NAN;
    return 0;
}

int prog_shard_same_state(const nnr_model *m, const float *state)
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *b = (const unsigned char *)state;
    for (size_t i = 0; i < m->state_size * sizeof(float); i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    int k = prog_par_differs((unsigned long long)h);
    if (k >= 0)
        fprintf(stderr, "warning: the parameters of rank %d differ from rank 0's after training "
                "(the MPI library's sums were not the same on every rank); rank 0's are "
                "saved\n", k);
    return k < 0 ? 0 : -1;
}
