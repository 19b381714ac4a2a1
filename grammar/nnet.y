/* nnet.y — the bison grammar of the .nnet language (LANGUAGE.md §3).
 *
 * A pure (reentrant) LALR(1) parser with zero conflicts. Actions only call
 * the ast_* builders of compiler/front/ast.h with the spans of their symbols;
 * name resolution and every other check happen later, in sema. The scanner is
 * grammar/nnet.l; compiler/front/parse.c drives both (nnc_parse). GRAMMAR.md
 * is this file's EBNF, one production per rule. */

/* The features used below (parse.error custom, the YYerror token, the
   api.token.prefix/api.value.type spelling) need Bison 3.7 or later. */
%require "3.7"

/* A pure parser: no global yylval/yylloc/yychar, so several files can be
   parsed in one process (Criterion runs many parses per test binary). */
%define api.pure full

/* Track a location for every symbol: spans on AST nodes and diagnostics. */
%locations

/* Our own location type: bison's four fields plus first_end, so a span that
   runs over several lines can fall back to its first token (Span has a
   single line). YYLLOC_DEFAULT below maintains it. */
%define api.location.type {NnetLoc}

/* Every exported name starts with nnet_ (nnet_parse, NNET_STYPE, ...), the
   same prefix as the flex scanner's, so nothing collides with another
   yacc/lex pair linked into the same program. */
%define api.prefix {nnet_}

/* Token kinds are TOK_INT, TOK_LBRACK, ...: unambiguous in C code. */
%define api.token.prefix {TOK_}

/* Semantic values are a union generated from the <type> tags below. */
%define api.value.type union

/* Syntax errors are reported by yyreport_syntax_error() below, which writes
   one diagnostic through Diag: "syntax error: unexpected X, expected A, B or C". */
%define parse.error custom

/* Lookahead correction: the list of expected tokens in a syntax error is
   exact (without LAC, default reductions make it wrong or empty). */
%define parse.lac full

/* The grammar is LALR(1) without conflicts; any new one fails the build. */
%expect 0

/* Both yyparse and yylex receive the flex scanner and the parse context
   (Diag for errors, Ast to fill, scanner position). */
%param {yyscan_t scanner} {ParseCtx *cx}

%code requires {
#include "front/ast.h"

/* yyscan_t is flex's opaque scanner type; declared here too so that this
   header does not need the flex header. */
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* A location: 1-based lines and columns (columns count bytes, a tab is one
   column); last_column is one past the last byte, as Span.end_col.
   first_end is the end column of the first token, used when the symbol
   spans several lines. */
typedef struct NnetLoc {
    int first_line, first_column;
    int last_line, last_column;
    int first_end;
} NnetLoc;

/* Everything one parse needs; the scanner keeps its position here. */
typedef struct ParseCtx {
    const SrcFile *src;     /* the text being parsed (for quoting tokens) */
    Diag *diag;             /* where errors go */
    Ast *ast;               /* where declarations go */
    int line, col;          /* scanner position: the next byte */
    size_t off;             /* byte offset of the next byte */
    size_t read_off;        /* how much of src the scanner has read (YY_INPUT) */
    NnetLoc last;           /* the last token returned (end of file is reported just after it) */
    size_t tok_off;         /* byte offset and length of the last token */
    size_t tok_len;
    int nerrors;            /* errors reported by this parse (scanner or parser) */
} ParseCtx;
}

%code provides {
/* The scanner's prototype; flex reads it from YY_DECL. The parameter names
   are the ones flex's bison-bridge code expects. */
#define YY_DECL int nnet_lex(NNET_STYPE *yylval_param, NNET_LTYPE *yylloc_param, \
                             yyscan_t yyscanner, ParseCtx *cx)
YY_DECL;

/* Called by bison only when its stack is exhausted ("memory exhausted"). */
void nnet_error(const NNET_LTYPE *loc, yyscan_t scanner, ParseCtx *cx, const char *msg);

/* The Span of a location (see NnetLoc.first_end); defined in parse.c. */
Span nnet_span(NNET_LTYPE loc);

/* Set up a context for parsing src (position 1:1); defined in parse.c. */
void nnet_ctx_init(ParseCtx *cx, const SrcFile *src, Diag *diag, Ast *ast);
}

