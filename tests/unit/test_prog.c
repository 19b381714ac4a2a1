/* test_prog.c — the program driver (runtime/prog*.c): every command of a
 * built program run through nnr_main() on a hand-written fake model
 * (fake_model.h), in a forked child whose stdin/stdout/stderr are files. */
#define _DEFAULT_SOURCE   /* mknod, makedev */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_model.h"

/* ------------------------------------------------------------ harness */

typedef struct run_result {
    int status;     /* exit status of nnr_main, or -1 if the child crashed */
    char *out, *err;
} run_result;

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/test_prog_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) { /* best effort */ }
}

/* A path in the test's folder (static storage, a few live at once). */
static const char *tpath(const char *name)
{
    static char bufs[8][256];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    size_t len;
    char err[256];
    return (char *)nnr_read_file(path, &len, err, sizeof err);   /* NUL-terminated */
}

/* Runs nnr_main(m, "fake", args...) with stdin_text on standard input. */
static run_result run(const nnr_model *m, const char *stdin_text, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "fake";
    va_list ap;
    va_start(ap, stdin_text);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;

    char in[] = "/tmp/test_prog_in_XXXXXX", out[] = "/tmp/test_prog_out_XXXXXX",
         err[] = "/tmp/test_prog_err_XXXXXX";
    int fi = mkstemp(in), fo = mkstemp(out), fe = mkstemp(err);
    cr_assert(fi >= 0 && fo >= 0 && fe >= 0);
    if (stdin_text) {
        size_t len = strlen(stdin_text);
        cr_assert_eq(write(fi, stdin_text, len), (ssize_t)len);
    }
    lseek(fi, 0, SEEK_SET);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        int rc = nnr_main(m, argc, argv);
        fflush(NULL);
        _exit(rc);
    }
    int ws;
    waitpid(pid, &ws, 0);
    close(fi);
    close(fo);
    close(fe);
    run_result r;
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.out = read_text(out);
    r.err = read_text(err);
    unlink(in);
    unlink(out);
    unlink(err);
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

#define assert_contains(hay, needle) \
    cr_assert(strstr((hay), (needle)) != NULL, "expected '%s' in:\n%s", (needle), (hay))

/* Writes a little-endian F32 safetensors file by hand (independent of
 * nnr_st_write). shapes[i] has ndims[i] entries; data[i] the floats. */
static void st_write_raw(const char *path, int n, const char *const *names, const int *ndims,
                         const int64_t shapes[][4], const float *const *data)
{
    char header[4096];
    size_t hl = 0, off = 0;
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "{");
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        hl += (size_t)snprintf(header + hl, sizeof header - hl,
                               "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", names[i]);
        for (int d = 0; d < ndims[i]; d++) {
            numel *= (size_t)shapes[i][d];
            hl += (size_t)snprintf(header + hl, sizeof header - hl, "%s%lld", d ? "," : "",
                                   (long long)shapes[i][d]);
        }
        hl += (size_t)snprintf(header + hl, sizeof header - hl,
                               "],\"data_offsets\":[%zu,%zu]}", off, off + numel * 4);
        off += numel * 4;
    }
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "}");
    while (hl % 8)
        header[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(((uint64_t)hl >> (8 * i)) & 0xff);
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, hl, f);
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < ndims[i]; d++)
            numel *= (size_t)shapes[i][d];
        fwrite(data[i], 4, numel, f); /* the test machines are little-endian */
    }
    fclose(f);
}

static const float W[6] = {0.5f, -1.0f, 0.25f, 2.0f, -0.75f, 0.125f};
static const float B[3] = {0.1f, -0.2f, 0.3f};
static const float CNT[1] = {0.0f};

/* The model's three tensors with their right shapes. */
static void write_good_weights(const char *path)
{
    const char *names[] = {"fc.weight", "fc.bias", "bn.num_batches_tracked"};
    int ndims[] = {2, 1, 0};
    const int64_t shapes[][4] = {{3, 2}, {3}, {0}};
    const float *data[] = {W, B, CNT};
    st_write_raw(path, 3, names, ndims, shapes, data);
}

/* The fake model's forward, for expected values. */
static void expect_forward(const float *w, const float *b, const float *x, float *y)
{
    for (int o = 0; o < 3; o++) {
        float s = b[o];
        for (int j = 0; j < 2; j++)
            s += x[j] * w[o * 2 + j];
        y[o] = s;
    }
}

TestSuite(prog, .init = make_tmpdir, .fini = remove_tmpdir);

/* ------------------------------------------------------------ usage */

