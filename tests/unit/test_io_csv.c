/* Unit tests of the CSV data reader (runtime/io/csv.c). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnr.h"

#ifndef NNC_TEST_DIR
#error "NNC_TEST_DIR must name the tests/ folder"
#endif
#define DATA(f) NNC_TEST_DIR "/data/io/" f

static nnr_csv_opts opts(int has_label, int label, int targets, int header)
{
    nnr_csv_opts o;
    o.has_label = has_label;
    o.label = label;
    o.targets = targets;
    o.header = header;
    return o;
}

static void parse_ok(const char *text, nnr_csv_opts o, nnr_dataset *d)
{
    char err[512] = "";
    int rc = nnr_csv_parse(text, strlen(text), "x.csv", &o, d, err, sizeof err);
    cr_assert_eq(rc, 0, "unexpected failure: %s", err);
}

static void parse_err(const char *text, nnr_csv_opts o, const char *frag)
{
    nnr_dataset d;
    char err[512] = "";
    int rc = nnr_csv_parse(text, strlen(text), "data/x.csv", &o, &d, err, sizeof err);
    cr_assert_eq(rc, -1, "expected a failure with '%s'", frag);
    cr_assert_not_null(strstr(err, frag), "message \"%s\" lacks \"%s\"", err, frag);
    cr_assert_null(strchr(err, '\n'));
    cr_assert_null(d.x);
    cr_assert_null(d.labels);
    cr_assert_null(d.y);
    cr_assert_eq(d.rows, 0);
}

Test(csv, label_last_column)
{
    nnr_dataset d;
    char err[512] = "";
    nnr_csv_opts o = opts(1, -1, 0, 0);
    cr_assert_eq(nnr_csv_read(DATA("small.csv"), &o, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.rows, 4);
    cr_assert_eq(d.ncols, 3);
    cr_assert_null(d.y);
    cr_assert_eq(d.ntargets, 0);
    const float x[12] = {1, 2, 3, 4, 5, 6, 7.5f, -0.8f, 9, 0.25f, 100, 0};
    const int32_t l[4] = {0, 1, 2, 1};
    for (int i = 0; i < 12; i++) cr_assert_eq(d.x[i], x[i], "x[%d] = %g", i, (double)d.x[i]);
    for (int i = 0; i < 4; i++) cr_assert_eq(d.labels[i], l[i]);
    nnr_dataset_free(&d);
    cr_assert_null(d.x);
    cr_assert_null(d.labels);
    cr_assert_eq(d.rows, 0);
    nnr_dataset_free(&d); /* twice is fine */
    nnr_dataset_free(NULL);
}

Test(csv, label_first_column_and_middle)
{
    nnr_dataset d;
    parse_ok("3,0.5,0.25\n1,1.5,2.5\n", opts(1, 0, 0, 0), &d);
    cr_assert_eq(d.rows, 2);
    cr_assert_eq(d.ncols, 2);
    cr_assert_eq(d.labels[0], 3);
    cr_assert_eq(d.labels[1], 1);
    cr_assert_eq(d.x[0], 0.5f);
    cr_assert_eq(d.x[3], 2.5f);
    nnr_dataset_free(&d);

    parse_ok("1,7,2\n3,8.0,4\n", opts(1, -2, 0, 0), &d);
    cr_assert_eq(d.labels[0], 7);
    cr_assert_eq(d.labels[1], 8);
    cr_assert_eq(d.x[0], 1.0f);
    cr_assert_eq(d.x[1], 2.0f);
    cr_assert_eq(d.x[2], 3.0f);
    cr_assert_eq(d.x[3], 4.0f);
    nnr_dataset_free(&d);
}

