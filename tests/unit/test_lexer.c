/* test_lexer.c — the flex scanner alone (grammar/nnet.l): token kinds,
 * values and spans (line, col, end_col; columns count bytes), comments,
 * escapes, and the lexical errors with their messages and positions. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/ast.h"
#include "nnet.tab.h"
#define YYSTYPE NNET_STYPE
#define YYLTYPE NNET_LTYPE
#include "nnet.lex.h"

/* ---- capturing stderr (diagnostics) ---- */

static FILE *cap_file;
static int cap_saved_fd = -1;

static void capture_begin(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    cr_assert_not_null(cap_file);
    cap_saved_fd = dup(2);
    dup2(fileno(cap_file), 2);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(cap_saved_fd, 2);
    close(cap_saved_fd);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    rewind(cap_file);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, cap_file)) > 0) {
        n += got;
        if (cap - n < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    fclose(cap_file);
    return buf;
}

/* ---- scanning a string into an array of tokens ---- */

typedef struct Tok {
    int kind;
    Span sp;
    int64_t ival;
    double rval;
    char *sval;         /* IDENT, STRING */
} Tok;

typedef struct Lexed {
    Tok toks[64];
    int n;              /* tokens before end of file or the error token */
    int error;          /* 1 if the scanner returned its error token */
    int nerrors;        /* diag errors */
    char *err;          /* captured stderr */
} Lexed;

static Lexed lex_bytes(const char *text, size_t len)
{
    static Lexed r;
    memset(&r, 0, sizeof r);
    SrcFile src = {"t.nnet", text, len};
    Diag diag;
    diag_init(&diag, &src);
    Ast ast = {0};
    ParseCtx cx;
    nnet_ctx_init(&cx, &src, &diag, &ast);
    yyscan_t scanner;
    cr_assert_eq(nnet_lex_init(&scanner), 0);
    nnet__scan_bytes(text, (int)len, scanner);
    capture_begin();
    for (;;) {
        NNET_STYPE val;
        NNET_LTYPE loc;
        int k = nnet_lex(&val, &loc, scanner, &cx);
        if (k == TOK_YYEOF) {
            r.toks[r.n].kind = k;
            r.toks[r.n].sp = nnet_span(loc);
            break;
        }
        if (k == TOK_NNET_error) {
            r.error = 1;
            break;
        }
        cr_assert_lt(r.n, 63);
        Tok *t = &r.toks[r.n++];
        t->kind = k;
        t->sp = nnet_span(loc);
        if (k == TOK_INT) t->ival = val.TOK_INT;
        if (k == TOK_REAL) t->rval = val.TOK_REAL;
        if (k == TOK_IDENT) t->sval = val.TOK_IDENT;
        if (k == TOK_STRING) t->sval = val.TOK_STRING;
    }
    r.err = capture_end();
    r.nerrors = diag.nerrors;
    nnet_lex_destroy(scanner);
    return r;
}

static Lexed lex(const char *text)
{
    return lex_bytes(text, strlen(text));
}

static void assert_span(Span sp, int line, int col, int end_col)
{
    cr_assert(sp.line == line && sp.col == col && sp.end_col == end_col,
              "span %d:%d-%d, expected %d:%d-%d",
              sp.line, sp.col, sp.end_col, line, col, end_col);
}

static void assert_kinds(const Lexed *r, const int *kinds, int n)
{
    cr_assert_eq(r->n, n, "%d tokens, expected %d (stderr: %s)", r->n, n, r->err);
    for (int i = 0; i < n; i++)
        cr_assert_eq(r->toks[i].kind, kinds[i], "token %d: kind %d, expected %d",
                     i, r->toks[i].kind, kinds[i]);
}

/* ---- tokens ---- */

Test(lexer, keywords_and_names)
{
    Lexed r = lex("model train input let true false models _x9 Let input_");
    int kinds[] = {TOK_MODEL, TOK_TRAIN, TOK_INPUT, TOK_LET, TOK_TRUE, TOK_FALSE,
                   TOK_IDENT, TOK_IDENT, TOK_IDENT, TOK_IDENT};
    assert_kinds(&r, kinds, 10);
    cr_assert_str_eq(r.toks[6].sval, "models");
    cr_assert_str_eq(r.toks[7].sval, "_x9");
    cr_assert_str_eq(r.toks[8].sval, "Let");
    cr_assert_str_eq(r.toks[9].sval, "input_");
    assert_span(r.toks[0].sp, 1, 1, 6);
    assert_span(r.toks[6].sp, 1, 34, 40);
    cr_assert_eq(r.nerrors, 0);
}

Test(lexer, punctuation)
{
    Lexed r = lex("()[]{},=+-*/;");
    int kinds[] = {TOK_LPAREN, TOK_RPAREN, TOK_LBRACK, TOK_RBRACK, TOK_LBRACE, TOK_RBRACE,
                   TOK_COMMA, TOK_ASSIGN, TOK_PLUS, TOK_MINUS, TOK_STAR, TOK_SLASH, TOK_SEMI};
    assert_kinds(&r, kinds, 13);
    for (int i = 0; i < 13; i++)
        assert_span(r.toks[i].sp, 1, i + 1, i + 2);
}

Test(lexer, integers)
{
    Lexed r = lex("0 128 007 9223372036854775807");
    int kinds[] = {TOK_INT, TOK_INT, TOK_INT, TOK_INT};
    assert_kinds(&r, kinds, 4);
    cr_assert_eq(r.toks[0].ival, 0);
    cr_assert_eq(r.toks[1].ival, 128);
    cr_assert_eq(r.toks[2].ival, 7);
    cr_assert_eq(r.toks[3].ival, INT64_MAX);
    assert_span(r.toks[1].sp, 1, 3, 6);
    assert_span(r.toks[3].sp, 1, 11, 30);
}

Test(lexer, negative_number_is_minus_then_int)
{
    Lexed r = lex("-1");
    int kinds[] = {TOK_MINUS, TOK_INT};
    assert_kinds(&r, kinds, 2);
    cr_assert_eq(r.toks[1].ival, 1);
}

Test(lexer, reals)
{
    Lexed r = lex("0.05 3e-4 .5 1. 1e5 2.5E+3 1.e2 .5e1");
    int kinds[] = {TOK_REAL, TOK_REAL, TOK_REAL, TOK_REAL, TOK_REAL, TOK_REAL, TOK_REAL, TOK_REAL};
    assert_kinds(&r, kinds, 8);
    double want[] = {0.05, 3e-4, 0.5, 1.0, 1e5, 2500.0, 100.0, 5.0};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(r.toks[i].rval, want[i], "real %d: %g, expected %g", i, r.toks[i].rval, want[i]);
    assert_span(r.toks[0].sp, 1, 1, 5);
    assert_span(r.toks[1].sp, 1, 6, 10);
    assert_span(r.toks[2].sp, 1, 11, 13);
    assert_span(r.toks[3].sp, 1, 14, 16);
}

Test(lexer, strings_and_escapes)
{
    Lexed r = lex("\"data/a.csv\" \"q\\\"b\\\\s\\nn\\tt\" \"\" \"caf\xc3\xa9 # not a comment\"");
    int kinds[] = {TOK_STRING, TOK_STRING, TOK_STRING, TOK_STRING};
    assert_kinds(&r, kinds, 4);
    cr_assert_str_eq(r.toks[0].sval, "data/a.csv");
    cr_assert_str_eq(r.toks[1].sval, "q\"b\\s\nn\tt");
    cr_assert_str_eq(r.toks[2].sval, "");
    cr_assert_str_eq(r.toks[3].sval, "caf\xc3\xa9 # not a comment");
    assert_span(r.toks[0].sp, 1, 1, 13);
    assert_span(r.toks[1].sp, 1, 14, 29);
    assert_span(r.toks[2].sp, 1, 30, 32);
}

Test(lexer, comments_whitespace_and_lines)
{
    Lexed r = lex("# header \"comment\" @ \xff\n"
                  "\tlet x # trailing\r\n"
                  "\n"
                  "  = 1;   # end");
    int kinds[] = {TOK_LET, TOK_IDENT, TOK_ASSIGN, TOK_INT, TOK_SEMI};
    assert_kinds(&r, kinds, 5);
    assert_span(r.toks[0].sp, 2, 2, 5);     /* a tab is one column */
    assert_span(r.toks[1].sp, 2, 6, 7);
    assert_span(r.toks[2].sp, 4, 3, 4);
    assert_span(r.toks[3].sp, 4, 5, 6);
    assert_span(r.toks[4].sp, 4, 6, 7);
    /* End of file: just after the last token. */
    cr_assert_eq(r.toks[5].kind, TOK_YYEOF);
    assert_span(r.toks[5].sp, 4, 7, 7);
}

Test(lexer, empty_input)
{
    Lexed r = lex("");
    cr_assert_eq(r.n, 0);
    cr_assert_eq(r.error, 0);
    assert_span(r.toks[0].sp, 1, 1, 1);
}

Test(lexer, independent_scanners)
{
    /* Reentrancy: interleave two scanners. */
    const char *a = "let a", *b = "model b";
    SrcFile sa = {"a", a, strlen(a)}, sb = {"b", b, strlen(b)};
    Diag da, db;
    diag_init(&da, &sa);
    diag_init(&db, &sb);
    Ast ast = {0};
    ParseCtx ca, cb;
    nnet_ctx_init(&ca, &sa, &da, &ast);
    nnet_ctx_init(&cb, &sb, &db, &ast);
    yyscan_t x, y;
    nnet_lex_init(&x);
    nnet_lex_init(&y);
    nnet__scan_bytes(a, (int)strlen(a), x);
    nnet__scan_bytes(b, (int)strlen(b), y);
    NNET_STYPE v;
    NNET_LTYPE l;
    cr_assert_eq(nnet_lex(&v, &l, x, &ca), TOK_LET);
    cr_assert_eq(nnet_lex(&v, &l, y, &cb), TOK_MODEL);
    cr_assert_eq(nnet_lex(&v, &l, x, &ca), TOK_IDENT);
    cr_assert_str_eq(v.TOK_IDENT, "a");
    assert_span(nnet_span(l), 1, 5, 6);
    cr_assert_eq(nnet_lex(&v, &l, y, &cb), TOK_IDENT);
    cr_assert_str_eq(v.TOK_IDENT, "b");
    assert_span(nnet_span(l), 1, 7, 8);
    nnet_lex_destroy(x);
    nnet_lex_destroy(y);
}

/* ---- errors ---- */

static void assert_lex_error(const Lexed *r, const char *want)
{
    cr_assert(r->error, "no error for %s", want);
    cr_assert_eq(r->nerrors, 1);
    cr_assert_str_eq(r->err, want);
}

Test(lexer, integer_too_large)
{
    Lexed r = lex("x = 9223372036854775808");
    assert_lex_error(&r,
        "t.nnet:1:5: error: integer literal too large\n"
        " 1 | x = 9223372036854775808\n"
        "   |     ^~~~~~~~~~~~~~~~~~~\n");
}

Test(lexer, real_too_large)
{
    Lexed r = lex("1e400");
    assert_lex_error(&r,
        "t.nnet:1:1: error: real literal too large\n"
        " 1 | 1e400\n"
        "   | ^~~~~\n");
}

Test(lexer, number_glued_to_letters)
{
    Lexed r = lex("12abc");
    assert_lex_error(&r,
        "t.nnet:1:1: error: invalid number '12abc'\n"
        " 1 | 12abc\n"
        "   | ^~~~~\n");
}

Test(lexer, unterminated_string_points_at_the_quote)
{
    Lexed r = lex("let s =\n  \"abc\nx");
    cr_assert_eq(r.n, 3);
    assert_lex_error(&r,
        "t.nnet:2:3: error: unterminated string\n"
        " 2 |   \"abc\n"
        "   |   ^\n");
}

Test(lexer, unterminated_string_at_end_of_file)
{
    Lexed r = lex("\"abc\\\"");
    assert_lex_error(&r,
        "t.nnet:1:1: error: unterminated string\n"
        " 1 | \"abc\\\"\n"
        "   | ^\n");
}

Test(lexer, unknown_escape)
{
    Lexed r = lex("x = \"a\\qb\"");
    assert_lex_error(&r,
        "t.nnet:1:7: error: unknown escape sequence '\\q' in string\n"
        " 1 | x = \"a\\qb\"\n"
        "   |       ^~\n");
}

Test(lexer, unexpected_character)
{
    Lexed r = lex("relu $");
    cr_assert_eq(r.n, 1);
    assert_lex_error(&r,
        "t.nnet:1:6: error: unexpected character '$'\n"
        " 1 | relu $\n"
        "   |      ^\n");
}

Test(lexer, stray_bytes)
{
    Lexed r = lex("a \xff");
    assert_lex_error(&r,
        "t.nnet:1:3: error: stray '\\xff' in program\n"
        " 1 | a ?\n"
        "   |   ^\n");
    r = lex("\x01");
    assert_lex_error(&r,
        "t.nnet:1:1: error: stray '\\x01' in program\n"
        " 1 | ?\n"
        "   | ^\n");
    r = lex("`");
    assert_lex_error(&r,
        "t.nnet:1:1: error: unexpected character '`'\n"
        " 1 | `\n"
        "   | ^\n");
}

Test(lexer, embedded_nul)
{
    const char text[] = "let x\0 = 1";
    Lexed r = lex_bytes(text, sizeof text - 1);
    cr_assert_eq(r.n, 2);
    assert_lex_error(&r,
        "t.nnet:1:6: error: stray '\\x00' in program\n"
        " 1 | let x? = 1\n"
        "   |      ^\n");
    const char text2[] = "\"a\0b\"";
    r = lex_bytes(text2, sizeof text2 - 1);
    assert_lex_error(&r,
        "t.nnet:1:3: error: stray '\\x00' in program\n"
        " 1 | \"a?b\"\n"
        "   |   ^\n");
}