%code {
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bison's default location merging, plus first_end. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                        \
    do {                                                                  \
        if (N) {                                                          \
            (Cur).first_line   = YYRHSLOC(Rhs, 1).first_line;             \
            (Cur).first_column = YYRHSLOC(Rhs, 1).first_column;           \
            (Cur).first_end    = YYRHSLOC(Rhs, 1).first_end;              \
            (Cur).last_line    = YYRHSLOC(Rhs, N).last_line;              \
            (Cur).last_column  = YYRHSLOC(Rhs, N).last_column;            \
        } else {                                                          \
            (Cur).first_line = (Cur).last_line = YYRHSLOC(Rhs, 0).last_line; \
            (Cur).first_column = (Cur).last_column = YYRHSLOC(Rhs, 0).last_column; \
            (Cur).first_end = (Cur).last_column;                          \
        }                                                                 \
    } while (0)

#define S(loc) nnet_span(loc)

/* The span from the start of location a to the end of location b. */
static Span S2(NnetLoc a, NnetLoc b)
{
    NnetLoc l = a;
    l.last_line = b.last_line;
    l.last_column = b.last_column;
    return nnet_span(l);
}

/* A bracketed list's node is created at its first item (or at "[]"); this
   moves its span to the brackets. Location bookkeeping, not semantics. */
static Expr *bracketed(Expr *list, Span sp)
{
    list->span = sp;
    return list;
}
}

/* Tokens, in the order they are listed in "expected ..." messages. The
   quoted aliases are how messages name them, except that
   yyreport_syntax_error (below) says "a number" for INT and REAL alike,
   "a string", "a name" and "end of file". */
%token <int64_t> INT    "integer"
%token <double>  REAL   "real number"
%token <char *>  STRING "string"
%token <char *>  IDENT  "name"
%token LET      "'let'"
%token MODEL    "'model'"
%token TRAIN    "'train'"
%token INPUT    "'input'"
%token TRUE     "'true'"
%token FALSE    "'false'"
%token RPAREN   "')'"
%token RBRACK   "']'"
%token RBRACE   "'}'"
%token COMMA    "','"
%token ASSIGN   "'='"
%token LPAREN   "'('"
%token LBRACK   "'['"
%token LBRACE   "'{'"
%token PLUS     "'+'"
%token MINUS    "'-'"
%token STAR     "'*'"
%token SLASH    "'/'"
%token SEMI     "';'"
%token AT       "'@'"
%token DOT      "'.'"
%token RETURN   "'return'"
%token INTKW    "'int'"
%token BLOCK    "'block'"
%token FORWARD  "'forward'"

/* Locations start at 1:1 (the stack bottom, which empty rules at the start
   of the file inherit). */
%initial-action { @$ = (NnetLoc){1, 1, 1, 1, 1}; }

/* The semantic type of each nonterminal (api.value.type union). */
%nterm <Decl *> decl let_decl model_decl train_decl block_decl
%nterm <Expr *> shape expr sum product unary primary list_items
%nterm <Input *> input_stmt inputs inputs_opt
%nterm <int> int_opt
%nterm <Body> forward_opt
%nterm <BlockParam *> params_opt params
%nterm <Stmt *> fwd_stmts fwd_stmt names exprs
%nterm <Layer *> layers layer_stmt
%nterm <TrainItem *> train_items
%nterm <Arg *> args_opt args arg

/* No %destructor: AST memory lives until exit (compiler policy, diag.h),
   and an aborted parse is followed by exiting anyway. */

%%

/* file = { let_decl | model_decl | train_decl } ; an empty file is valid. */
file:
  %empty
| file decl semi_opt    { ast_push_decl(cx->ast, $decl); }
;

decl:
  let_decl
| model_decl
| train_decl
| block_decl
;

/* A ';' may end any statement, declaration, layer or train item. */
semi_opt:
  %empty
| "';'"
;

let_decl:
  "'let'" IDENT "'='" expr      { $$ = ast_let(S(@1), S(@2), $2, $expr); }
;

/* model_decl = "model" IDENT "{" input_stmt { input_stmt } { layer_stmt }
   [ forward ] "}" : version 1 is one input and layers. */
model_decl:
  "'model'" IDENT "'{'" inputs layers forward_opt "'}'"
                                { Body b = $forward_opt; b.inputs = $inputs; b.layers = $layers;
                                  $$ = ast_model(S(@1), S(@2), $2, b); }
;

/* block_decl = "block" IDENT "(" [ params ] ")" "{" { input_stmt }
   { layer_stmt } [ forward ] "}" */
block_decl:
  "'block'" IDENT "'('" params_opt "')'" "'{'" inputs_opt layers forward_opt "'}'"
                                { Body b = $forward_opt; b.inputs = $inputs_opt; b.layers = $layers;
                                  $$ = ast_block(S(@1), S(@2), $2, $params_opt, b); }
;

