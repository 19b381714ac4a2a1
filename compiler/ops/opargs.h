/* opargs.h — what an op family's build hook needs from the front end, as a
 * small interface: the argument schema it declares (ArgSpec) and accessors
 * for the arguments bound to it (compiler/ops/args.c). A family never sees
 * the front end's evaluated values: Value stays an opaque type here. */
#ifndef NNC_OPARGS_H
#define NNC_OPARGS_H

#include <stdint.h>
#include "../support/diag.h"

/* AT_VALUE: a graph value (a node input, not a compile-time argument);
 * AT_VALUES: a list of graph values (cat's tensors). An op's schema lists
 * its value slots first; the front end turns them into the node's inputs
 * in slot order (a list expands to several), and a family's build hook
 * reads only the other slots. */
typedef enum ArgType {
    AT_INT = 1, AT_REAL = 2, AT_BOOL = 4, AT_LIST = 8, AT_STR = 16, AT_VALUE = 32, AT_VALUES = 64
} ArgType;
typedef struct ArgSpec {
    const char *name;
    int types;          /* ArgType mask; AT_REAL accepts integers too */
    int required;
} ArgSpec;

/* An evaluated argument (defined by the front end, compiler/front/sema.h). */
typedef struct Value Value;

#endif
