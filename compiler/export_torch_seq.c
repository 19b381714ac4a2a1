/* export_torch_seq.c — the PyTorch spelling of the sequence layers
 * (export_torch.h): nn.Embedding, nn.LSTM, nn.GRU and nn.MultiheadAttention
 * (batch_first, as nnc always is) hold parameters named as PyTorch names
 * them; arange is the positions expanded over the batch; rnn_result takes
 * one result of an lstm/gru call: out, or h_n / c_n with the batch moved
 * first (nnc's [layers·directions, hidden] per sample); attention with a
 * causal mask goes through helpers that PyTorch 1.13 runs too (its
 * MultiheadAttention has no is_causal, its F has no sdpa). */
#include <string.h>

#include "export_torch.h"

char *xt_module_seq(const Graph *g, const Node *n)
{
    (void)g;
    switch (n->op) {
    case OP_EMBEDDING:
        return xasprintf("nn.Embedding(%lld, %lld%s)", (long long)n->embedding.num_embeddings,
                         (long long)n->embedding.embedding_dim,
                         n->embedding.padding_idx >= 0
                             ? xasprintf(", padding_idx=%lld", (long long)n->embedding.padding_idx)
                             : "");
    case OP_LSTM:
    case OP_GRU: {
        char *s = xasprintf("nn.%s(%lld, %lld", n->op == OP_LSTM ? "LSTM" : "GRU", (long long)n->rnn.input_size,
                            (long long)n->rnn.hidden_size);
        if (n->rnn.num_layers != 1)
            s = xasprintf("%s, num_layers=%lld", s, (long long)n->rnn.num_layers);
        if (n->rnn.bias == 0)
            s = xasprintf("%s, bias=False", s);
        s = xasprintf("%s, batch_first=True", s);
        if (n->rnn.dropout != 0)
            s = xasprintf("%s, dropout=%s", s, xt_num(n->rnn.dropout));
        if (n->rnn.bidirectional != 0)
            s = xasprintf("%s, bidirectional=True", s);
        return xasprintf("%s)", s);
    }
    case OP_MHA:
        return xasprintf("nn.MultiheadAttention(%lld, %lld%s, batch_first=True)", (long long)n->mha.embed_dim,
                         (long long)n->mha.num_heads, n->mha.bias != 0 ? "" : ", bias=False");
    default:
        return NULL;
    }
}

char *xt_forward_seq(const Graph *g, const Node *n, const char *mod, char *const *in)
{
    switch (n->op) {
    case OP_EMBEDDING:      /* indices: int inputs are long already; others are floats of integers */
        return xasprintf("%s(%s.long())", mod, in[0]);
    case OP_LSTM:
    case OP_GRU:            /* (out, (h_n, c_n)) or (out, h_n), read by rnn_result */
        return xasprintf("%s(%s)", mod, in[0]);
    case OP_ARANGE:
        return xasprintf("torch.arange(%lld).expand(B, %lld)", (long long)n->attr[0], (long long)n->attr[0]);
    case OP_RNN_RESULT: {
        int k = (int)n->attr[0];
        int lstm = n->in[0] >= 0 && g->nodes[n->in[0]].op == OP_LSTM;
        if (k == 0)
            return xasprintf("%s[0]", in[0]);
        return xasprintf("%s[1]%s.transpose(0, 1)", in[0], lstm ? (k == 1 ? "[0]" : "[1]") : "");
    }
    case OP_MHA:
        return xasprintf("%s(%s, %s, %s, need_weights=False%s)[0]", mod, in[0], in[1], in[2],
                         n->mha.is_causal != 0 ? xasprintf(", attn_mask=_causal_mask(%s, %s)", in[0], in[1]) : "");
    case OP_SDPA:
        return xasprintf("_sdpa(%s, %s, %s%s)", in[0], in[1], in[2], n->attr[0] != 0 ? ", is_causal=True" : "");
    case OP_GELU_TANH:
        return xasprintf("F.gelu(%s, approximate=\"tanh\")", in[0]);
    default:
        return NULL;
    }
}
