/* test_diag.c — the diagnostic format (header, quoted line, caret), the
 * error cap, nnc_ice, the x* allocators and read_file.
 * stderr is captured per call by pointing fd 2 at a temporary file. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/diag.h"

/* ---- capturing stderr ---- */

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

/* Returns what was written to stderr since capture_begin (malloc'd). */
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

static const char *text3 =
    "let hidden = 128\n"
    "model digits {\n"
    "    linear(100, 10)\n";

static SrcFile src3(void)
{
    return (SrcFile){"digits.nnet", text3, strlen(text3)};
}

/* ---- format ---- */

Test(diag, error_with_caret_range)
{
    SrcFile src = src3();
    Diag d;
    diag_init(&d, &src);
    capture_begin();
    diag_error(&d, (Span){3, 5, 20}, "linear expects %d input features", 100);
    char *out = capture_end();
    cr_assert_str_eq(out,
        "digits.nnet:3:5: error: linear expects 100 input features\n"
        " 3 |     linear(100, 10)\n"
        "   |     ^~~~~~~~~~~~~~~\n");
    cr_assert_eq(d.nerrors, 1);
    cr_assert_eq(d.nwarnings, 0);
    free(out);
}

Test(diag, point_span_is_one_caret)
{
    SrcFile src = src3();
    Diag d;
    diag_init(&d, &src);
    capture_begin();
    diag_error(&d, (Span){1, 5, 5}, "x");
    diag_error(&d, (Span){1, 5, 6}, "y");
    char *out = capture_end();
    cr_assert_str_eq(out,
        "digits.nnet:1:5: error: x\n"
        " 1 | let hidden = 128\n"
        "   |     ^\n"
        "digits.nnet:1:5: error: y\n"
        " 1 | let hidden = 128\n"
        "   |     ^\n");
    free(out);
}

Test(diag, warning_and_note)
{
    SrcFile src = src3();
    Diag d;
    diag_init(&d, &src);
    capture_begin();
    diag_warning(&d, (Span){1, 1, 4}, "w");
    diag_note(&d, (Span){2, 7, 13}, "n");
    char *out = capture_end();
    cr_assert_str_eq(out,
        "digits.nnet:1:1: warning: w\n"
        " 1 | let hidden = 128\n"
        "   | ^~~\n"
        "digits.nnet:2:7: note: n\n"
        " 2 | model digits {\n"
        "   |       ^~~~~~\n");
    cr_assert_eq(d.nerrors, 0);
    cr_assert_eq(d.nwarnings, 1);
    free(out);
}

Test(diag, gutter_grows_with_line_number)
{
    char text[256] = "";
    for (int i = 1; i <= 12; i++)
        strcat(text, i == 12 ? "\tx = 1\n" : "\n");
    SrcFile src = {"f.nnet", text, strlen(text)};
    Diag d;
    diag_init(&d, &src);
    capture_begin();
    diag_error(&d, (Span){12, 2, 3}, "tab");
    char *out = capture_end();
    /* The tab is kept in the quote and repeated in the caret line. */
    cr_assert_str_eq(out,
        "f.nnet:12:2: error: tab\n"
        " 12 | \tx = 1\n"
        "    | \t^\n");
    free(out);
}

Test(diag, nonprintable_bytes_and_utf8)
{
    /* 'é' is two bytes (two columns) but one character on screen. */
    const char *text = "# caf\xc3\xa9 \x01\xff x\r\n";
    SrcFile src = {"u.nnet", text, strlen(text)};
    Diag d;
    diag_init(&d, &src);
    capture_begin();
    diag_error(&d, (Span){1, 12, 13}, "here");   /* the x */
    char *out = capture_end();
    cr_assert_str_eq(out,
        "u.nnet:1:12: error: here\n"
        " 1 | # caf\xc3\xa9 ?? x\n"
        "   |           ^\n");
    free(out);
}

Test(diag, nul_byte_in_line_is_shown)
{
    const char text[] = "let x = 1\0 + 2\n";
    SrcFile src = {"z.nnet", text, sizeof text - 1};
    Diag d;
    diag_init(&d, &src);
    capture_begin();
    diag_error(&d, (Span){1, 10, 11}, "stray '\\x00' in program");
    char *out = capture_end();
    cr_assert_str_eq(out,
        "z.nnet:1:10: error: stray '\\x00' in program\n"
        " 1 | let x = 1? + 2\n"
        "   |          ^\n");
    free(out);
}

Test(diag, caret_past_end_and_clipped_range)
{
    SrcFile src = src3();
    Diag d;
    diag_init(&d, &src);
    capture_begin();
    diag_error(&d, (Span){2, 15, 15}, "after");     /* just past "{" */
    diag_error(&d, (Span){2, 14, 40}, "clipped");
    char *out = capture_end();
    cr_assert_str_eq(out,
        "digits.nnet:2:15: error: after\n"
        " 2 | model digits {\n"
        "   |               ^\n"
        "digits.nnet:2:14: error: clipped\n"
        " 2 | model digits {\n"
        "   |              ^\n");
    free(out);
}

Test(diag, last_line_without_newline)
{
    const char *text = "a\nlet x";
    SrcFile src = {"n.nnet", text, strlen(text)};
    Diag d;
    diag_init(&d, &src);
    capture_begin();
    diag_error(&d, (Span){2, 5, 6}, "m");
    diag_error(&d, (Span){3, 1, 1}, "no such line");
    char *out = capture_end();
    cr_assert_str_eq(out,
        "n.nnet:2:5: error: m\n"
        " 2 | let x\n"
        "   |     ^\n"
        "n.nnet:3:1: error: no such line\n");
    free(out);
}

