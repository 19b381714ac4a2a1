/* Unit tests of nnr_read_file / nnr_write_file_atomic (runtime/io/file.c):
 * atomic replacement, kept mode and owner, devices/FIFOs written in place;
 * and a sweep over the bad-input corpus in tests/data/io. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* O_TMPFILE, to know whether the runtime can use it here */
#endif
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h> /* makedev */
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nnr.h"

#ifndef NNC_TEST_DIR
#error "NNC_TEST_DIR must name the tests/ folder"
#endif
#define DATA(f) NNC_TEST_DIR "/data/io/" f

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/nnc_io_file_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    chmod(dir, 0700);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_content(const char *path, const char *text)
{
    size_t len;
    char err[512] = "";
    unsigned char *b = nnr_read_file(path, &len, err, sizeof err);
    cr_assert_not_null(b, "%s", err);
    cr_assert_eq(len, strlen(text));
    cr_assert_eq(memcmp(b, text, len), 0);
    cr_assert_eq(b[len], '\0');
    free(b);
}

/* No PATH.tmp.* file is left next to path. */
static void expect_no_temp(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '\\.tmp\\.'", dir);
    cr_assert_neq(system(cmd), 0, "a temporary file was left in %s", dir);
}

TestSuite(file, .init = setup, .fini = teardown);

Test(file, write_then_read)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/out.bin", dir);
    cr_assert_eq(nnr_write_file_atomic(p, "hello", 5, err, sizeof err), 0, "%s", err);
    expect_content(p, "hello");
    cr_assert_eq(nnr_write_file_atomic(p, "bye", 3, err, sizeof err), 0, "%s", err);
    expect_content(p, "bye");
    cr_assert_eq(nnr_write_file_atomic(p, NULL, 0, err, sizeof err), 0, "%s", err);
    expect_content(p, "");
    expect_no_temp();
}

Test(file, read_large_and_empty)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/big.bin", dir);
    size_t n = 3 * 65536 + 17;
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 31);
    cr_assert_eq(nnr_write_file_atomic(p, b, n, err, sizeof err), 0, "%s", err);
    size_t len;
    unsigned char *r = nnr_read_file(p, &len, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(r, b, n), 0);
    free(r);
    free(b);
    r = nnr_read_file(DATA("bad_empty.csv"), &len, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(len, 0);
    free(r);
}

Test(file, read_errors)
{
    char p[128], err[512] = "";
    size_t len = 99;
    snprintf(p, sizeof p, "%s/missing", dir);
    cr_assert_null(nnr_read_file(p, &len, err, sizeof err));
    cr_assert_not_null(strstr(err, p), "%s", err);
    cr_assert_not_null(strstr(err, "cannot open"), "%s", err);
    cr_assert_eq(len, 0);
    cr_assert_null(nnr_read_file(dir, &len, err, sizeof err));
    cr_assert_not_null(strstr(err, "directory"), "%s", err);
}

Test(file, target_is_a_directory)
{
    char p[128], inner[160], err[512] = "";
    snprintf(p, sizeof p, "%s/d", dir);
    cr_assert_eq(mkdir(p, 0700), 0);
    snprintf(inner, sizeof inner, "%s/keep", p);
    put(inner, "kept");
    cr_assert_eq(nnr_write_file_atomic(p, "x", 1, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, p), "%s", err);
    expect_content(inner, "kept");
    expect_no_temp();
}

Test(file, temp_file_cannot_be_created)
{
    /* The temporary name is taken by a directory: the write fails before
     * touching the target, whoever runs the test (root included). */
    char p[128], t[160], err[512] = "";
    snprintf(p, sizeof p, "%s/w.safetensors", dir);
    put(p, "old contents");
    snprintf(t, sizeof t, "%s.tmp.%lu", p, (unsigned long)getpid());
    cr_assert_eq(mkdir(t, 0700), 0);
    cr_assert_eq(nnr_write_file_atomic(p, "new", 3, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, p), "%s", err);
    expect_content(p, "old contents");
    rmdir(t);
}

