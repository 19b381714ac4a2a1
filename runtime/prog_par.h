/* prog_par.h — the processes a program runs as: one (prog_par.c, every
 * program) or the ranks of `mpirun -np K` (mpi/prog_mpi.c, programs built
 * with `nnc build --mpi`, which compile it instead of prog_par.c). train
 * and eval share their work through these calls (prog_shard.c); rank 0
 * alone prints, logs and writes files: the other ranks' standard output is
 * thrown away and their standard error held back (shown by prog_par_agree
 * when only they failed). */
#ifndef NNR_PROG_PAR_H
#define NNR_PROG_PAR_H

#include <stddef.h>

/* Before anything else in nnr_main (MPI_Init); 0, or -1 after a message. */
int prog_par_start(int *argc, char ***argv);
/* The exit status all ranks agree on (the largest of their rc), after the
 * last collective call; ends MPI. */
int prog_par_finish(int rc);
/* This process's rank (0 alone: 0) and the number of processes. */
int prog_par_rank(void);
int prog_par_size(void);
/* The largest rc of all ranks, returned on every rank. When rank 0's rc is
 * 0 and another's is not, the first failing rank's held-back standard
 * error is shown (prefixed with its rank). */
int prog_par_agree(int rc);
/* Sums v[0..n) over the ranks, in place on every rank (MPI_Allreduce). */
void prog_par_sum_f(float *v, size_t n);
void prog_par_sum_d(double *v, int n);
/* Rank 0's v[0..n) to every rank. */
void prog_par_bcast_f(float *v, size_t n);
/* The lowest rank whose h differs from rank 0's, or -1 when all agree. */
int prog_par_differs(unsigned long long h);
/* "MPI (K processes)" or "one process": for messages. */
const char *prog_par_name(void);

#endif