Test(diag, no_position)
{
    SrcFile src = src3();
    Diag with, without;
    diag_init(&with, &src);
    diag_init(&without, NULL);
    capture_begin();
    diag_error(&with, (Span){0, 0, 0}, "line zero");
    diag_error(&without, (Span){3, 5, 6}, "no source");
    diag_error_nopos(&with, "cannot read: %s", "No such file or directory");
    diag_error_nopos(&without, "bad option '%s'", "-x");
    char *out = capture_end();
    cr_assert_str_eq(out,
        "digits.nnet: error: line zero\n"
        "nnc: error: no source\n"
        "nnc: error: cannot read: No such file or directory\n"
        "nnc: error: bad option '-x'\n");
    cr_assert_eq(with.nerrors, 2);
    cr_assert_eq(without.nerrors, 2);
    free(out);
}

Test(diag, too_many_errors)
{
    SrcFile src = src3();
    Diag d;
    diag_init(&d, &src);
    cr_assert_eq(d.max_errors, 20);
    d.max_errors = 2;
    capture_begin();
    diag_error(&d, (Span){0, 0, 0}, "e1");
    diag_error(&d, (Span){0, 0, 0}, "e2");
    diag_error(&d, (Span){0, 0, 0}, "e3");
    diag_note(&d, (Span){0, 0, 0}, "note of e3");
    diag_error_nopos(&d, "e4");
    diag_warning(&d, (Span){0, 0, 0}, "w");
    char *out = capture_end();
    cr_assert_str_eq(out,
        "digits.nnet: error: e1\n"
        "digits.nnet: error: e2\n"
        "nnc: too many errors, stopping\n");
    cr_assert_eq(d.nerrors, 4);
    cr_assert_eq(d.nwarnings, 1);
    free(out);
}

Test(diag, zero_max_errors_is_silent)
{
    Diag d = {0};           /* as a pass does to re-run a check quietly */
    d.max_errors = 0;
    capture_begin();
    for (int i = 0; i < 30; i++)
        diag_error(&d, (Span){1, 1, 2}, "e");
    diag_warning(&d, (Span){1, 1, 2}, "w");
    diag_note(&d, (Span){1, 1, 2}, "n");
    diag_error_nopos(&d, "e");
    char *out = capture_end();
    cr_assert_str_eq(out, "");
    cr_assert_eq(d.nerrors, 31);
    cr_assert_eq(d.nwarnings, 1);
    free(out);
}

/* ---- internal errors ---- */

Test(diag, ice_names_the_pass_and_aborts)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fileno(tmp), 2);
        nnc_current_pass = "fuse-act";
        nnc_ice("passes/fuse.c", 42, "node %d has %s", 7, "no users");
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    char buf[256] = "";
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    cr_assert_str_eq(buf, "nnc: internal error in fuse-act: node 7 has no users "
                          "(at passes/fuse.c:42)\n");
    fclose(tmp);
}

Test(diag, ice_outside_a_pass_says_driver, .signal = SIGABRT)
{
    cr_redirect_stderr();
    nnc_current_pass = NULL;
    NNC_ICE("boom");
}

/* ---- allocation ---- */

Test(diag, allocators)
{
    char *s = xasprintf("%s-%d", "layer", 12);
    cr_assert_str_eq(s, "layer-12");
    char *t = xstrndup("abcdef", 3);
    cr_assert_str_eq(t, "abc");
    char *u = xstrndup("ab\0cd", 5);            /* stops at the NUL */
    cr_assert_str_eq(u, "ab");
    char *v = xstrdup("");
    cr_assert_str_eq(v, "");
    int *z = xcalloc(4, sizeof *z);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(z[i], 0);
    z = xrealloc(z, 1000 * sizeof *z);
    z[999] = 1;
    void *m = xmalloc(0);                        /* never NULL */
    cr_assert_not_null(m);
    free(s); free(t); free(u); free(v); free(z); free(m);
}

/* ---- read_file ---- */

Test(diag, read_file_binary_safe)
{
    char path[] = "/tmp/nnc_test_diag_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_neq(fd, -1);
    const char data[] = "ab\0cd\xff";
    cr_assert_eq(write(fd, data, sizeof data - 1), (ssize_t)(sizeof data - 1));
    close(fd);
    size_t len = 0;
    const char *err = NULL;
    char *text = read_file(path, &len, &err);
    unlink(path);
    cr_assert_not_null(text);
    cr_assert_eq(len, sizeof data - 1);
    cr_assert_eq(memcmp(text, data, len), 0);
    cr_assert_eq(text[len], '\0');
    free(text);
}

Test(diag, read_file_large)
{
    char path[] = "/tmp/nnc_test_diag_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_neq(fd, -1);
    size_t n = 300000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    cr_assert_eq(write(fd, data, n), (ssize_t)n);
    close(fd);
    size_t len = 0;
    const char *err = NULL;
    char *text = read_file(path, &len, &err);
    unlink(path);
    cr_assert_not_null(text);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(text, data, n), 0);
    free(text);
    free(data);
}

Test(diag, read_file_errors)
{
    size_t len = 123;
    const char *err = NULL;
    cr_assert_null(read_file("/nonexistent/dir/x.nnet", &len, &err));
    cr_assert_str_eq(err, strerror(ENOENT));
    err = NULL;
    cr_assert_null(read_file("/tmp", &len, &err));
    cr_assert_str_eq(err, strerror(EISDIR));
}