params_opt:
  %empty                        { $$ = NULL; }
| params
;

params:
  IDENT                         { $$ = ast_params_append(NULL, S(@1), $1, NULL); }
| IDENT "'='" expr              { $$ = ast_params_append(NULL, S(@1), $1, $expr); }
| params "','" IDENT            { $$ = ast_params_append($1, S(@3), $3, NULL); }
| params "','" IDENT "'='" expr { $$ = ast_params_append($1, S(@3), $3, $expr); }
;

inputs:
  input_stmt semi_opt           { $$ = ast_inputs_append(NULL, $input_stmt); }
| inputs input_stmt semi_opt    { $$ = ast_inputs_append($1, $input_stmt); }
;

inputs_opt:
  %empty                        { $$ = NULL; }
| inputs
;

/* input_stmt = "input" [ IDENT ] [ shape ] [ "int" ] : a model's input has
   a shape, a block's has none (sema checks which). */
input_stmt:
  "'input'" shape int_opt       { $$ = ast_input(S(@$), NULL, S(@1), $shape, $int_opt); }
| "'input'" IDENT int_opt       { $$ = ast_input(S(@$), $2, S(@2), NULL, $int_opt); }
| "'input'" IDENT shape int_opt { $$ = ast_input(S(@$), $2, S(@2), $shape, $int_opt); }
;

int_opt:
  %empty                        { $$ = 0; }
| "'int'"                       { $$ = 1; }
;

/* forward = "forward" "{" { fwd_stmt } "}" */
forward_opt:
  %empty                        { $$ = (Body){0}; }
| "'forward'" "'{'" fwd_stmts "'}'" semi_opt
                                { $$ = (Body){0};
                                  $$.has_forward = 1;
                                  $$.forward_span = S(@1);
                                  $$.stmts = $fwd_stmts; }
;

fwd_stmts:
  %empty                        { $$ = NULL; }
| fwd_stmts fwd_stmt semi_opt   { $$ = ast_stmts_append($1, $fwd_stmt); }
;

/* fwd_stmt = IDENT { "," IDENT } "=" expr | "return" expr { "," expr } */
fwd_stmt:
  names "'='" expr              { $$ = ast_assign(S(@1), $names, $expr); }
| "'return'" exprs              { $$ = ast_return(S(@1), $exprs); }
;

names:
  IDENT                         { $$ = ast_names_push(NULL, S(@1), $1); }
| names "','" IDENT             { $$ = ast_names_push($1, S(@3), $3); }
;

exprs:
  expr                          { $$ = ast_exprs_push(NULL, $expr); }
| exprs "','" expr              { $$ = ast_exprs_push($1, $expr); }
;

/* shape = "[" expr { "," expr } "]" : at least one dimension. */
shape:
  "'['" list_items "']'"        { $$ = bracketed($list_items, S(@$)); }
;

layers:
  %empty                        { $$ = NULL; }
| layers layer_stmt semi_opt    { $$ = ast_layers_append($1, $layer_stmt); }
;

/* layer_stmt = [ IDENT "=" ] IDENT [ "(" [ args ] ")" ] : after the first
   IDENT, a '=' lookahead means a label, '(' the arguments; anything else
   ends a bare layer. op_span runs from the layer name to the ')'. */
layer_stmt:
  IDENT                         { $$ = ast_layer(S(@1), NULL, S(@1), $1, 0, NULL); }
| IDENT "'('" args_opt "')'"    { $$ = ast_layer(S(@1), NULL, S(@$), $1, 1, $args_opt); }
| IDENT "'='" IDENT             { $$ = ast_layer(S(@1), $1, S(@3), $3, 0, NULL); }
| IDENT "'='" IDENT "'('" args_opt "')'"
                                { $$ = ast_layer(S(@1), $1, S2(@3, @6), $3, 1, $args_opt); }
;

train_decl:
  "'train'" IDENT "'{'" train_items "'}'"
                                { $$ = ast_train(S(@1), S(@2), $2, $train_items); }
;

train_items:
  %empty                        { $$ = NULL; }
| train_items IDENT "'='" expr semi_opt
                                { $$ = ast_items_append($1, S(@2), $2, $expr); }
;

args_opt:
  %empty                        { $$ = NULL; }
| args
;

args:
  arg                           { $$ = ast_args_append(NULL, $arg); }
| args "','" arg                { $$ = ast_args_append($1, $arg); }
;

/* arg = expr | IDENT "=" expr : the '=' after an IDENT decides. */
arg:
  expr                          { $$ = ast_arg(S(@1), NULL, $expr); }
