/* test_parser.c — nnc_parse and ast_dump: every grammar form, spans,
 * syntax-error messages with their positions, deep nesting, and the golden
 * files of tests/golden/parse (NAME.nnet with NAME.ast, or NAME.err for a
 * file that must fail; the diagnostics name the file "NAME.nnet").
 * UPDATE_GOLDEN=1 rewrites the expectations. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/ast.h"

/* ---- capturing stderr and stdout-like dumps ---- */

static char *slurp(FILE *f)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    rewind(f);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    return buf;
}

typedef struct Parsed {
    int rc;
    int nerrors;
    Ast ast;
    char *dump;         /* ast_dump output ("" after an error) */
    char *err;          /* stderr */
} Parsed;

static Parsed parse_bytes(const char *path, const char *text, size_t len)
{
    Parsed p = {0};
    SrcFile *src = malloc(sizeof *src);     /* spans outlive the call */
    *src = (SrcFile){path, text, len};
    Diag diag;
    diag_init(&diag, src);

    fflush(stderr);
    FILE *errf = tmpfile();
    cr_assert_not_null(errf);
    int saved = dup(2);
    dup2(fileno(errf), 2);
    p.rc = nnc_parse(src, &diag, &p.ast);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    p.err = slurp(errf);
    fclose(errf);
    p.nerrors = diag.nerrors;

    FILE *df = tmpfile();
    ast_dump(&p.ast, df);
    fflush(df);
    p.dump = slurp(df);
    fclose(df);
    return p;
}

static Parsed parse(const char *text)
{
    return parse_bytes("t.nnet", text, strlen(text));
}

static void assert_dump(const char *text, const char *want)
{
    Parsed p = parse(text);
    cr_assert_eq(p.rc, 0, "parse failed: %s", p.err);
    cr_assert_str_eq(p.err, "");
    cr_assert_str_eq(p.dump, want);
}

static void assert_error(const char *text, const char *want)
{
    Parsed p = parse(text);
    cr_assert_neq(p.rc, 0, "no error, expected %s", want);
    cr_assert_eq(p.nerrors, 1);
    cr_assert_str_eq(p.err, want);
    cr_assert_null(p.ast.decls, "declarations left after an error");
}

static void assert_span(Span sp, int line, int col, int end_col)
{
    cr_assert(sp.line == line && sp.col == col && sp.end_col == end_col,
              "span %d:%d-%d, expected %d:%d-%d",
              sp.line, sp.col, sp.end_col, line, col, end_col);
}

/* ---- the example of LANGUAGE.md §1 ---- */

static const char *digits =
    "# digits.nnet \xe2\x80\x94 classify 8x8 digit images\n"
    "let hidden = 128\n"
    "\n"
    "model digits {\n"
    "    input [64]                       # shape of ONE sample; the batch is implicit\n"
    "    linear(64, hidden)\n"
    "    relu\n"
    "    linear(hidden, 64)\n"
    "    relu\n"
    "    head = linear(64, 10)            # a named layer: \"head.weight\", \"head.bias\"\n"
    "}\n"
    "\n"
    "train digits {\n"
    "    data       = csv(\"data/digits_train.csv\", label = -1)\n"
    "    validation = csv(\"data/digits_test.csv\", label = -1)\n"
    "    loss       = cross_entropy\n"
    "    optimizer  = sgd(lr = 0.05, momentum = 0.9)\n"
    "    epochs     = 20\n"
    "    batch      = 32\n"
    "    shuffle    = true\n"
    "    seed       = 314\n"
    "    save       = \"digits.safetensors\"\n"
    "}\n";

static const char *digits_ast =
    "(let hidden (int 128))\n"
    "(model digits\n"
    "  (input (int 64))\n"
    "  (layer _ linear (args (int 64) (ident hidden)))\n"
    "  (layer _ relu)\n"
    "  (layer _ linear (args (ident hidden) (int 64)))\n"
    "  (layer _ relu)\n"
    "  (layer head linear (args (int 64) (int 10))))\n"
    "(train digits\n"
    "  (item data (call csv (str \"data/digits_train.csv\") (kw label (neg (int 1)))))\n"
    "  (item validation (call csv (str \"data/digits_test.csv\") (kw label (neg (int 1)))))\n"
    "  (item loss (ident cross_entropy))\n"
    "  (item optimizer (call sgd (kw lr (real 0.05)) (kw momentum (real 0.9))))\n"
    "  (item epochs (int 20))\n"
    "  (item batch (int 32))\n"
    "  (item shuffle (bool true))\n"
    "  (item seed (int 314))\n"
    "  (item save (str \"digits.safetensors\")))\n";