Test(prog, usage_errors_exit_2)
{
    nnr_model m = fake_model();
    const char *cases[][4] = {
        {NULL},
        {"frobnicate", NULL},
        {"infer", "--bogus", NULL},
        {"infer", "--weights", NULL},
        {"train", "--epochs", "abc", NULL},
        {"train", "--epochs", "-1", NULL},
        {"train", "--batch", "0", NULL},
        {"train", "--lr", "fast", NULL},
        {"infer", "extra", NULL},
        {"infer", "--epochs", "3", NULL},   /* an option of another command */
        {"bench", "--seconds", "0", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = run(&m, "", cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL);
        cr_expect_eq(r.status, 2, "case %zu (%s): exit %d, stderr:\n%s", i,
                     cases[i][0] ? cases[i][0] : "(none)", r.status, r.err);
        assert_contains(r.err, "usage:");
        cr_expect_str_empty(r.out, "case %zu printed on stdout", i);
        run_free(&r);
    }
}

Test(prog, help_goes_to_stdout)
{
    nnr_model m = fake_model();
    const char *flags[] = {"--help", "-h"};
    for (int i = 0; i < 2; i++) {
        run_result r = run(&m, "", flags[i], NULL);
        cr_expect_eq(r.status, 0);
        assert_contains(r.out, "usage: fake");
        assert_contains(r.out, "infer");
        assert_contains(r.out, "bench");
        run_free(&r);
    }
    run_result r = run(&m, "", "train", "--help", NULL);
    cr_expect_eq(r.status, 0);
    assert_contains(r.out, "usage:");
    run_free(&r);
}

/* ------------------------------------------------------------ infer */

Test(prog, infer_prints_one_row_per_sample)
{
    nnr_model m = fake_model();
    const char *w = tpath("w.safetensors");
    write_good_weights(w);
    /* Options before the command, blank lines and spaces and CRLF tolerated. */
    run_result r = run(&m, "1,2\n\n  3.5 , -4e-1\r\n0,0", "--weights", w, "infer", NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    const float xs[3][2] = {{1, 2}, {3.5f, -0.4f}, {0, 0}};
    char want[512] = "";
    for (int i = 0; i < 3; i++) {
        float y[3];
        expect_forward(W, B, xs[i], y);
        char line[128];
        snprintf(line, sizeof line, "%.9g,%.9g,%.9g\n", (double)y[0], (double)y[1],
                 (double)y[2]);
        strcat(want, line);
    }
    cr_expect_str_eq(r.out, want);
    cr_expect_str_empty(r.err);
    run_free(&r);
}

Test(prog, infer_without_weights_uses_seeded_init_or_builtin)
{
    nnr_model m = fake_model();
    m.cfg.seed = 3;
    float st[FAKE_STATE], y[3];
    fake_init(st, 3);
    const float x[2] = {1, -1};
    expect_forward(st, st + 6, x, y);
    char want[128];
    snprintf(want, sizeof want, "%.9g,%.9g,%.9g\n", (double)y[0], (double)y[1], (double)y[2]);
    run_result r = run(&m, "1,-1\n", "infer", NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect_str_eq(r.out, want);
    run_free(&r);

    float builtin[FAKE_STATE];
    memcpy(builtin, W, sizeof W);
    memcpy(builtin + 6, B, sizeof B);
    builtin[9] = 0;
    m.builtin_state = builtin;
    expect_forward(W, B, x, y);
    snprintf(want, sizeof want, "%.9g,%.9g,%.9g\n", (double)y[0], (double)y[1], (double)y[2]);
    r = run(&m, "1,-1\n", "infer", NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect_str_eq(r.out, want);
    run_free(&r);
}

Test(prog, infer_many_rows_in_batches)
{
    nnr_model m = fake_model();
    size_t rows = 1000;
    char *in = malloc(rows * 16);
    size_t k = 0;
    for (size_t i = 0; i < rows; i++)
        k += (size_t)sprintf(in + k, "%zu,1\n", i);
    run_result r = run(&m, in, "infer", NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    size_t lines = 0;
    for (const char *p = r.out; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, rows);
    /* The last row is right. */
    float st[FAKE_STATE], y[3];
    fake_init(st, 0);
    const float x[2] = {999, 1};
    expect_forward(st, st + 6, x, y);
    char want[128];
    snprintf(want, sizeof want, "\n%.9g,%.9g,%.9g\n", (double)y[0], (double)y[1], (double)y[2]);
    size_t ol = strlen(r.out), wl = strlen(want);
    cr_assert(ol >= wl);
    cr_expect_str_eq(r.out + ol - wl, want);
    free(in);
    run_free(&r);
}

Test(prog, infer_bad_input_names_line_and_column)
{
    nnr_model m = fake_model();
    run_result r = run(&m, "1,2\n1,abc\n", "infer", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "<stdin>:2:3: error: expected a number");
    cr_expect_str_empty(r.out);
    run_free(&r);

    r = run(&m, "1,2\n\n1,2,3\n", "infer", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "<stdin>:3: error: expected 2 values, found 3");
    cr_expect_str_empty(r.out);
    run_free(&r);

    r = run(&m, "1\n", "infer", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "<stdin>:1: error: expected 2 values, found 1");
    run_free(&r);

    r = run(&m, "1,\n", "infer", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "<stdin>:1:3: error: expected a number");
    run_free(&r);

    r = run(&m, "", "infer", NULL);   /* no samples, no output */
    cr_expect_eq(r.status, 0);
    cr_expect_str_empty(r.out);
    run_free(&r);
}

/* ------------------------------------------------------------ streams (issue 17) */

static nnr_model train_model(void);

/* nnr_main(m, "fake", argv...) in a child whose standard input and output
 * are pipes: *to_child writes its input, *from_child reads its output. */
static pid_t spawn_piped(const nnr_model *m, char **argv, int argc, int *to_child,
                         int *from_child)
{
    int in[2], out[2];
    cr_assert(pipe(in) == 0 && pipe(out) == 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        int rc = nnr_main(m, argc, argv);
        fflush(NULL);
        _exit(rc);
    }
    close(in[0]);
    close(out[1]);
    *to_child = in[1];
    *from_child = out[0];
    return pid;
}

/* One line from fd within 10 s (without the newline), or NULL. */
static char *read_line_within(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1)
            return NULL;
        if (read(fd, buf + n, 1) != 1)
            return NULL;
        if (buf[n] == '\n') {
            buf[n] = '\0';
            return buf;
        }
        n++;
    }
    return NULL;
}

/* infer answers a row as soon as it is read: the first output arrives while
 * standard input is still open (issue 17, item 9). */
Test(prog, infer_streams_each_row_through_a_pipe, .timeout = 60)
{
    nnr_model m = fake_model();
    signal(SIGPIPE, SIG_IGN);
    char *argv[] = {"fake", "infer", NULL};
    int to, from;
    pid_t pid = spawn_piped(&m, argv, 2, &to, &from);
    float st[FAKE_STATE], y[3];
    fake_init(st, 0);
    const float xs[2][2] = {{1, 2}, {-3, 0.5f}};
    const char *rows[2] = {"1,2\n", "-3,0.5\n"};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(write(to, rows[i], strlen(rows[i])), (ssize_t)strlen(rows[i]));
        char line[256], want[256];
        char *got = read_line_within(from, line, sizeof line);
        cr_assert_not_null(got, "no output for row %d while the input stays open", i + 1);
        expect_forward(st, st + 6, xs[i], y);
        snprintf(want, sizeof want, "%.9g,%.9g,%.9g", (double)y[0], (double)y[1], (double)y[2]);
        cr_expect_str_eq(got, want);
    }
    close(to);
    int ws;
    waitpid(pid, &ws, 0);
    close(from);
    cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

/* The peak memory (KiB) of infer over `rows` rows "i,1" from a file. */
static long infer_maxrss(const nnr_model *m, size_t rows, size_t *lines_out)
{
    const char *inp = tpath("rows.csv"), *outp = tpath("out.csv");
    FILE *f = fopen(inp, "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i < rows; i++)
        fprintf(f, "%zu,1\n", i % 1000);
    fclose(f);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fi = open(inp, O_RDONLY), fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fi, 0);
        dup2(fo, 1);
        char *argv[] = {"fake", "infer", NULL};
        int rc = nnr_main(m, 2, argv);
        fflush(NULL);
        _exit(rc);
    }
    int ws;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &ws, 0, &ru), pid);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    f = fopen(outp, "r");
    cr_assert_not_null(f);
    size_t lines = 0;
    for (int c; (c = getc(f)) != EOF;)
        lines += c == '\n';
    fclose(f);
    *lines_out = lines;
    return ru.ru_maxrss;
}

