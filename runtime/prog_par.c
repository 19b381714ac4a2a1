/* prog_par.c — prog_par.h for a program that runs as one process (every
 * program not built with --mpi): every call is the identity, and nothing
 * depends on MPI. */
#include "prog_par.h"

int prog_par_start(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int prog_par_finish(int rc)
{
    return rc;
}

int prog_par_rank(void)
{
    return 0;
}

int prog_par_size(void)
{
    return 1;
}

int prog_par_agree(int rc)
{
    return rc;
}

void prog_par_sum_f(float *v, size_t n)
{
    (void)v;
    (void)n;
}

void prog_par_sum_d(double *v, int n)
{
    (void)v;
    (void)n;
}

void prog_par_bcast_f(float *v, size_t n)
{
    (void)v;
    (void)n;
}

int prog_par_differs(unsigned long long h)
{
    (void)h;
    return -1;
}

const char *prog_par_name(void)
{
    return "one process";
}