Test(file, folder_not_writable)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/w.csv", dir);
    put(p, "old");
    cr_assert_eq(chmod(dir, 0500), 0);
    if (access(dir, W_OK) == 0) {
        chmod(dir, 0700);
        cr_skip_test("running with privileges that ignore folder permissions");
    }
    cr_assert_eq(nnr_write_file_atomic(p, "new", 3, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "w.csv"), "%s", err);
    chmod(dir, 0700);
    expect_content(p, "old");
    expect_no_temp();
}

Test(file, missing_folder)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/no/such/w.bin", dir);
    cr_assert_eq(nnr_write_file_atomic(p, "x", 1, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "no/such/w.bin"), "%s", err);
    cr_assert_eq(nnr_write_file_atomic(NULL, "x", 1, err, sizeof err), -1);
    cr_assert_eq(nnr_write_file_atomic("", "x", 1, err, sizeof err), -1);
}

/* Can this folder hold unnamed temporaries (then nnr_wfile names nothing
 * until the commit)? */
static int has_tmpfile(void)
{
#if defined(__linux__) && defined(O_TMPFILE)
    int fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
    if (fd < 0) return 0;
    close(fd);
    return access("/proc/self/fd", X_OK) == 0;
#else
    return 0;
#endif
}

static int count_entries(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 0", dir);
    return system(cmd) == 0 ? 0 : 1;
}

Test(file, stream_new_target_and_executable)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/prog", dir);
    nnr_wfile w;
    cr_assert_eq(nnr_wfile_open(&w, p, 1, err, sizeof err), 0, "%s", err);
    fprintf(w.f, "#!/bin/sh\n");
    if (has_tmpfile())
        cr_expect_eq(count_entries(), 0, "a name exists in %s before the commit", dir);
    cr_assert_eq(nnr_wfile_commit(&w, err, sizeof err), 0, "%s", err);
    expect_content(p, "#!/bin/sh\n");
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    mode_t um = umask(0);
    umask(um);
    cr_expect_eq(st.st_mode & 0777, 0777 & ~um);
    expect_no_temp();

    /* replacing: the old file stays whole until the commit */
    cr_assert_eq(nnr_wfile_open(&w, p, 0, err, sizeof err), 0, "%s", err);
    fprintf(w.f, "new");
    expect_content(p, "#!/bin/sh\n");
    if (has_tmpfile())
        expect_no_temp();
    cr_assert_eq(nnr_wfile_commit(&w, err, sizeof err), 0, "%s", err);
    expect_content(p, "new");
    cr_assert_eq(stat(p, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0777 & ~um, "the replaced file's mode is kept");
    expect_no_temp();
}

Test(file, abort_keeps_old_file)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/w.csv", dir);
    put(p, "old");
    nnr_wfile w;
    cr_assert_eq(nnr_wfile_open(&w, p, 0, err, sizeof err), 0, "%s", err);
    fprintf(w.f, "half of the new");
    nnr_wfile_abort(&w);
    expect_content(p, "old");
    expect_no_temp();
}

Test(file, stale_temporary_of_our_pid_is_replaced)
{
    char p[128], t[160], err[512] = "";
    snprintf(p, sizeof p, "%s/w.bin", dir);
    put(p, "old");
    snprintf(t, sizeof t, "%s.tmp.%lu", p, (unsigned long)getpid());
    put(t, "stale");
    cr_assert_eq(nnr_write_file_atomic(p, "new", 3, err, sizeof err), 0, "%s", err);
    expect_content(p, "new");
    expect_no_temp();
}

/* ------------------------------------------------- permissions and owner */

static mode_t mode_of(const char *p)
{
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "%s", p);
    return st.st_mode & 07777;
}

