/* Unit tests of nnr_parse_optimizer (runtime/io/optspec.c): the train
 * block's optimizer syntax and defaults (LANGUAGE.md §5) from a string, as a
 * program's --optimizer gives it. Expected values are the torch.optim
 * defaults written out by hand. */
#include <criterion/criterion.h>
#include <string.h>

#include "nnr_prog.h"

static nnr_optim parse_ok(const char *s)
{
    nnr_optim o;
    char err[256] = "";
    memset(&o, 0xff, sizeof o);
    cr_assert_eq(nnr_parse_optimizer(s, &o, err, sizeof err), 0, "%s: %s", s, err);
    return o;
}

static void parse_bad(const char *s, const char *want)
{
    nnr_optim o;
    char err[256] = "";
    cr_expect_eq(nnr_parse_optimizer(s, &o, err, sizeof err), -1, "%s was accepted", s);
    cr_expect(strstr(err, want) != NULL, "%s: expected '%s' in '%s'", s, want, err);
}

Test(optspec, sgd_defaults_and_keywords)
{
    nnr_optim o = parse_ok("sgd(lr = 0.05, momentum = 0.9)");
    cr_expect_eq(o.kind, NNR_OPT_SGD);
    cr_expect_eq(o.lr, 0.05);
    cr_expect_eq(o.momentum, 0.9);
    cr_expect_eq(o.dampening, 0.0);
    cr_expect_eq(o.weight_decay, 0.0);
    cr_expect_eq(o.nesterov, 0);
    o = parse_ok(" sgd( 0.1 , 0.5, 0, 1e-4, nesterov = true ) ");
    cr_expect_eq(o.lr, 0.1);
    cr_expect_eq(o.momentum, 0.5);
    cr_expect_eq(o.weight_decay, 1e-4);
    cr_expect_eq(o.nesterov, 1);
}

Test(optspec, adam_and_adamw_defaults)
{
    nnr_optim o = parse_ok("adam");
    cr_expect_eq(o.kind, NNR_OPT_ADAM);
    cr_expect_eq(o.lr, 1e-3);
    cr_expect_eq(o.beta1, 0.9);
    cr_expect_eq(o.beta2, 0.999);
    cr_expect_eq(o.eps, 1e-8);
    cr_expect_eq(o.weight_decay, 0.0);
    o = parse_ok("adamw(lr = .01)");
    cr_expect_eq(o.kind, NNR_OPT_ADAMW);
    cr_expect_eq(o.lr, 0.01);
    cr_expect_eq(o.weight_decay, 0.01);
    o = parse_ok("adamw(0.002, 0.8, 0.99, 1e-6, 0)");
    cr_expect_eq(o.beta1, 0.8);
    cr_expect_eq(o.beta2, 0.99);
    cr_expect_eq(o.eps, 1e-6);
    cr_expect_eq(o.weight_decay, 0.0);
}

Test(optspec, errors)
{
    parse_bad("sgd()", "lr");
    parse_bad("sgd(lr = 0.1", "");
    parse_bad("sdg(lr = 0.1)", "unknown optimizer");
    parse_bad("adam(lr = 0.1, lr = 0.2)", "twice");
    parse_bad("adam(lr = 0.1, 0.9)", "positional");
    parse_bad("sgd(lr = 0.1, beta1 = 0.9)", "beta1");
    parse_bad("adam(beta1 = 1.5)", "[0, 1)");
    parse_bad("sgd(lr = -1)", "negative");
    parse_bad("sgd(lr = 0.1, momentum = -0.5)", "momentum must not be negative");
    parse_bad("adam(eps = -1)", "eps must not be negative");
    parse_bad("adamw(weight_decay = -0.01)", "weight_decay must not be negative");
    parse_bad("sgd(lr = 0.1, nesterov = true)", "nesterov");
    parse_bad("sgd(lr = 0.1) x", "");
    parse_bad("", "");
}

/* PyTorch's Adam(betas = (b1, b2)) written as a list (or a tuple) is beta1
 * and beta2; not with beta1 or beta2 also, only two numbers, not sgd's. */
Test(optspec, adam_betas_list)
{
    nnr_optim o = parse_ok("adam(lr = 0.01, betas = [0.8, 0.99], eps = 1e-6)");
    cr_expect_eq(o.lr, 0.01);
    cr_expect_eq(o.beta1, 0.8);
    cr_expect_eq(o.beta2, 0.99);
    cr_expect_eq(o.eps, 1e-6);
    o = parse_ok("adamw(betas=( 0.5 ,0.75 ))");
    cr_expect_eq(o.beta1, 0.5);
    cr_expect_eq(o.beta2, 0.75);
    cr_expect_eq(o.weight_decay, 0.01);
    parse_bad("adam(betas = [0.8])", "'betas' must be a list of two numbers");
    parse_bad("adam(betas = [0.8, 0.9, 0.99])", "'betas' must be a list of two numbers");
    parse_bad("adam(betas = [0.8, 0.9)", "'betas' must be a list of two numbers");
    parse_bad("adam(betas = 0.9)", "'betas' must be a list of two numbers");
    parse_bad("adam(beta2 = 0.9, betas = [0.8, 0.9])", "betas and beta2 are both given");
    parse_bad("adam(betas = [0.8, 0.9], beta1 = 0.9)", "'beta1' is given twice");
    parse_bad("adam(betas = [0.8, 1.0])", "beta1 and beta2 must be in [0, 1)");
    parse_bad("sgd(lr = 0.1, betas = [0.8, 0.9])", "sgd has no argument 'betas'");
}