Test(csv, no_label)
{
    nnr_dataset d;
    parse_ok("1,2\n3,4", opts(0, -1, 0, 0), &d);
    cr_assert_eq(d.rows, 2);
    cr_assert_eq(d.ncols, 2);
    cr_assert_null(d.labels);
    cr_assert_null(d.y);
    cr_assert_eq(d.x[3], 4.0f);
    nnr_dataset_free(&d);
    /* NULL options: no label, no header */
    char err[256];
    cr_assert_eq(nnr_csv_parse("5\n", 2, "x.csv", NULL, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.rows, 1);
    cr_assert_eq(d.ncols, 1);
    nnr_dataset_free(&d);
}

Test(csv, targets_replace_label)
{
    nnr_dataset d;
    char err[512] = "";
    nnr_csv_opts o = opts(1, -1, 2, 0);
    cr_assert_eq(nnr_csv_read(DATA("regression.csv"), &o, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.rows, 2);
    cr_assert_eq(d.ncols, 2);
    cr_assert_eq(d.ntargets, 2);
    cr_assert_null(d.labels);
    const float x[4] = {0.5f, 1.5f, 2.5f, 3.5f}, y[4] = {10, 20, 30, 40};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(d.x[i], x[i]);
        cr_assert_eq(d.y[i], y[i]);
    }
    nnr_dataset_free(&d);
    cr_assert_null(d.y);
    cr_assert_eq(d.ntargets, 0);
}

Test(csv, header_crlf_blank_lines)
{
    nnr_dataset d;
    char err[512] = "";
    nnr_csv_opts o = opts(1, -1, 0, 1);
    cr_assert_eq(nnr_csv_read(DATA("header.csv"), &o, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.rows, 2);
    cr_assert_eq(d.x[2], 3.0f);
    cr_assert_eq(d.labels[1], 1);
    nnr_dataset_free(&d);

    o = opts(0, -1, 0, 0);
    cr_assert_eq(nnr_csv_read(DATA("crlf.csv"), &o, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.rows, 3);
    cr_assert_eq(d.ncols, 3);
    for (int i = 0; i < 9; i++) cr_assert_eq(d.x[i], (float)(i + 1));
    nnr_dataset_free(&d);

    /* header after leading blank lines; spaces and tabs around cells */
    parse_ok("\n\n  a , b\n \t1\t, 2 \n\n\n", opts(0, -1, 0, 1), &d);
    cr_assert_eq(d.rows, 1);
    cr_assert_eq(d.x[0], 1.0f);
    cr_assert_eq(d.x[1], 2.0f);
    nnr_dataset_free(&d);
}

Test(csv, number_syntax)
{
    nnr_dataset d;
    parse_ok("1,-2,+3,.5,5.,1e3,1E-2,-0.0,1234567890123456789,0.1,3.4028235e38,1e-50\n",
             opts(0, -1, 0, 0), &d);
    const float want[12] = {1, -2, 3, 0.5f, 5, 1000, 0.01f, -0.0f, 1234567890123456789.0f,
                            0.1f, 3.4028235e38f, 0};
    for (int i = 0; i < 12; i++) cr_assert_eq(d.x[i], want[i], "cell %d", i);
    cr_assert(signbit(d.x[7]));
    nnr_dataset_free(&d);
}

Test(csv, error_positions)
{
    parse_err("1,2,3\n4,5,6\n7,abc,9\n", opts(0, -1, 0, 0),
              "data/x.csv:3:3: expected a number, found 'abc'");
    parse_err("1,2,3\n4,5,6\n7,  abc,9\n", opts(0, -1, 0, 0), "data/x.csv:3:5:");
    parse_err("1,2,3\n\n4,5,6\n7,8\n", opts(0, -1, 0, 0),
              "data/x.csv:4: expected 3 columns, found 2");
    parse_err("1,2,3\n4,5,6,7\n", opts(0, -1, 0, 0), "data/x.csv:2: expected 3 columns, found 4");
    parse_err("1,2,3\n4,,6\n", opts(0, -1, 0, 0), "data/x.csv:2:3: expected a number, found an empty cell");
    parse_err("1,2,3\n4,5,\n", opts(0, -1, 0, 0), "data/x.csv:2:5: expected a number, found an empty cell");
    parse_err("1,2,3\n4,nan,6\n", opts(0, -1, 0, 0), "data/x.csv:2:3: expected a finite number, found 'nan'");
    parse_err("1,-Inf\n", opts(0, -1, 0, 0), "data/x.csv:1:3:");
    parse_err("1,infinity\n", opts(0, -1, 0, 0), "NaN and infinity are not allowed");
    parse_err("1,1e39\n", opts(0, -1, 0, 0), "data/x.csv:1:3: number '1e39' is out of the range");
    parse_err("1,0x10\n", opts(0, -1, 0, 0), "found '0x10'");
    parse_err("1,1e\n", opts(0, -1, 0, 0), "found '1e'");
    parse_err("1,1.2.3\n", opts(0, -1, 0, 0), "found '1.2.3'");
    parse_err("1,- 1\n", opts(0, -1, 0, 0), "found '- 1'");
    parse_err("1,\"2\"\n", opts(0, -1, 0, 0), "found '\"2\"'");
    parse_err("1,2\r\r\n", opts(0, -1, 0, 0), "data/x.csv:1:3: expected a number, found '2?'");
}

Test(csv, label_errors)
{
    parse_err("1,2,0\n3,4,1.5\n", opts(1, -1, 0, 0),
              "data/x.csv:2:5: expected a class label (an integer >= 0), found '1.5'");
    parse_err("1,2,0\n3,4,-1\n", opts(1, -1, 0, 0), "data/x.csv:2:5:");
    parse_err("1,2,0\n3,4,3e9\n", opts(1, -1, 0, 0), "found '3e9'");
    parse_err("1,2,0\n", opts(1, 3, 0, 0), "data/x.csv:1: label column 3 does not exist (rows have 3 columns)");
    parse_err("1,2,0\n", opts(1, -4, 0, 0), "label column -4 does not exist");
    parse_err("1\n2\n", opts(1, -1, 0, 0), "data/x.csv:1: rows have a single column");
    parse_err("1,2\n", opts(0, -1, 2, 0), "data/x.csv:1: targets = 2 leaves no input column");
    parse_err("1,2\n", opts(0, -1, -1, 0), "targets must be >= 0");
}

Test(csv, no_samples)
{
    parse_err("", opts(0, -1, 0, 0), "data/x.csv: empty file");
    parse_err("\n\n  \r\n", opts(0, -1, 0, 0), "data/x.csv: no samples");
    parse_err("a,b,c\n", opts(0, -1, 0, 1), "data/x.csv: no samples");
    nnr_dataset d;
    char err[512];
    nnr_csv_opts o = opts(0, -1, 0, 0);
    cr_assert_eq(nnr_csv_read(DATA("bad_empty.csv"), &o, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "bad_empty.csv: empty file"), "%s", err);
    cr_assert_eq(nnr_csv_read(DATA("missing.csv"), &o, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "missing.csv"), "%s", err);
}

Test(csv, embedded_nul_is_an_error)
{
    static const char text[] = "1,2\n3,4\x00x\n";
    nnr_dataset d;
    char err[512] = "";
    nnr_csv_opts o = opts(0, -1, 0, 0);
    cr_assert_eq(nnr_csv_parse(text, sizeof text - 1, "n.csv", &o, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "n.csv:2:3: expected a number, found '4?x'"), "%s", err);
}

Test(csv, long_cells_are_quoted_short)
{
    char text[400];
    memset(text, '1', 300);
    text[300] = 'x';
    text[301] = '\n';
    text[302] = '\0';
    nnr_dataset d;
    char err[512] = "";
    nnr_csv_opts o = opts(0, -1, 0, 0);
    cr_assert_eq(nnr_csv_parse(text, strlen(text), "l.csv", &o, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "l.csv:1:1: expected a number, found '1111"), "%s", err);
    cr_assert_not_null(strstr(err, "...'"), "%s", err);
    cr_assert_lt(strlen(err), 120);
    /* a valid 300-digit number (beyond float range) is reported as such */
    text[300] = '\n';
    text[301] = '\0';
    cr_assert_eq(nnr_csv_parse(text, strlen(text), "l.csv", &o, &d, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "out of the range"), "%s", err);
    /* and a long one in range parses */
    memset(text, '0', 300);
    text[1] = '.';
    text[299] = '5';
    cr_assert_eq(nnr_csv_parse(text, strlen(text), "l.csv", &o, &d, err, sizeof err), 0, "%s", err);
    nnr_dataset_free(&d);
}

Test(csv, large_file_grows)
{
    /* 200k rows of 5 numbers + label: exercises amortised growth. */
    size_t rows = 200000, cap = rows * 40, n = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    for (size_t r = 0; r < rows; r++)
        n += (size_t)snprintf(text + n, cap - n, "%zu,%zu.5,-%zu,1e-3,%zu,%zu\n", r, r % 100,
                              r % 7, r % 3, r % 10);
    nnr_dataset d;
    parse_ok(text, opts(1, -1, 0, 0), &d);
    cr_assert_eq(d.rows, rows);
    cr_assert_eq(d.ncols, 5);
    cr_assert_eq(d.x[5 * 123456], 123456.0f);
    cr_assert_eq(d.x[5 * 123456 + 1], 56.5f);
    cr_assert_eq(d.labels[123457], 7);
    nnr_dataset_free(&d);
    free(text);
}

/* The reader's fast decimal path against strtod, the oracle: random cells in
 * the forms data files use, every value bit-identical as a float. */
Test(csv, fast_path_agrees_with_strtod)
{
    unsigned seed = 12345;
    for (int t = 0; t < 50000; t++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        char cell[64], line[80];
        switch (t % 4) {
        case 0: snprintf(cell, sizeof cell, "%.6g", ((double)(r % 100000) / 997.0) - 50.0); break;
        case 1: snprintf(cell, sizeof cell, "%.9g", (double)(r % 1000000) * 1.37e-11); break;
        case 2: snprintf(cell, sizeof cell, "%u.%0*u", r % 1000, 1 + (int)(r % 9), r % 100000); break;
        default: snprintf(cell, sizeof cell, "%ue%d", r % 100000, (int)(r % 40) - 20); break;
        }
        snprintf(line, sizeof line, "%s,0\n", cell);
        nnr_csv_opts o = {-1, 1, 0, 0};
        nnr_dataset d;
        char err[256];
        cr_assert_eq(nnr_csv_parse(line, strlen(line), "x.csv", &o, &d, err, sizeof err), 0, "%s", err);
        float want = (float)strtod(cell, NULL);
        cr_assert_eq(memcmp(&want, &d.x[0], sizeof want), 0, "%s: got %.9g, strtod %.9g", cell,
                     (double)d.x[0], (double)want);
        nnr_dataset_free(&d);
    }
}

/* The same against strtod for rows after the first, which the one-pass row
 * reader takes (short cells eight bytes at a time, the rest cell by cell):
 * mixed forms and lengths, spaces around cells, the last rows near the end
 * of the buffer, every value bit-identical as a float. */
Test(csv, row_reader_agrees_with_strtod)
{
    enum { ROWS = 3000, COLS = 5 };
    static char cells[ROWS][COLS][40];
    size_t cap = (size_t)ROWS * COLS * 42 + 64, n = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    unsigned seed = 777;
    n += (size_t)snprintf(text, cap, "1,2,3,4,5,0\n"); /* the first row fixes the layout */
    for (int r = 0; r < ROWS; r++) {
        for (int c = 0; c < COLS; c++) {
            seed = seed * 1103515245u + 12345u;
            unsigned v = seed >> 8;
            char *s = cells[r][c];
            switch (v % 10) {
            case 0: snprintf(s, 40, "%u", v % 2); break;
            case 1: snprintf(s, 40, "0.%04u", v % 10000); break;
            case 2: snprintf(s, 40, "%u.", v % 1000); break;
            case 3: snprintf(s, 40, ".%u", v % 1000); break;
            case 4: snprintf(s, 40, "%u", v % 100000000); break;
            case 5: snprintf(s, 40, "-%u.%u", v % 100, v % 97); break;
            case 6: snprintf(s, 40, " %u.%02u\t", v % 1000, v % 100); break;
            case 7: snprintf(s, 40, "%u.%06u", v % 10, v % 1000000); break;
            case 8: snprintf(s, 40, "%ue-%u", v % 1000, v % 9); break;
            default: snprintf(s, 40, "%.9g", (double)v * 1.1e-5); break;
            }
            n += (size_t)snprintf(text + n, cap - n, "%s,", s);
        }
        n += (size_t)snprintf(text + n, cap - n, "%u%s", seed % 10, r % 7 ? "\n" : "\r\n");
    }
    nnr_dataset d;
    parse_ok(text, opts(1, -1, 0, 0), &d);
    cr_assert_eq(d.rows, ROWS + 1);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            float want = (float)strtod(cells[r][c], NULL), got = d.x[(size_t)(r + 1) * COLS + c];
            cr_assert_eq(memcmp(&want, &got, sizeof want), 0, "row %d cell '%s': got %.9g, want %.9g",
                         r, cells[r][c], (double)got, (double)want);
        }
    nnr_dataset_free(&d);
    /* a bad cell past the first row is still named where it is */
    parse_err("1,2,0\n3,4,1\n5,6.5.,1\n", opts(1, -1, 0, 0), "data/x.csv:3:3: expected a number, found '6.5.'");
    parse_err("1,2,0\n3,4,1\n5,6\n", opts(1, -1, 0, 0), "data/x.csv:3: expected 3 columns, found 2");
    parse_err("1,2,0\n3,4,1\n5,6,1,\n", opts(1, -1, 0, 0), "data/x.csv:3: expected 3 columns, found 4");
    free(text);
}