Test(parser, language_example)
{
    assert_dump(digits, digits_ast);
}

Test(parser, language_example_structure_and_spans)
{
    Parsed p = parse(digits);
    cr_assert_eq(p.rc, 0);
    Decl *let = p.ast.decls, *model = let->next, *train = model->next;
    cr_assert_eq(train->next, NULL);
    cr_assert_eq(p.ast.last, train);

    cr_assert_eq(let->kind, DECL_LET);
    assert_span(let->span, 2, 1, 4);
    assert_span(let->name_span, 2, 5, 11);
    assert_span(let->value->span, 2, 14, 17);

    cr_assert_eq(model->kind, DECL_MODEL);
    cr_assert_str_eq(model->name, "digits");
    assert_span(model->span, 4, 1, 6);
    assert_span(model->name_span, 4, 7, 13);
    cr_assert_eq(model->ninput, 1);
    assert_span(model->input_span, 5, 5, 15);
    assert_span(model->input[0]->span, 5, 12, 14);
    cr_assert_eq(model->nlayers, 5);
    Layer *l0 = model->layers;
    cr_assert_str_eq(l0->op, "linear");
    cr_assert_null(l0->label);
    cr_assert_eq(l0->has_parens, 1);
    cr_assert_eq(l0->nargs, 2);
    assert_span(l0->op_span, 6, 5, 23);            /* linear(64, hidden) */
    assert_span(l0->args->value->span, 6, 12, 14);
    assert_span(l0->args->next->name_span, 6, 16, 22);
    Layer *relu = l0->next;
    cr_assert_eq(relu->has_parens, 0);
    cr_assert_eq(relu->nargs, 0);
    assert_span(relu->op_span, 7, 5, 9);
    Layer *head = relu->next->next->next;
    cr_assert_str_eq(head->label, "head");
    assert_span(head->label_span, 10, 5, 9);
    assert_span(head->op_span, 10, 12, 26);         /* linear(64, 10) */
    cr_assert_null(head->next);

    cr_assert_eq(train->kind, DECL_TRAIN);
    TrainItem *data = train->items;
    cr_assert_str_eq(data->key, "data");
    assert_span(data->key_span, 14, 5, 9);
    Expr *csv = data->value;
    cr_assert_eq(csv->kind, EX_CALL);
    cr_assert_eq(csv->nargs, 2);
    assert_span(csv->span, 14, 18, 58);
    Arg *label = csv->args->next;
    cr_assert_str_eq(label->name, "label");
    assert_span(label->name_span, 14, 47, 52);
    cr_assert_eq(label->value->kind, EX_NEG);
    assert_span(label->value->span, 14, 55, 57);
    assert_span(label->value->lhs->span, 14, 56, 57);
    cr_assert_eq(label->value->lhs->ival, 1);
    int nitems = 0;
    for (TrainItem *t = train->items; t; t = t->next)
        nitems++;
    cr_assert_eq(nitems, 9);
}

/* ---- every form ---- */

Test(parser, empty_files)
{
    assert_dump("", "");
    assert_dump("# only a comment\n\n   \t\n", "");
}

Test(parser, let_values)
{
    assert_dump("let a = 1 let b = 2.5 let c = \"s\\n\" let d = true let e = false let f = a",
                "(let a (int 1))\n(let b (real 2.5))\n(let c (str \"s\\n\"))\n"
                "(let d (bool true))\n(let e (bool false))\n(let f (ident a))\n");
}