#if defined(__SANITIZE_ADDRESS__)
#define PROG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROG_ASAN 1
#endif
#endif

/* 10^6 rows take no more memory than 10^3 (issue 17, item 9: 33 MB before). */
Test(prog, infer_memory_does_not_grow_with_rows, .timeout = 120)
{
    nnr_model m = fake_model();
    size_t lines;
    long small = infer_maxrss(&m, 1000, &lines);
    cr_assert_eq(lines, 1000);
    long big = infer_maxrss(&m, 1000000, &lines);
    cr_assert_eq(lines, 1000000);
    cr_log_info("infer peak memory: %ld KiB for 10^3 rows, %ld KiB for 10^6 rows", small, big);
#ifdef PROG_ASAN
    /* the sanitizer's quarantine keeps freed chunks resident: not a leak */
    (void)small;
#else
    cr_expect_lt(big - small, 4096, "10^6 rows grew the peak by %ld KiB", big - small);
#endif
}

/* A data file that is not a regular file is read with a byte limit:
 * /dev/zero is an error naming it, not endless growth (issue 17, item 5). */
Test(prog, data_from_dev_zero_is_limited, .timeout = 60)
{
    nnr_model m = train_model();
    setenv("NNC_MAX_INPUT", "1M", 1);
    run_result r = run(&m, "", "train", "--data", "/dev/zero", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "/dev/zero: error: more than 1048576 bytes");
    assert_contains(r.err, "NNC_MAX_INPUT");
    cr_expect_str_empty(r.out);
    run_free(&r);

    r = run(&m, "", "eval", "--data", "/dev/zero", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "/dev/zero: error: more than 1048576 bytes");
    run_free(&r);

    /* infer: one endless line on standard input */
    int fd = open("/dev/zero", O_RDONLY);
    cr_assert(fd >= 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fe = open(tpath("err.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 0);
        dup2(fe, 2);
        char *argv[] = {"fake", "infer", NULL};
        _exit(nnr_main(&m, 2, argv));
    }
    close(fd);
    int ws;
    waitpid(pid, &ws, 0);
    cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 1);
    char *err = read_text(tpath("err.txt"));
    cr_assert_not_null(err);
    assert_contains(err, "<stdin>:1: error: line longer than 1048576 bytes");
    free(err);

    unsetenv("NNC_MAX_INPUT");
}

/* A FIFO as --data is read as a stream (and eval answers); a bad
 * NNC_MAX_INPUT is a warning. */
Test(prog, data_from_a_fifo, .timeout = 60)
{
    nnr_model m = train_model();
    const char *fifo = tpath("data.fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    fflush(NULL);
    pid_t w = fork();
    if (w == 0) {
        int fd = open(fifo, O_WRONLY);
        const char *t = "1,2,0\n3,4,1\n";
        ssize_t n = write(fd, t, strlen(t));
        close(fd);
        _exit(n == (ssize_t)strlen(t) ? 0 : 1);
    }
    /* a limit that is not a number is a warning, and the default holds */
    setenv("NNC_MAX_INPUT", "lots", 1);
    run_result r = run(&m, "", "eval", "--data", fifo, NULL);
    unsetenv("NNC_MAX_INPUT");
    int ws;
    waitpid(w, &ws, 0);
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    assert_contains(r.out, "loss=");
    assert_contains(r.err, "warning: NNC_MAX_INPUT='lots' is not a positive number of bytes");
    run_free(&r);
}

/* ------------------------------------------------------------ strict weights */

Test(prog, weights_missing_tensor)
{
    nnr_model m = fake_model();
    const char *w = tpath("w.safetensors");
    const char *names[] = {"fc.weight", "bn.num_batches_tracked"};
    int ndims[] = {2, 0};
    const int64_t shapes[][4] = {{3, 2}, {0}};
    const float *data[] = {W, CNT};
    st_write_raw(w, 2, names, ndims, shapes, data);
    run_result r = run(&m, "1,2\n", "infer", "--weights", w, NULL);
    cr_expect_eq(r.status, 1);
    char want[512];
    snprintf(want, sizeof want, "%s: error: missing tensor 'fc.bias' (shape [3])", w);
    assert_contains(r.err, want);
    cr_expect_str_empty(r.out);
    run_free(&r);
}

Test(prog, weights_wrong_shape)
{
    nnr_model m = fake_model();
    const char *w = tpath("w.safetensors");
    const char *names[] = {"fc.weight", "fc.bias", "bn.num_batches_tracked"};
    int ndims[] = {2, 1, 0};
    const int64_t shapes[][4] = {{2, 3}, {3}, {0}};
    const float *data[] = {W, B, CNT};
    st_write_raw(w, 3, names, ndims, shapes, data);
    run_result r = run(&m, "1,2\n", "infer", "--weights", w, NULL);
    cr_expect_eq(r.status, 1);
    char want[512];
    snprintf(want, sizeof want,
             "%s: error: tensor 'fc.weight' has shape [2, 3], the model expects [3, 2]", w);
    assert_contains(r.err, want);
    run_free(&r);
}

Test(prog, weights_unexpected_tensor)
{
    nnr_model m = fake_model();
    const char *w = tpath("w.safetensors");
    const char *names[] = {"fc.weight", "fc.bias", "bn.num_batches_tracked", "foo"};
    int ndims[] = {2, 1, 0, 1};
    const int64_t shapes[][4] = {{3, 2}, {3}, {0}, {1}};
    const float *data[] = {W, B, CNT, B};
    st_write_raw(w, 4, names, ndims, shapes, data);
    run_result r = run(&m, "1,2\n", "eval", "--weights", w, "--data", "nowhere.csv", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "error: unexpected tensor 'foo': the model has no such parameter");
    run_free(&r);

    r = run(&m, "", "infer", "--weights", tpath("absent.safetensors"), NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "absent.safetensors");
    run_free(&r);
}

/* ------------------------------------------------------------ eval */

static const char *DATA_CSV =
    "0.5,1.0,0\n"
    "-1.0,0.25,1\n"
    "2.0,-0.5,2\n"
    "0.0,0.0,1\n"
    "1.5,1.5,0\n";

Test(prog, eval_prints_loss_and_accuracy)
{
    nnr_model m = fake_model();
    m.cfg.data.kind = NNR_DATA_CSV;
    m.cfg.data.path = tpath("data.csv");
    m.cfg.data.csv.label = -1;
    m.cfg.data.csv.has_label = 1;
    write_text(m.cfg.data.path, DATA_CSV);
    const char *w = tpath("w.safetensors");
    write_good_weights(w);

    const float xs[5][2] = {{0.5f, 1}, {-1, 0.25f}, {2, -0.5f}, {0, 0}, {1.5f, 1.5f}};
    const int lab[5] = {0, 1, 2, 1, 0};
    double loss = 0;
    int ok = 0;
    for (int i = 0; i < 5; i++) {
        float y[3];
        expect_forward(W, B, xs[i], y);
        double mx = fmax(y[0], fmax(y[1], y[2])), z = 0;
        int am = 0;
        for (int o = 0; o < 3; o++) {
            z += exp(y[o] - mx);
            if (y[o] > y[am])
                am = o;
        }
        loss += -(y[lab[i]] - mx - log(z));
        ok += am == lab[i];
    }
    loss /= 5;
    char want[128];
    snprintf(want, sizeof want, "loss=%.9g\naccuracy=%.9g\n", loss, ok / 5.0);

    run_result r = run(&m, "", "eval", "--weights", w, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect_str_eq(r.out, want);
    run_free(&r);

    /* --data overrides the path and keeps the options; here it is a bad file. */
    write_text(tpath("bad.csv"), "0.5,1.0,0\n0.5,x,1\n");
    r = run(&m, "", "eval", "--data", tpath("bad.csv"), NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "bad.csv:2:5: error: expected a number");
    cr_expect_str_empty(r.out);
    run_free(&r);
}

Test(prog, eval_checks_data_against_the_model)
{
    nnr_model m = fake_model();
    write_text(tpath("wide.csv"), "1,2,3,0\n4,5,6,1\n");
    run_result r = run(&m, "", "eval", "--data", tpath("wide.csv"), NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "wide.csv:1: error: expected 2 input values per row (the model's input), found 3");
    run_free(&r);

    write_text(tpath("labels.csv"), "1,2,0\n\n4,5,7\n");
    r = run(&m, "", "eval", "--data", tpath("labels.csv"), NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err,
                    "labels.csv:3: error: class label 7 is out of range for a model with 3 outputs");
    run_free(&r);

    /* No train block: --data is required. */
    m.cfg.present = 0;
    r = run(&m, "", "eval", NULL);
    cr_expect_eq(r.status, 2);
    run_free(&r);
}

/* ------------------------------------------------------------ train */

/* Two separable blobs of three classes, 24 rows. */
static void write_train_csv(const char *path)
{
    char buf[4096];
    size_t k = 0;
    for (int i = 0; i < 24; i++) {
        int c = i % 3;
        float cx = c == 0 ? 2.0f : (c == 1 ? -2.0f : 0.0f);
        float cy = c == 2 ? 2.0f : -1.0f;
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%g,%g,%d\n",
                              (double)(cx + 0.1f * (float)(i % 5)),
                              (double)(cy - 0.1f * (float)(i % 4)), c);
    }
    write_text(path, buf);
}

static nnr_model train_model(void)
{
    nnr_model m = fake_model();
    m.cfg.data.kind = NNR_DATA_CSV;
    m.cfg.data.path = tpath("train.csv");
    m.cfg.data.csv.label = -1;
    m.cfg.data.csv.has_label = 1;
    write_train_csv(m.cfg.data.path);
    return m;
}

/* train_loss of each "epoch E/N" line of out. */
static int epoch_losses(const char *out, double *loss, int max)
{
    int n = 0;
    const char *p = out;
    while ((p = strstr(p, "train_loss=")) != NULL && n < max) {
        loss[n++] = strtod(p + 11, NULL);
        p += 11;
    }
    return n;
}

Test(prog, train_decreases_loss_and_saves)
{
    nnr_model m = train_model();
    const char *save = tpath("out.safetensors");
    run_result r = run(&m, "", "train", "--epochs", "5", "--batch", "5", "--save", save,
                       "--validation", m.cfg.data.path, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    double loss[8];
    cr_assert_eq(epoch_losses(r.out, loss, 8), 5, "stdout:\n%s", r.out);
    cr_expect_lt(loss[4], loss[0], "stdout:\n%s", r.out);
    assert_contains(r.out, "epoch 1/5");
    assert_contains(r.out, "epoch 5/5");
    assert_contains(r.out, "val_loss=");
    assert_contains(r.out, "val_acc=");
    char want[512];
    snprintf(want, sizeof want, "saved %s\n", save);
    assert_contains(r.out, want);
    run_free(&r);

    nnr_st_file f;
    char err[256];
    cr_assert_eq(nnr_st_read(save, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.ntensors, 3);
    const nnr_st_tensor *t = nnr_st_find(&f, "fc.weight");
    cr_assert_not_null(t);
    cr_expect_eq(t->ndim, 2);
    cr_expect_eq(t->shape[0], 3);
    cr_expect_eq(t->shape[1], 2);
    cr_expect_not_null(nnr_st_find(&f, "fc.bias"));
    t = nnr_st_find(&f, "bn.num_batches_tracked");
    cr_assert_not_null(t);
    cr_expect(t->dtype_was_int);
    cr_expect_eq(t->data[0], 25.0f);   /* 5 epochs x 5 batches (24 rows, batch 5) */
    nnr_st_free(&f);
}

/* fc.weight after `train --epochs 2 --batch 3 --seed SEED`. */
static void trained_weight(const nnr_model *m, const char *seed, float *w)
{
    const char *save = tpath("s.safetensors");
    run_result r = run(m, "", "train", "--epochs", "2", "--seed", seed, "--batch", "3", "--save",
                       save, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    run_free(&r);
    nnr_st_file f;
    char err[256];
    cr_assert_eq(nnr_st_read(save, &f, err, sizeof err), 0, "%s", err);
    const nnr_st_tensor *t = nnr_st_find(&f, "fc.weight");
    cr_assert_not_null(t);
    memcpy(w, t->data, 6 * sizeof(float));
    nnr_st_free(&f);
}

Test(prog, train_is_reproducible_and_seed_matters)
{
    nnr_model m = train_model();
    float a[6], b[6], c[6];
    trained_weight(&m, "7", a);
    trained_weight(&m, "7", b);
    trained_weight(&m, "8", c);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "same seed, same weights");
    cr_expect_neq(memcmp(a, c, sizeof a), 0, "another seed, other weights");
}

/* Rows with exactly representable values: x = (i/4 - 3, (i%5)/2), label i%3. */
#define SEQ_ROWS 11
static void seq_row(int i, float *x, int *label)
{
    x[0] = (float)i * 0.25f - 3.0f;
    x[1] = (float)(i % 5) * 0.5f;
    *label = i % 3;
}

static nnr_model seq_model(void)
{
    nnr_model m = fake_model();
    m.cfg.data.kind = NNR_DATA_CSV;
    m.cfg.data.path = tpath("seq.csv");
    m.cfg.data.csv.label = -1;
    m.cfg.data.csv.has_label = 1;
    m.cfg.shuffle = 0;
    m.cfg.optim.lr = 0.25f;
    char buf[1024];
    size_t k = 0;
    for (int i = 0; i < SEQ_ROWS; i++) {
        float x[2];
        int c;
        seq_row(i, x, &c);
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%g,%g,%d\n", (double)x[0], (double)x[1], c);
    }
    write_text(m.cfg.data.path, buf);
    return m;
}

static void read_state(const char *path, float *state)
{
    nnr_st_file f;
    char err[256];
    cr_assert_eq(nnr_st_read(path, &f, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 3; i++) {
        const nnr_st_tensor *t = nnr_st_find(&f, fake_tensors[i].name);
        cr_assert_not_null(t);
        memcpy(state + fake_tensors[i].offset, t->data, fake_tensors[i].numel * sizeof(float));
    }
    nnr_st_free(&f);
}

/* Without shuffling, batches are consecutive rows, the last one partial, and
 * each is one plain SGD step: the result is computable by hand. */
Test(prog, train_batches_in_order_without_shuffle)
{
    nnr_model m = seq_model();
    const char *save = tpath("seq.safetensors");
    run_result r = run(&m, "", "train", "--epochs", "2", "--batch", "4", "--save", save, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    run_free(&r);
    float got[FAKE_STATE], want[FAKE_STATE], grad[FAKE_STATE], arena[64];
    read_state(save, got);

    fake_init(want, 0);
    for (int e = 0; e < 2; e++)
        for (int r0 = 0; r0 < SEQ_ROWS; r0 += 4) {
            int n = SEQ_ROWS - r0 < 4 ? SEQ_ROWS - r0 : 4;
            float x[8];
            int32_t lab[4];
            for (int i = 0; i < n; i++) {
                int c;
                seq_row(r0 + i, x + 2 * i, &c);
                lab[i] = c;
            }
            fake_train_step(&(nnr_ctx){.n = n, .state = want, .grad = grad, .arena = arena}, x, lab, NULL,
                            NNR_LOSS_CROSS_ENTROPY);
            for (int j = 0; j < 9; j++)
                want[j] -= 0.25f * grad[j];
        }
    for (int j = 0; j < FAKE_STATE; j++)
        cr_expect_float_eq(got[j], want[j], 1e-5, "state[%d]: got %.9g, want %.9g", j,
                           (double)got[j], (double)want[j]);
    cr_expect_eq(got[9], 6.0f);   /* 3 batches an epoch */
}

/* fc is the fake model's one layer with parameters: freezing it leaves
 * nothing to train, which PyTorch's optimizer refuses (an empty parameter
 * list); nothing is trained or saved. */
Test(prog, train_refuses_freezing_every_parameter)
{
    nnr_model m = seq_model();
    static const int freeze[] = {0};
    m.cfg.freeze = freeze;
    m.cfg.nfreeze = 1;
    const char *save = tpath("frozen.safetensors");
    unlink(save);
    run_result r = run(&m, "", "train", "--epochs", "2", "--save", save, NULL);
    cr_expect_eq(r.status, 2, "stderr: %s", r.err);
    assert_contains(r.err, "freeze leaves nothing to train: every layer with parameters is frozen");
    cr_expect_eq(access(save, F_OK), -1, "a save was written");
    run_free(&r);
}

/* --freeze replaces the train block's list: by name, by position, or none. */
Test(prog, train_freeze_override)
{
    nnr_model m = seq_model();
    static const int freeze[] = {0};
    const char *save = tpath("freeze_opt.safetensors"), *plain = tpath("plain.safetensors");
    float got[FAKE_STATE], init[FAKE_STATE], want[FAKE_STATE];
    fake_init(init, 0);
    run_result r = run(&m, "", "train", "--save", plain, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    run_free(&r);
    read_state(plain, want);
    /* every spelling finds fc, the one layer with parameters: nothing to train */
    static const char *const frozen[] = {"fc", "0", "\"fc\"", "[0]", " fc , bn "};
    for (int i = 0; i < 5; i++) {
        unlink(save);
        r = run(&m, "", "train", "--freeze", frozen[i], "--save", save, NULL);
        cr_expect_eq(r.status, 2, "--freeze '%s': %s", frozen[i], r.err);
        assert_contains(r.err, "freeze leaves nothing to train");
        cr_expect_eq(access(save, F_OK), -1, "--freeze '%s' saved", frozen[i]);
        run_free(&r);
    }
    r = run(&m, "", "train", "--freeze", "bn", "--save", save, NULL);   /* no parameters */
    cr_assert_eq(r.status, 0, "--freeze bn: %s", r.err);
    run_free(&r);
    read_state(save, got);
    cr_expect_eq(memcmp(got, want, FAKE_STATE * sizeof(float)), 0, "--freeze bn changed training");
    m.cfg.freeze = freeze;
    m.cfg.nfreeze = 1;
    r = run(&m, "", "train", "--freeze", "", "--save", save, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    run_free(&r);
    read_state(save, got);
    cr_expect_eq(memcmp(got, want, FAKE_STATE * sizeof(float)), 0, "--freeze '' froze something");
    r = run(&m, "", "train", "--freeze", "head", NULL);
    cr_expect_eq(r.status, 2);
    assert_contains(r.err, "--freeze: model 'fake' has no layer named 'head'");
    run_free(&r);
}

/* --optimizer, then --lr over it; --loss reaches the training step. */
Test(prog, train_optimizer_and_loss_override)
{
    nnr_model m = seq_model();
    const char *a = tpath("opt_a.safetensors"), *b = tpath("opt_b.safetensors");
    float ga[FAKE_STATE], gb[FAKE_STATE];
    run_result r = run(&m, "", "train", "--epochs", "2", "--save", a, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    run_free(&r);
    m.cfg.optim.kind = NNR_OPT_ADAM;
    m.cfg.optim.lr = 0.001;
    r = run(&m, "", "train", "--epochs", "2", "--optimizer", " sgd ( lr = 1.5e0 ) ", "--lr",
            "0.25", "--save", b, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    run_free(&r);
    read_state(a, ga);
    read_state(b, gb);
    cr_expect_eq(memcmp(ga, gb, sizeof ga), 0, "--optimizer sgd --lr 0.25 differs from the block's sgd");
    r = run(&m, "", "train", "--loss", "mse", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "the loss mse needs 3 target columns");
    run_free(&r);
}

Test(prog, train_lr_override)
{
    nnr_model m = seq_model();
    const char *save = tpath("lr0.safetensors");
    run_result r = run(&m, "", "train", "--lr", "0", "--save", save, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    run_free(&r);
    float got[FAKE_STATE], init[FAKE_STATE];
    read_state(save, got);
    fake_init(init, 0);
    cr_expect_eq(memcmp(got, init, 9 * sizeof(float)), 0, "lr = 0 changed the parameters");
}

Test(prog, train_writes_the_log)
{
    nnr_model m = train_model();
    const char *log = tpath("log.csv");
    run_result r = run(&m, "", "train", "--log", log, "--epochs", "3", NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    run_free(&r);
    char *text = read_text(log);
    cr_assert_not_null(text);
    cr_expect_eq(strncmp(text, "epoch,train_loss,val_loss,val_accuracy,seconds\n", 47), 0,
                 "log:\n%s", text);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 4, "log:\n%s", text);
    assert_contains(text, "\n1,");
    assert_contains(text, "\n3,");
    assert_contains(text, ",,,");   /* no validation: empty fields */
    free(text);
}

/* A log that cannot be written (a full disk: /dev/full) is a warning naming
 * the file; training goes on to its save (issue 17, item 2). */
Test(prog, train_log_write_failure_is_a_warning)
{
    /* A full device of the test's own (root), so that a regression that
     * replaced the file could not replace the system's /dev/full; else
     * /dev/full itself, which a user cannot replace. */
    const char *full = tpath("full");
    if (mknod(full, S_IFCHR | 0666, makedev(1, 7)) != 0) {
        full = "/dev/full";
        if (access(full, W_OK) != 0)
            cr_skip_test("no writable /dev/full here");
    }
    nnr_model m = train_model();
    const char *save = tpath("w.safetensors");
    run_result r = run(&m, "", "train", "--log", full, "--epochs", "3", "--save", save, NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    char want[320];
    snprintf(want, sizeof want, "%s: warning: cannot write the log: No space left on device",
             full);
    assert_contains(r.err, want);
    assert_contains(r.out, "epoch 3/3");
    assert_contains(r.out, "saved ");
    /* one warning, not one per epoch */
    cr_expect_null(strstr(strstr(r.err, "warning") + 1, "warning"), "stderr: %s", r.err);
    char *text = read_text(save);
    cr_expect_not_null(text, "the model was not saved");
    free(text);
    run_free(&r);

    /* A log that cannot be opened is an error before any training. */
    r = run(&m, "", "train", "--log", tpath("no/such/folder/log.csv"), "--save", save, NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "log.csv: error: cannot open the log");
    cr_expect_null(strstr(r.out, "epoch 1"), "stdout: %s", r.out);
    run_free(&r);
}

Test(prog, train_stops_on_nan_with_last_good_parameters)
{
    nnr_model m = train_model();
    fake_nan_at = 8;   /* 24 rows, batch 4: 6 batches an epoch -> epoch 2, batch 2 */
    const char *save = tpath("nan.safetensors");
    run_result r = run(&m, "", "train", "--epochs", "3", "--batch", "4", "--save", save, NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "loss is nan at epoch 2, batch 2");
    assert_contains(r.out, "epoch 1/3");
    cr_expect_null(strstr(r.out, "epoch 2/3"), "stdout:\n%s", r.out);
    run_free(&r);
    nnr_st_file f;
    char err[256];
    cr_assert_eq(nnr_st_read(save, &f, err, sizeof err), 0, "%s", err);
    const nnr_st_tensor *t = nnr_st_find(&f, "bn.num_batches_tracked");
    cr_assert_not_null(t);
    cr_expect_eq(t->data[0], 7.0f);   /* the state before the failing step */
    nnr_st_free(&f);
}

Test(prog, train_needs_a_train_block)
{
    nnr_model m = fake_model();
    m.cfg.present = 0;
    run_result r = run(&m, "", "train", "--data", "x.csv", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "no train block");
    run_free(&r);
}

Test(prog, train_rejects_bad_data_before_training)
{
    nnr_model m = train_model();
    write_text(tpath("bad.csv"), "1,2,0\n1,2,9\n");
    const char *save = tpath("never.safetensors");
    run_result r = run(&m, "", "train", "--data", tpath("bad.csv"), "--save", save, NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "bad.csv:2: error: class label 9 is out of range for a model with 3 outputs");
    cr_expect_str_empty(r.out);
    cr_expect_eq(access(save, F_OK), -1, "nothing must be saved");
    run_free(&r);

    r = run(&m, "", "train", "--validation", tpath("missing.csv"), NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "missing.csv");
    cr_expect_str_empty(r.out);
    run_free(&r);
}

Test(prog, train_init_strict_and_not)
{
    nnr_model m = train_model();
    const char *w = tpath("init.safetensors");
    const char *names[] = {"fc.weight", "fc.bias"};
    int ndims[] = {2, 1};
    const int64_t shapes[][4] = {{2, 3}, {3}};
    const float *data[] = {W, B};
    st_write_raw(w, 2, names, ndims, shapes, data);

    run_result r = run(&m, "", "train", "--init", w, "--epochs", "0", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "tensor 'fc.weight' has shape [2, 3], the model expects [3, 2]");
    run_free(&r);

    m.cfg.strict = 0;
    const char *save = tpath("fresh.safetensors");
    r = run(&m, "", "train", "--init", w, "--epochs", "0", "--save", save, NULL);
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    char want[512];
    snprintf(want, sizeof want, "%s: warning: tensor 'fc.weight' has shape [2, 3], the model "
             "expects [3, 2]; keeping its initialisation", w);
    assert_contains(r.err, want);
    /* PyTorch's batch norm fills a missing num_batches_tracked with 0, silently */
    cr_expect_null(strstr(r.err, "num_batches_tracked"), "stderr: %s", r.err);
    run_free(&r);
    nnr_st_file f;
    char err[256];
    cr_assert_eq(nnr_st_read(save, &f, err, sizeof err), 0, "%s", err);
    float fresh[FAKE_STATE];
    fake_init(fresh, 0);
    const nnr_st_tensor *t = nnr_st_find(&f, "fc.weight");
    cr_assert_not_null(t);
    cr_expect_eq(t->data[0], fresh[0]);   /* kept its initialisation */
    t = nnr_st_find(&f, "fc.bias");
    cr_assert_not_null(t);
    cr_expect_eq(t->data[1], B[1]);       /* loaded */
    nnr_st_free(&f);
}

Test(prog, train_mse_on_targets)
{
    nnr_model m = fake_model();
    m.cfg.loss = NNR_LOSS_MSE;
    m.cfg.optim.lr = 0.05f;
    m.cfg.data.kind = NNR_DATA_CSV;
    m.cfg.data.path = tpath("reg.csv");
    m.cfg.data.csv.targets = 3;
    write_text(m.cfg.data.path, "1,0,1,2,3\n0,1,-1,0,1\n1,1,0,2,4\n-1,0,-1,-2,-3\n");
    run_result r = run(&m, "", "train", "--epochs", "30", "--batch", "2", NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    double loss[40];
    cr_assert_eq(epoch_losses(r.out, loss, 40), 30);
    cr_expect_lt(loss[29], loss[0] * 0.5);
    run_free(&r);

    r = run(&m, "", "eval", NULL);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    assert_contains(r.out, "loss=");
    cr_expect_null(strstr(r.out, "accuracy="), "regression has no accuracy");
    run_free(&r);

    /* Targets that do not match the outputs. */
    m.cfg.data.csv.targets = 2;
    write_text(m.cfg.data.path, "1,0,1,2\n");
    r = run(&m, "", "train", NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "reg.csv: error: samples have 2 targets, the model has 3 outputs");
    run_free(&r);
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(b, 1, n, f);
    fclose(f);
}

Test(prog, idx_sources)
{
    /* 4 images of 1x2 pixels, labels 0 1 2 then 5 (out of range at byte 8 + 3). */
    const unsigned char img[] = {0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2,
                                 10, 20, 30, 40, 50, 60, 70, 80};
    const unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 2, 5};
    const unsigned char good[] = {0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 2, 1};
    write_bytes(tpath("t-images-idx3-ubyte"), img, sizeof img);
    write_bytes(tpath("t-labels-idx1-ubyte"), lab, sizeof lab);
    write_bytes(tpath("good-labels"), good, sizeof good);
    nnr_model m = fake_model();
    m.cfg.data.kind = NNR_DATA_IDX;
    m.cfg.data.path = tpath("t-images-idx3-ubyte");
    m.cfg.data.path2 = tpath("good-labels");
    m.cfg.data.scale = 0.01f;

    run_result r = run(&m, "", "train", "--epochs", "1", NULL);
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    assert_contains(r.out, "epoch 1/1");
    run_free(&r);

    /* IMAGES alone finds the MNIST-named labels file next to it. */
    r = run(&m, "", "eval", "--data", tpath("t-images-idx3-ubyte"), NULL);
    cr_expect_eq(r.status, 1);
    assert_contains(r.err, "t-labels-idx1-ubyte: byte 11: error: class label 5 is out of range");
    run_free(&r);

    char both[600];
    snprintf(both, sizeof both, "%s,%s", tpath("t-images-idx3-ubyte"), tpath("good-labels"));
    r = run(&m, "", "eval", "--data", both, NULL);
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    assert_contains(r.out, "accuracy=");
    run_free(&r);
}

/* ------------------------------------------------------------ bench */

Test(prog, bench_last_line)
{
    nnr_model m = fake_model();
    const char *modes[2] = {NULL, "--train"};
    for (int i = 0; i < 2; i++) {
        run_result r = run(&m, "", "bench", "--batch", "4", "--seconds", "0.05", modes[i], NULL);
        cr_assert_eq(r.status, 0, "stderr: %s", r.err);
        size_t n = strlen(r.out);
        cr_assert(n > 0 && r.out[n - 1] == '\n');
        r.out[n - 1] = '\0';
        const char *last = strrchr(r.out, '\n');
        last = last ? last + 1 : r.out;
        double us;
        int batch;
        char tail;
        cr_expect_eq(sscanf(last, "median_us=%lf batch=%d%c", &us, &batch, &tail), 2,
                     "last line: %s", last);
        cr_expect_eq(batch, 4);
        cr_expect_geq(us, 0.0);
        run_free(&r);
    }
}
