/* prog_mpi.c — prog_par.h over MPI, compiled (by mpicc) instead of
 * prog_par.c in the programs `nnc build --mpi` makes: the ranks of
 * `mpirun -np K PROG ...`. Rank 0 alone keeps its standard output; the
 * others' goes to /dev/null and their standard error to a temporary file,
 * shown only when they failed and rank 0 did not (prog_par_agree). */
#define _POSIX_C_SOURCE 200809L

#include "../prog_par.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int par_rank, par_size = 1, par_on;
static FILE *held;          /* ranks > 0: their standard error until shown */
static int real_err = -1;   /* ranks > 0: the standard error they were given */

int prog_par_start(int *argc, char ***argv)
{
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "error: MPI_Init failed\n");
        return -1;
    }
    par_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &par_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &par_size);
    if (par_rank == 0)
        return 0;
    fflush(stdout);
    fflush(stderr);
    if (!freopen("/dev/null", "w", stdout))
        return 0;
    held = tmpfile();
    real_err = held ? dup(STDERR_FILENO) : -1;
    if (real_err < 0 || dup2(fileno(held), STDERR_FILENO) < 0) {
        if (real_err >= 0)
            close(real_err);
        real_err = -1;
    }
    return 0;
}

int prog_par_finish(int rc)
{
    if (!par_on)
        return rc;
    rc = prog_par_agree(rc);
    fflush(stdout);
    fflush(stderr);
    MPI_Finalize();
    par_on = 0;
    return rc;
}

int prog_par_rank(void)
{
    return par_rank;
}

int prog_par_size(void)
{
    return par_size;
}

/* This rank's held-back standard error to the real one, each line prefixed
 * with the rank; the file is emptied. */
static void show_held(void)
{
    if (real_err < 0)
        return;
    fflush(stderr);
    FILE *out = fdopen(dup(real_err), "w");
    if (out) {
        char line[1024];
        int start = 1;
        rewind(held);
        while (fgets(line, sizeof line, held)) {
            if (start)
                fprintf(out, "rank %d of %d: ", par_rank, par_size);
            fputs(line, out);
            start = strchr(line, '\n') != NULL;
        }
        fclose(out);
    }
    if (ftruncate(fileno(held), 0) == 0)
        rewind(held);
}

int prog_par_agree(int rc)
{
    if (!par_on || par_size == 1)
        return rc;
    int *all = calloc((size_t)par_size, sizeof *all);
    if (!all) {
        MPI_Abort(MPI_COMM_WORLD, 1);
        return rc;
    }
    fflush(stderr);
    MPI_Allgather(&rc, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    int worst = 0, first = -1;
    for (int k = 0; k < par_size; k++) {
        worst = all[k] > worst ? all[k] : worst;
        if (all[k] && first < 0)
            first = k;
    }
    if (all[0] == 0 && first == par_rank)
        show_held();
    else if (held && ftruncate(fileno(held), 0) == 0)
        rewind(held);
    free(all);
    return worst;
}

/* MPI counts are ints: large arrays go in pieces. */
#define PAR_PIECE ((size_t)1 << 30)

void prog_par_sum_f(float *v, size_t n)
{
    for (size_t at = 0; par_size > 1 && at < n; at += PAR_PIECE) {
        size_t len = n - at < PAR_PIECE ? n - at : PAR_PIECE;
        MPI_Allreduce(MPI_IN_PLACE, v + at, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void prog_par_sum_d(double *v, int n)
{
    if (par_size > 1 && n > 0)
        MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void prog_par_bcast_f(float *v, size_t n)
{
    for (size_t at = 0; par_size > 1 && at < n; at += PAR_PIECE) {
        size_t len = n - at < PAR_PIECE ? n - at : PAR_PIECE;
        MPI_Bcast(v + at, (int)len, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
}

int prog_par_differs(unsigned long long h)
{
    if (par_size == 1)
        return -1;
    unsigned long long *all = calloc((size_t)par_size, sizeof *all);
    if (!all) {
        MPI_Abort(MPI_COMM_WORLD, 1);
        return -1;
    }
    MPI_Allgather(&h, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
    int k = 1;
    while (k < par_size && all[k] == all[0])
        k++;
    free(all);
    return k < par_size ? k : -1;
}

const char *prog_par_name(void)
{
    static char name[64];
    snprintf(name, sizeof name, "MPI, %d process%s", par_size, par_size == 1 ? "" : "es");
    return name;
}