Test(file, replacing_keeps_the_mode)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/w.safetensors", dir);
    put(p, "old");
    cr_assert_eq(chmod(p, 0600), 0);
    mode_t um = umask(0); /* the most permissive umask: the old mode still wins */
    int rc = nnr_write_file_atomic(p, "new", 3, err, sizeof err);
    umask(um);
    cr_assert_eq(rc, 0, "%s", err);
    expect_content(p, "new");
    cr_expect_eq(mode_of(p), 0600, "mode %o, expected 0600", (unsigned)mode_of(p));
    cr_assert_eq(chmod(p, 0640), 0);
    cr_assert_eq(nnr_write_file_atomic(p, "newer", 5, err, sizeof err), 0, "%s", err);
    cr_expect_eq(mode_of(p), 0640, "mode %o, expected 0640", (unsigned)mode_of(p));
    expect_no_temp();
}

Test(file, executable_over_a_plain_file_gets_x_where_r)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/prog", dir);
    put(p, "old");
    cr_assert_eq(chmod(p, 0640), 0);
    nnr_wfile w;
    cr_assert_eq(nnr_wfile_open(&w, p, 1, err, sizeof err), 0, "%s", err);
    fputs("#!/bin/sh\n", w.f);
    cr_assert_eq(nnr_wfile_commit(&w, err, sizeof err), 0, "%s", err);
    cr_expect_eq(mode_of(p), 0750, "mode %o, expected 0750", (unsigned)mode_of(p));
}

Test(file, new_file_mode_follows_the_umask)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/new.csv", dir);
    mode_t um = umask(027);
    int rc = nnr_write_file_atomic(p, "x", 1, err, sizeof err);
    umask(um);
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_eq(mode_of(p), 0640, "mode %o, expected 0640", (unsigned)mode_of(p));
}

Test(file, replacing_keeps_the_owner)
{
    if (geteuid() != 0) cr_skip_test("only root may give a file to another user");
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/w.safetensors", dir);
    put(p, "old");
    cr_assert_eq(chown(p, 4321, 4322), 0);
    cr_assert_eq(chmod(p, 0604), 0);
    cr_assert_eq(nnr_write_file_atomic(p, "new", 3, err, sizeof err), 0, "%s", err);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_expect_eq(st.st_uid, 4321);
    cr_expect_eq(st.st_gid, 4322);
    cr_expect_eq(st.st_mode & 07777, 0604);
    expect_content(p, "new");
}

/* ------------------------------------------------ devices, FIFOs, links */

static int is_char_device(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0 && S_ISCHR(st.st_mode);
}

Test(file, device_node_is_written_in_place)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/null", dir);
    if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) != 0)
        cr_skip_test("mknod is not allowed here");
    cr_assert_eq(nnr_write_file_atomic(p, "gone", 4, err, sizeof err), 0, "%s", err);
    cr_expect(is_char_device(p), "the device node was replaced");
    nnr_wfile w;
    cr_assert_eq(nnr_wfile_open(&w, p, 1, err, sizeof err), 0, "%s", err);
    fputs("program", w.f);
    cr_assert_eq(nnr_wfile_commit(&w, err, sizeof err), 0, "%s", err);
    cr_expect(is_char_device(p), "the device node was replaced");
    expect_no_temp();
}

/* A node like /dev/full (c 1 7) in the test's folder, so that a broken
 * writer running as root replaces that one and not the system's; the real
 * /dev/full only where mknod is refused (not root: /dev is safe then). */
static const char *full_device(char *p, size_t n)
{
    snprintf(p, n, "%s/full", dir);
    if (mknod(p, S_IFCHR | 0666, makedev(1, 7)) == 0) return p;
    if (geteuid() != 0 && is_char_device("/dev/full")) return "/dev/full";
    return NULL;
}

