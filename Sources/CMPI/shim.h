// Open MPI behind a few plain functions on MPI_COMM_WORLD: Open MPI's handles
// (MPI_COMM_WORLD, MPI_FLOAT, MPI_IN_PLACE, ...) are macros over the addresses of its
// global objects, which Swift cannot import, so they are used here, in C.
#include <mpi.h>
#include <stdint.h>

/// MPI_THREAD_SERIALIZED: Folio calls MPI from one thread at a time, not always the main one.
static inline int folio_mpi_init(void) {
    int provided = 0;
    int status = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    // Errors come back as codes (and become a FolioError naming the rank) instead of
    // aborting the job from inside the library.
    if (status == MPI_SUCCESS) MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return status;
}
static inline int folio_mpi_finalize(void) { return MPI_Finalize(); }
static inline int folio_mpi_rank(void) { int rank = 0; MPI_Comm_rank(MPI_COMM_WORLD, &rank); return rank; }
static inline int folio_mpi_size(void) { int size = 1; MPI_Comm_size(MPI_COMM_WORLD, &size); return size; }
static inline int folio_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static inline int folio_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

static inline int folio_mpi_allreduce_sum_float(float *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static inline int folio_mpi_allreduce_sum_double(double *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
/// Sums `values` across ranks; this rank's part (counts[rank] floats) ends at the start of `values`.
static inline int folio_mpi_reduce_scatter_sum_float(float *values, const int *counts) {
    return MPI_Reduce_scatter(MPI_IN_PLACE, values, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
/// Every rank's part of `values` (counts[r] floats at offsets[r], each rank's own already in place) to every rank.
static inline int folio_mpi_allgatherv_float_in_place(float *values, const int *counts, const int *offsets) {
    return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, values, counts, offsets, MPI_FLOAT, MPI_COMM_WORLD);
}
static inline int folio_mpi_allgather_int64(int64_t value, int64_t *values) {
    return MPI_Allgather(&value, 1, MPI_INT64_T, values, 1, MPI_INT64_T, MPI_COMM_WORLD);
}
static inline int folio_mpi_allgatherv_bytes(const void *bytes, int count, void *all, const int *counts, const int *offsets) {
    return MPI_Allgatherv(bytes, count, MPI_BYTE, all, counts, offsets, MPI_BYTE, MPI_COMM_WORLD);
}
static inline int folio_mpi_bcast_bytes(void *bytes, int count, int root) {
    return MPI_Bcast(bytes, count, MPI_BYTE, root, MPI_COMM_WORLD);
}
static inline void folio_mpi_error_string(int code, char *text, int capacity) {
    int length = 0;
    if (capacity < MPI_MAX_ERROR_STRING) { text[0] = 0; return; }
    MPI_Error_string(code, text, &length);
}