| IDENT "'='" expr              { $$ = ast_arg(S(@1), $1, $expr); }
;

expr:
  sum
;

sum:
  product
| sum "'+'" product             { $$ = ast_binop(S(@$), '+', $1, $3); }
| sum "'-'" product             { $$ = ast_binop(S(@$), '-', $1, $3); }
;

product:
  unary
| product "'*'" unary           { $$ = ast_binop(S(@$), '*', $1, $3); }
| product "'/'" unary           { $$ = ast_binop(S(@$), '/', $1, $3); }
| product "'@'" unary           { $$ = ast_binop(S(@$), '@', $1, $3); }
;

/* unary = [ "-" ] primary : one minus; sema folds EX_NEG of a literal. */
unary:
  primary
| "'-'" primary                 { $$ = ast_neg(S(@$), $primary); }
;

primary:
  INT                           { $$ = ast_int(S(@1), $1); }
| REAL                          { $$ = ast_real(S(@1), $1); }
| STRING                        { $$ = ast_string(S(@1), $1); }
| "'true'"                      { $$ = ast_bool(S(@1), 1); }
| "'false'"                     { $$ = ast_bool(S(@1), 0); }
| IDENT                         { $$ = ast_ident(S(@1), $1); }
| IDENT "'('" args_opt "')'"    { $$ = ast_call(S(@$), $1, $args_opt); }
| "'['" "']'"                   { $$ = ast_list(S(@$)); }
| "'['" list_items "']'"        { $$ = bracketed($list_items, S(@$)); }
| "'('" expr "')'"              { $$ = $expr; }
| primary "'.'" IDENT           { $$ = ast_attr(S(@$), $1, $3); }
;

list_items:
  expr                          { $$ = ast_list(S(@1)); ast_list_push($$, $expr); }
| list_items "','" expr         { $$ = $1; ast_list_push($$, $expr); }
;

%%

/* Writes one diagnostic for a syntax error, at the lookahead token:
 *   syntax error: unexpected name 'foo', expected a number, '(' or '['
 * Token names come from the aliases above, except that "integer" and
 * "real number" are both "a number", "name" is "a name" and "string" is
 * "a string". More than 10 expected tokens are not listed. */
static const char *expected_name(yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_INT: case YYSYMBOL_REAL: return "a number";
    case YYSYMBOL_STRING: return "a string";
    case YYSYMBOL_IDENT: return "a name";
    case YYSYMBOL_YYEOF: return "end of file";
    default: return yysymbol_name(k);
    }
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, ParseCtx *cx)
{
    enum { MAX_LISTED = 10 };
    (void)scanner;
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    if (n < 0)
        return n;                   /* YYENOMEM: bison reports it via nnet_error */

    /* The unexpected token, quoted from the source when that helps. */
    char *what;
    yysymbol_kind_t tok = yypcontext_token(ctx);
    const char *text = cx->src->text + cx->tok_off;
    int len = cx->tok_len > 40 ? 40 : (int)cx->tok_len;
    const char *more = cx->tok_len > 40 ? "..." : "";
    switch (tok) {
    case YYSYMBOL_YYEOF:  what = xstrdup("end of file"); break;
    case YYSYMBOL_IDENT:  what = xasprintf("name '%.*s%s'", len, text, more); break;
    case YYSYMBOL_INT:
    case YYSYMBOL_REAL:   what = xasprintf("number '%.*s%s'", len, text, more); break;
    case YYSYMBOL_STRING: what = xstrdup("string"); break;
    default:              what = xstrdup(yysymbol_name(tok)); break;
    }

    /* The expected tokens, without duplicates ("a number" twice). */
    const char *names[YYNTOKENS];
    int m = 0;
    for (int i = 0; i < n; i++) {
        const char *s = expected_name(exp[i]);
        int dup = 0;
        for (int j = 0; j < m; j++)
            dup |= names[j] == s;
        if (!dup)
            names[m++] = s;
    }

    char buf[512];
    size_t used = 0;
    buf[0] = '\0';
    if (m > 0 && m <= MAX_LISTED) {
        for (int i = 0; i < m; i++) {
            const char *sep = i == 0 ? ", expected " : i == m - 1 ? " or " : ", ";
            int w = snprintf(buf + used, sizeof buf - used, "%s%s", sep, names[i]);
            if (w < 0 || (size_t)w >= sizeof buf - used)
                break;
            used += (size_t)w;
        }
    }
    diag_error(cx->diag, nnet_span(*yypcontext_location(ctx)),
               "syntax error: unexpected %s%s", what, buf);
    cx->nerrors++;
    free(what);
    return 0;
}