Test(file, dev_full_fails_with_enospc)
{
    char p[128], err[512] = "";
    const char *full = full_device(p, sizeof p);
    if (full == NULL) cr_skip_test("no device like /dev/full can be used here");
    cr_assert_eq(nnr_write_file_atomic(full, "x", 1, err, sizeof err), -1);
    cr_expect_not_null(strstr(err, full), "%s", err);
    cr_expect_not_null(strstr(err, strerror(ENOSPC)), "%s", err);
    cr_expect(is_char_device(full), "%s was replaced", full);
    /* a stream whose writes failed in fprintf: the commit names ENOSPC too */
    nnr_wfile w;
    cr_assert_eq(nnr_wfile_open(&w, full, 0, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 10000; i++) fprintf(w.f, "%d,", i);
    cr_assert_eq(nnr_wfile_commit(&w, err, sizeof err), -1);
    cr_expect_not_null(strstr(err, strerror(ENOSPC)), "%s", err);
    cr_expect_null(strstr(err, "previous contents kept"), "%s", err);
}

Test(file, fifo_with_a_reader_gets_the_bytes, .timeout = 20)
{
    char p[128], err[512] = "";
    snprintf(p, sizeof p, "%s/pipe", dir);
    cr_assert_eq(mkfifo(p, 0600), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) /* the writer */
        _exit(nnr_write_file_atomic(p, "through the fifo", 16, err, sizeof err) == 0 ? 0 : 1);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    char got[64];
    size_t n = 0;
    for (ssize_t r; (r = read(fd, got + n, sizeof got - 1 - n)) > 0;) n += (size_t)r;
    close(fd);
    got[n] = '\0';
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
    cr_expect_str_eq(got, "through the fifo");
    struct stat st;
    cr_assert_eq(lstat(p, &st), 0);
    cr_expect(S_ISFIFO(st.st_mode), "the FIFO was replaced");
}

Test(file, symlink_to_a_regular_file_is_replaced)
{
    /* as rename(2) does (and as before): the link becomes the new file and
     * what it pointed to is left alone */
    char p[128], t[128], err[512] = "";
    snprintf(t, sizeof t, "%s/target", dir);
    snprintf(p, sizeof p, "%s/link", dir);
    put(t, "target");
    cr_assert_eq(symlink("target", p), 0);
    cr_assert_eq(nnr_write_file_atomic(p, "new", 3, err, sizeof err), 0, "%s", err);
    struct stat st;
    cr_assert_eq(lstat(p, &st), 0);
    cr_expect(S_ISREG(st.st_mode));
    expect_content(p, "new");
    expect_content(t, "target");
}

Test(file, symlink_to_a_device_writes_through)
{
    char p[128], full[128], err[512] = "";
    snprintf(p, sizeof p, "%s/out", dir);
    const char *dev = full_device(full, sizeof full);
    if (dev == NULL) cr_skip_test("no device like /dev/full can be used here");
    cr_assert_eq(symlink(dev, p), 0);
    cr_assert_eq(nnr_write_file_atomic(p, "x", 1, err, sizeof err), -1, "written to %s", dev);
    cr_expect_not_null(strstr(err, strerror(ENOSPC)), "%s", err);
    struct stat st;
    cr_assert_eq(lstat(p, &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "the link was replaced");
    cr_expect(is_char_device(dev));
}

/* ------------------------------------------------------------ corpus */

typedef enum { K_CSV, K_CSV_LABEL, K_CSV_HEADER, K_ST, K_IDX_IMG, K_IDX_LAB } kind;

static const struct {
    const char *file;
    kind k;
    const char *frag;
} corpus[] = {
    {"bad_empty.csv", K_CSV, "bad_empty.csv: empty file"},
    {"bad_header_only.csv", K_CSV_HEADER, "bad_header_only.csv: no samples"},
    {"bad_cell.csv", K_CSV, "bad_cell.csv:3:3: expected a number, found 'abc'"},
    {"bad_ragged.csv", K_CSV, "bad_ragged.csv:3: expected 3 columns, found 2"},
    {"bad_nan.csv", K_CSV, "bad_nan.csv:2:3: expected a finite number, found 'nan'"},
    {"bad_empty_cell.csv", K_CSV, "bad_empty_cell.csv:2:3: expected a number, found an empty cell"},
    {"bad_range.csv", K_CSV, "bad_range.csv:1:5: number '1e39' is out of the range"},
    {"bad_label.csv", K_CSV_LABEL, "bad_label.csv:2:5: expected a class label"},
    {"bad_negative_label.csv", K_CSV_LABEL, "bad_negative_label.csv:2:5: expected a class label"},
    {"bad_empty.safetensors", K_ST, "bad_empty.safetensors: empty file"},
    {"bad_short.safetensors", K_ST, "bad_short.safetensors: file too short"},
    {"bad_hdrlen.safetensors", K_ST,
     "bad_hdrlen.safetensors: header length 123456 runs past the end of the file (size 100)"},
    {"bad_offsets.safetensors", K_ST,
     "bad_offsets.safetensors: tensor '0.weight': data_offsets [0, 400] out of range (data "
     "section is 256 bytes)"},
    {"bad_dtype.safetensors", K_ST, "bad_dtype.safetensors: tensor 'fc.bias': unsupported dtype 'U8'"},
    {"bad_count.safetensors", K_ST, "bad_count.safetensors: tensor 'w': shape [2, 3] of F32 needs 24 bytes"},
    {"bad_overlap.safetensors", K_ST, "bad_overlap.safetensors: tensors 'a' and 'b' overlap"},
    {"bad_duplicate.safetensors", K_ST, "tensor 'w': duplicate tensor name"},
    {"bad_json.safetensors", K_ST, "bad_json.safetensors: malformed JSON at byte offset 40"},
    {"bad_ndim.safetensors", K_ST, "9 dimensions"},
    {"bad_unterminated.safetensors", K_ST, "malformed JSON at byte offset"},
    {"bad-magic-images-idx3-ubyte", K_IDX_IMG, "bad magic number 0x00000000 (expected 0x00000803 for images)"},
    {"bad-short-images-idx3-ubyte", K_IDX_IMG, "but the file holds 17 bytes"},
    {"bad-count-labels-idx1-ubyte", K_IDX_LAB, "4 labels, but"},
    {"bad-truncated-labels-idx1-ubyte", K_IDX_LAB, "announces 3 labels"},
    {"bad-magic-labels-idx1-ubyte", K_IDX_LAB, "bad magic number 0x00000803 (expected 0x00000801 for labels)"},
};

Test(corpus, every_bad_file_fails_cleanly)
{
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        char path[512], err[512] = "";
        snprintf(path, sizeof path, "%s/data/io/%s", NNC_TEST_DIR, corpus[i].file);
        int rc;
        nnr_dataset d;
        nnr_st_file f;
        nnr_csv_opts o = {-1, corpus[i].k == K_CSV_LABEL, 0, corpus[i].k == K_CSV_HEADER};
        switch (corpus[i].k) {
        case K_CSV:
        case K_CSV_LABEL:
        case K_CSV_HEADER: rc = nnr_csv_read(path, &o, &d, err, sizeof err); break;
        case K_ST: rc = nnr_st_read(path, &f, err, sizeof err); break;
        case K_IDX_IMG: rc = nnr_idx_read(path, NULL, 1, &d, err, sizeof err); break;
        default:
            rc = nnr_idx_read(DATA("tiny-images-idx3-ubyte"), path, 1, &d, err, sizeof err);
        }
        cr_expect_eq(rc, -1, "%s was accepted", corpus[i].file);
        cr_expect_not_null(strstr(err, corpus[i].frag), "%s: message \"%s\" lacks \"%s\"",
                           corpus[i].file, err, corpus[i].frag);
        cr_expect_null(strchr(err, '\n'));
    }
}
