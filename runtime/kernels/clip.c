/* clip.c — torch.nn.utils.clip_grad_norm_ with norm_type 2: the norm of
 * each parameter's gradient (squares summed in double, rounded to float as
 * torch.linalg.vector_norm's float result), the total norm of those norms,
 * and every gradient scaled by clamp(max_norm / (total + 1e-6), max = 1) in
 * float, applied even when it is 1, as PyTorch does. */
#include <math.h>
#include <stddef.h>

#include "../nnr.h"

float nnr_clip_grad_norm(float *const *g, const size_t *len, int n, double max_norm)
{
    double tot = 0.0;
    for (int i = 0; i < n; i++) {
        double ss = 0.0;
        for (size_t j = 0; j < len[i]; j++)
            ss += (double)g[i][j] * g[i][j];
        float norm = (float)sqrt(ss);   /* torch.linalg.vector_norm of one tensor */
        tot += (double)norm * norm;
    }
    const float total = (float)sqrt(tot);
    float coef = (float)max_norm / (total + 1e-6f);
    if (coef > 1.0f)
        coef = 1.0f;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < len[i]; j++)
            g[i][j] *= coef;
    return total;
}