Test(parser, reals_print_shortest)
{
    assert_dump("let a = .5 let b = 1. let c = 3e-4 let d = 1e5 let e = 0.1",
                "(let a (real 0.5))\n(let b (real 1))\n(let c (real 0.0003))\n"
                "(let d (real 100000))\n(let e (real 0.1))\n");
}

Test(parser, precedence_and_associativity)
{
    assert_dump("let a = 1 + 2 * 3", "(let a (+ (int 1) (* (int 2) (int 3))))\n");
    assert_dump("let a = 1 - 2 - 3", "(let a (- (- (int 1) (int 2)) (int 3)))\n");
    assert_dump("let a = 8 / 2 / 2", "(let a (/ (/ (int 8) (int 2)) (int 2)))\n");
    assert_dump("let a = -x * y", "(let a (* (neg (ident x)) (ident y)))\n");
    assert_dump("let a = 2 * -3", "(let a (* (int 2) (neg (int 3))))\n");
    assert_dump("let a = 7 * 7 * 512", "(let a (* (* (int 7) (int 7)) (int 512)))\n");
    assert_dump("let a = (hidden + 1) / 2", "(let a (/ (+ (ident hidden) (int 1)) (int 2)))\n");
    assert_dump("let a = -(1 + 2)", "(let a (neg (+ (int 1) (int 2))))\n");
}

Test(parser, lists)
{
    assert_dump("let a = []", "(let a (list))\n");
    assert_dump("let a = [1]", "(let a (list (int 1)))\n");
    assert_dump("let a = [[1, 2], [3, -4.5]]",
                "(let a (list (list (int 1) (int 2)) (list (int 3) (neg (real 4.5)))))\n");
    assert_dump("let a = [\"fc\", 0, [], x + 1]",
                "(let a (list (str \"fc\") (int 0) (list) (+ (ident x) (int 1))))\n");
}

Test(parser, long_list)
{
    /* Lists grow by doubling: check the order survives. */
    char text[4096] = "let a = [";
    char want[8192] = "(let a (list";
    for (int i = 0; i < 300; i++) {
        char b[32];
        snprintf(b, sizeof b, "%s%d", i ? "," : "", i);
        strcat(text, b);
        snprintf(b, sizeof b, " (int %d)", i);
        strcat(want, b);
    }
    strcat(text, "]");
    strcat(want, "))\n");
    assert_dump(text, want);
}

Test(parser, calls)
{
    assert_dump("let a = f()", "(let a (call f))\n");
    assert_dump("let a = sgd(lr = 0.05, momentum = 0.9)",
                "(let a (call sgd (kw lr (real 0.05)) (kw momentum (real 0.9))))\n");
    assert_dump("let a = csv(\"a.csv\", label = -1)",
                "(let a (call csv (str \"a.csv\") (kw label (neg (int 1)))))\n");
    assert_dump("let a = f(g(1), k = h(x = [1]))",
                "(let a (call f (call g (int 1)) (kw k (call h (kw x (list (int 1)))))))\n");
}

Test(parser, model_layers)
{
    assert_dump("model m { input [1, 28, 28]\n"
                "  conv2d(1, 8, 3, padding = 1)\n"
                "  relu\n"
                "  relu()\n"
                "  fc = linear(2, 2, bias = false)\n"
                "  act = relu\n"
                "  out = softmax(dim = -1)\n"
                "  linear(2, 2, weight = [[1, 0], [0, 1]], bias = [0.5, -0.5])\n"
                "}",
                "(model m\n"
                "  (input (int 1) (int 28) (int 28))\n"
                "  (layer _ conv2d (args (int 1) (int 8) (int 3) (kw padding (int 1))))\n"
                "  (layer _ relu)\n"
                "  (layer _ relu (args))\n"
                "  (layer fc linear (args (int 2) (int 2) (kw bias (bool false))))\n"
                "  (layer act relu)\n"
                "  (layer out softmax (args (kw dim (neg (int 1)))))\n"
                "  (layer _ linear (args (int 2) (int 2) "
                "(kw weight (list (list (int 1) (int 0)) (list (int 0) (int 1)))) "
                "(kw bias (list (real 0.5) (neg (real 0.5)))))))\n");
    assert_dump("model m { input [n * 2] }", "(model m\n  (input (* (ident n) (int 2))))\n");
}

