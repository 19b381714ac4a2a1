/* export_torch.h — `nnc export FILE.nnet --torch`: a model's graph (as
 * lowered, before the optimisation passes) printed as a self-contained
 * PyTorch script: an nn.Module whose state_dict keys are the model's
 * parameter names, and a main that reads a weights file and CSV rows and
 * prints what the compiled program's `infer` prints.
 *
 * export_torch.c writes the script (module tree, forward, the reader and
 * printer); export_torch_ops.c knows each op's PyTorch spelling. */
#ifndef NNC_EXPORT_TORCH_H
#define NNC_EXPORT_TORCH_H

#include "ir/ir.h"

/* The script for graph g of source file `source`, to be written as `script`
 * (both named in its header), in a malloc'd string, or NULL after a diagnostic in d (an op that has no
 * PyTorch spelling, named with its layer's position). */
char *export_torch(const Graph *g, const char *source, const char *script, Diag *d);

/* export_torch_ops.c: node n's spelling. `in` holds the Python expressions
 * of its inputs (n->in order). */
/* The nn.Module constructor of a node with parameters ("nn.Linear(64, 10)"),
 * or NULL when the op has none. */
char *xt_module(const Graph *g, const Node *n);
/* The forward expression of node n; `mod` is the expression of its module
 * (xt_module's, registered) or NULL. NULL when the op has no spelling. */
char *xt_forward(const Graph *g, const Node *n, const char *mod, char *const *in);
/* The spelling of the tensor operations (export_torch_tensor.c), as
 * xt_forward; NULL for an op it does not know. */
char *xt_forward_tensor(const Graph *g, const Node *n, char *const *in);
/* Helpers the spelling needs, emitted once before the model's class when a
 * node of the graph uses them (a bit per helper, XT_H_*). */
enum { XT_H_SDPA = 1 << 0, XT_H_NOBIAS = 1 << 1 };
int xt_helpers(const Node *n);
/* export_torch_py.c: the script's reader, printer and main, as lines
 * (NULL-terminated). */
extern const char *const xt_python_main[];
/* A double as the shortest Python literal that reads back exactly ("1e-05",
 * "0.1", "2.0", "float('inf')"). */
char *xt_num(double v);

#endif