Test(parser, layer_flags_and_counts)
{
    Parsed p = parse("model m { input [4] relu relu() fc = linear(4, 2) }");
    cr_assert_eq(p.rc, 0);
    Layer *a = p.ast.decls->layers, *b = a->next, *c = b->next;
    cr_assert_eq(a->has_parens, 0);
    cr_assert_eq(b->has_parens, 1);
    cr_assert_eq(b->nargs, 0);
    cr_assert_null(b->args);
    cr_assert_eq(c->nargs, 2);
    cr_assert_null(c->args->name);
    /* a positional argument's name_span is its value's span */
    assert_span(c->args->name_span, 1, 45, 46);
    assert_span(c->args->value->span, 1, 45, 46);
    assert_span(c->label_span, 1, 33, 35);
    assert_span(c->op_span, 1, 38, 50);
}

Test(parser, train_block)
{
    assert_dump("train m { }", "(train m)\n");
    assert_dump("train m { freeze = [\"fc\", 0] strict = false init = \"w.safetensors\" }",
                "(train m\n  (item freeze (list (str \"fc\") (int 0)))\n"
                "  (item strict (bool false))\n  (item init (str \"w.safetensors\")))\n");
}

Test(parser, semicolons_are_optional)
{
    const char *want =
        "(let a (int 1))\n"
        "(model m\n  (input (int 2))\n  (layer _ relu)\n  (layer f linear (args (int 2) (int 2))))\n"
        "(train m\n  (item epochs (int 1))\n  (item batch (int 2)))\n";
    assert_dump("let a = 1; model m { input [2]; relu; f = linear(2, 2); }; "
                "train m { epochs = 1; batch = 2; };", want);
    assert_dump("let a = 1 model m { input [2] relu f = linear(2, 2) } "
                "train m { epochs = 1 batch = 2 }", want);
    assert_dump("let a = 1\nmodel m {\ninput [2]\nrelu;\nf = linear(2, 2)\n}\n"
                "train m {\nepochs = 1;\nbatch = 2\n}\n", want);
}

Test(parser, multi_line_spans_fall_back_to_the_first_token)
{
    Parsed p = parse("let a = f(1,\n   2)\nlet b = 1 +\n 2");
    cr_assert_eq(p.rc, 0);
    assert_span(p.ast.decls->value->span, 1, 9, 10);          /* "f" */
    assert_span(p.ast.decls->next->value->span, 3, 9, 10);    /* "1" */
}

Test(parser, reentrant_and_appends)
{
    Parsed a = parse("let x = 1");
    Parsed b = parse("let y = 2");
    cr_assert_str_eq(a.dump, "(let x (int 1))\n");
    cr_assert_str_eq(b.dump, "(let y (int 2))\n");

    /* A second file is appended to the same Ast; a failed one adds nothing. */
    SrcFile s1 = {"1", "let x = 1", 9}, s2 = {"2", "let y = 2", 9}, s3 = {"3", "let z = )", 9};
    Diag d;
    diag_init(&d, &s1);
    Ast ast = {0};
    cr_assert_eq(nnc_parse(&s1, &d, &ast), 0);
    cr_assert_eq(nnc_parse(&s2, &d, &ast), 0);
    cr_redirect_stderr();
    cr_assert_neq(nnc_parse(&s3, &d, &ast), 0);
    cr_assert_str_eq(ast.decls->name, "x");
    cr_assert_str_eq(ast.decls->next->name, "y");
    cr_assert_eq(ast.last, ast.decls->next);
    cr_assert_null(ast.last->next);
}

/* ---- syntax errors ---- */

Test(parser, error_expected_list)
{
    assert_error("model m {\n  input [64]\n  linear(64 10)\n}\n",
        "t.nnet:3:13: error: syntax error: unexpected number '10', "
        "expected ')', ',', '+', '-', '*', '/', '@' or '.'\n"
        " 3 |   linear(64 10)\n"
        "   |             ^~\n");
}

Test(parser, error_expected_expression)
{
    assert_error("let a = (1 + )",
        "t.nnet:1:14: error: syntax error: unexpected ')', "
        "expected a number, a string, a name, 'true', 'false', '(', '[' or '-'\n"
        " 1 | let a = (1 + )\n"
        "   |              ^\n");
}

Test(parser, error_model_needs_input)
{
    assert_error("model m {\n\tlinear(1, 2)\n}",
        "t.nnet:2:2: error: syntax error: unexpected name 'linear', expected 'input'\n"
        " 2 | \tlinear(1, 2)\n"
        "   | \t^~~~~~\n");
}

Test(parser, error_empty_shape)
{
    assert_error("model m { input [] }",
        "t.nnet:1:18: error: syntax error: unexpected ']', "
        "expected a number, a string, a name, 'true', 'false', '(', '[' or '-'\n"
        " 1 | model m { input [] }\n"
        "   |                  ^\n");
}

Test(parser, error_end_of_file)
{
    assert_error("train m {\n  epochs = 3\n\n# done\n",
        "t.nnet:2:13: error: syntax error: unexpected end of file, "
        "expected a name, '}', '+', '-', '*', '/', ';', '@' or '.'\n"
        " 2 |   epochs = 3\n"
        "   |             ^\n");
    assert_error("let a =",
        "t.nnet:1:8: error: syntax error: unexpected end of file, "
        "expected a number, a string, a name, 'true', 'false', '(', '[' or '-'\n"
        " 1 | let a =\n"
        "   |        ^\n");
}

Test(parser, error_keyword_as_name)
{
    assert_error("let input = 3",
        "t.nnet:1:5: error: syntax error: unexpected 'input', expected a name\n"
        " 1 | let input = 3\n"
        "   |     ^~~~~\n");
}

Test(parser, error_too_many_expected_are_not_listed)
{
    assert_error("let a = 1 )",
        "t.nnet:1:11: error: syntax error: unexpected ')'\n"
        " 1 | let a = 1 )\n"
        "   |           ^\n");
}

Test(parser, error_not_in_the_grammar)
{
    /* one minus only; one ';' only; no trailing comma; train items are key = value */
    cr_assert_neq(parse("let a = - -1").rc, 0);
    cr_assert_neq(parse("let a = 1;;").rc, 0);
    cr_assert_neq(parse("let a = [1, 2,]").rc, 0);
    cr_assert_neq(parse("let a = f(1,)").rc, 0);
    cr_assert_neq(parse("train m { relu }").rc, 0);
    cr_assert_neq(parse("model m { input [1] fc = }").rc, 0);
    cr_assert_neq(parse("model m { input [1] linear(bias = ) }").rc, 0);
    cr_assert_neq(parse("model m { input [1] 3 }").rc, 0);
    cr_assert_neq(parse("model { input [1] }").rc, 0);
    cr_assert_neq(parse("let a = +1").rc, 0);
    cr_assert_neq(parse("a = 1").rc, 0);
    cr_assert_neq(parse(";").rc, 0);
}

Test(parser, lexical_error_stops_the_parse_with_one_message)
{
    Parsed p = parse("let a = \"abc\nlet b = 2\n");
    cr_assert_neq(p.rc, 0);
    cr_assert_eq(p.nerrors, 1);
    cr_assert_str_eq(p.err,
        "t.nnet:1:9: error: unterminated string\n"
        " 1 | let a = \"abc\n"
        "   |         ^\n");
    cr_assert_null(p.ast.decls);
}

Test(parser, embedded_nul_is_a_stray_byte)
{
    const char text[] = "let a = 1\nlet\0b = 2\n";
    Parsed p = parse_bytes("t.nnet", text, sizeof text - 1);
    cr_assert_neq(p.rc, 0);
    cr_assert_str_eq(p.err,
        "t.nnet:2:4: error: stray '\\x00' in program\n"
        " 2 | let?b = 2\n"
        "   |    ^\n");
}

/* ---- deep nesting: a clean error, no crash ---- */

static char *repeat(const char *prefix, const char *unit, int n, const char *mid,
                    const char *unit2, int n2)
{
    size_t len = strlen(prefix) + strlen(unit) * (size_t)n + strlen(mid)
               + strlen(unit2) * (size_t)n2 + 1;
    char *s = malloc(len), *p = s;
    p += sprintf(p, "%s", prefix);
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s", unit);
    p += sprintf(p, "%s", mid);
    for (int i = 0; i < n2; i++)
        p += sprintf(p, "%s", unit2);
    return s;
}

Test(parser, deep_brackets)
{
    char *text = repeat("let x = ", "[", 100000, "", "]", 100000);
    Parsed p = parse(text);
    cr_assert_neq(p.rc, 0);
    cr_assert_eq(p.nerrors, 1);
    cr_assert(strncmp(p.err, "t.nnet:1:", 9) == 0 && strstr(p.err, ": error: nesting too deep\n"),
              "got %.200s", p.err);
    cr_assert_null(p.ast.decls);
}

Test(parser, deep_parentheses_and_minus)
{
    char *text = repeat("let x = ", "-(", 100000, "1", ")", 100000);
    Parsed p = parse(text);
    cr_assert_neq(p.rc, 0);
    cr_assert(strstr(p.err, "error: nesting too deep") != NULL, "got %.200s", p.err);
    cr_assert_null(p.ast.decls);
}

Test(parser, long_chains_are_bounded)
{
    /* Left recursion keeps bison's stack flat, but the tree is deep. */
    char *text = repeat("let x = 1", "+1", 100000, "", "", 0);
    Parsed p = parse(text);
    cr_assert_neq(p.rc, 0);
    cr_assert_eq(p.nerrors, 1);
    const char *msg = "t.nnet:1:9: error: nesting too deep: expressions may nest "
                      "at most 1000 levels\n";
    cr_assert(strncmp(p.err, msg, strlen(msg)) == 0, "got %.200s", p.err);
    cr_assert_null(p.ast.decls);

    /* Moderately deep is fine, and prints. */
    text = repeat("let x = ", "[", 500, "", "]", 500);
    p = parse(text);
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(strlen(p.dump), strlen("(let x )\n") + 499 * strlen("(list )") + strlen("(list)"));

    /* Many parentheses around one value add no depth. */
    text = repeat("let x = ", "(", 5000, "1", ")", 5000);
    assert_dump(text, "(let x (int 1))\n");
}

/* ---- golden files ---- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = slurp(f);
    fclose(f);
    return s;
}

static int write_all(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs(s, f);
    return fclose(f);
}

Test(parser, golden)
{
    const char *dir = NNC_TEST_DIR "/golden/parse";
    int update = getenv("UPDATE_GOLDEN") && *getenv("UPDATE_GOLDEN");
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int nfiles = 0, nfail = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".nnet") != 0)
            continue;
        nfiles++;
        char path[1024], ast[1024], err[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(ast, sizeof ast, "%s/%.*s.ast", dir, (int)(n - 5), e->d_name);
        snprintf(err, sizeof err, "%s/%.*s.err", dir, (int)(n - 5), e->d_name);
        size_t len;
        const char *why;
        char *text = read_file(path, &len, &why);
        cr_assert_not_null(text, "%s: %s", path, why);
        Parsed p = parse_bytes(e->d_name, text, len);
        int is_err = access(err, F_OK) == 0;
        const char *want_path = is_err ? err : ast;
        const char *got = is_err ? p.err : p.dump;
        if (update) {
            if (p.rc != 0 && !is_err)
                want_path = err, got = p.err;
            cr_assert_eq(write_all(want_path, got), 0, "cannot write %s", want_path);
            continue;
        }
        char *want = read_all(want_path);
        int ok = want && strcmp(got, want) == 0 && (p.rc != 0) == is_err;
        if (!ok) {
            nfail++;
            cr_log_error("[FAIL] %s (rc %d)\n--- expected (%s)\n%s\n--- got\n%s%s",
                         e->d_name, p.rc, want_path, want ? want : "(missing)", got,
                         p.rc && !is_err ? p.err : "");
        }
    }
    closedir(d);
    cr_assert_gt(nfiles, 0, "no golden files in %s", dir);
    cr_assert_eq(nfail, 0, "%d of %d golden files differ", nfail, nfiles);
}
