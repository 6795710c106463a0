// The C kernels' own check, without Swift: every path this CPU runs against plain
// references (the packed product against a double-precision triple loop with partial
// panels, partial row blocks, strides, bias and accumulation; the weight gradients' product
// Aᵀ · B likewise; the gate rows against libm; Adam against its formula). It is how the
// kernels are checked on targets Swift is not built for here: `make check-kernels-arm64`
// cross-compiles it with Debian's aarch64 compiler and runs it under qemu-user. With
// `--bench`, it also prints each path's multiply-add peak and its products' rates here.
//
//   cc -O2 -fno-math-errno -I Sources/CFolioKernels/include Sources/CFolioKernels/*.c Tests/KernelCheck/kernel_check.c -lm
#include "folio_kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;

static uint64_t state = 0x9E3779B97F4A7C15u;
static float uniform(void) {  // splitmix64, in [-1, 1)
    uint64_t z = (state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    return (float)((z >> 40) * (1.0 / (1u << 24))) * 2 - 1;
}

static float *randoms(size_t count) {
    float *values = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++) values[i] = uniform();
    return values;
}

static void expect_close(const char *what, const char *path, double found, double expected, double tolerance) {
    if (fabs(found - expected) > tolerance * (1 + fabs(expected))) {
        if (failures < 20) printf("FAIL %s [%s]: %.9g, expected %.9g\n", what, path, found, expected);
        failures++;
    }
}

static void check_gemm(const folio_kernels *kernels, int m, int n, int k, int transposed) {
    int lda = k + 3, ldc = n + 5;
    float *b = randoms((size_t)k * n), *bias = randoms(n), *a = randoms((size_t)m * lda), *start = randoms((size_t)m * ldc);
    float *bt = malloc(sizeof(float) * (size_t)n * k);
    for (int j = 0; j < n; j++) for (int r = 0; r < k; r++) bt[(size_t)j * k + r] = b[(size_t)r * n + j];
    float *packed = malloc(sizeof(float) * folio_packed_count(k, n));
    if (transposed) folio_pack(bt, k, n, k, 1, packed); else folio_pack(b, k, n, n, 0, packed);
    float *c = malloc(sizeof(float) * (size_t)m * ldc);
    char what[96];
    for (int mode = 0; mode < 4; mode++) {
        int accumulate = mode & 1, with_bias = mode >> 1;
        memcpy(c, start, sizeof(float) * (size_t)m * ldc);
        kernels->gemm_packed(m, n, k, a, lda, packed, with_bias ? bias : NULL, c, ldc, accumulate);
        snprintf(what, sizeof what, "gemm m %d n %d k %d accumulate %d bias %d transposed %d", m, n, k, accumulate, with_bias, transposed);
        for (int r = 0; r < m; r++) {
            for (int j = 0; j < n; j++) {
                double sum = (accumulate ? start[(size_t)r * ldc + j] : 0) + (with_bias ? bias[j] : 0);
                for (int i = 0; i < k; i++) sum += (double)a[(size_t)r * lda + i] * b[(size_t)i * n + j];
                expect_close(what, kernels->name, c[(size_t)r * ldc + j], sum, 2e-5 * (1 + sqrt(k)));
            }
            for (int j = n; j < ldc; j++) {  // columns past n stay as they were
                if (c[(size_t)r * ldc + j] != start[(size_t)r * ldc + j]) { printf("FAIL %s [%s]: column %d written\n", what, kernels->name, j); failures++; }
            }
        }
    }
    free(b); free(bt); free(bias); free(a); free(start); free(packed); free(c);
}

// C += Aᵀ · B with A (k x m) and B (k x n) read where they lie, strided, B ending exactly at
// its last row's n-th column (so a read past it would leave the allocation).
static void check_gemm_at(const folio_kernels *kernels, int m, int n, int k) {
    int lda = m + 3, ldb = n + 2, ldc = n + 5;
    float *a = randoms((size_t)k * lda), *b = randoms((size_t)(k - 1) * ldb + n), *start = randoms((size_t)m * ldc);
    float *c = malloc(sizeof(float) * (size_t)m * ldc);
    memcpy(c, start, sizeof(float) * (size_t)m * ldc);
    kernels->gemm_at(m, n, k, a, lda, b, ldb, c, ldc);
    char what[64];
    snprintf(what, sizeof what, "gemm_at m %d n %d k %d", m, n, k);
    for (int r = 0; r < m; r++) {
        for (int j = 0; j < n; j++) {
            double sum = start[(size_t)r * ldc + j];
            for (int i = 0; i < k; i++) sum += (double)a[(size_t)i * lda + r] * b[(size_t)i * ldb + j];
            expect_close(what, kernels->name, c[(size_t)r * ldc + j], sum, 2e-5 * (1 + sqrt(k)));
        }
        for (int j = n; j < ldc; j++) {
            if (c[(size_t)r * ldc + j] != start[(size_t)r * ldc + j]) { printf("FAIL %s [%s]: column %d written\n", what, kernels->name, j); failures++; }
        }
    }
    free(a); free(b); free(start); free(c);
}

static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

static void check_rows(const folio_kernels *kernels, int units) {
    float *gates = randoms(4 * (size_t)units), *c_prev = randoms(units), *c = malloc(sizeof(float) * units), *h = malloc(sizeof(float) * units);
    for (int j = 0; j < 4 * units; j++) gates[j] *= 6;  // into the activations' tails
    float *original = malloc(sizeof(float) * 4 * units);
    memcpy(original, gates, sizeof(float) * 4 * units);
    kernels->lstm_forward_row(gates, c_prev, c, h, units);
    for (int j = 0; j < units; j++) {
        double i = sigmoid(original[j]), f = sigmoid(original[units + j]), g = tanh(original[2 * units + j]), o = sigmoid(original[3 * units + j]);
        double cj = f * c_prev[j] + i * g;
        expect_close("lstm forward i", kernels->name, gates[j], i, 1e-5);
        expect_close("lstm forward g", kernels->name, gates[2 * units + j], g, 1e-5);
        expect_close("lstm forward c", kernels->name, c[j], cj, 1e-5);
        expect_close("lstm forward h", kernels->name, h[j], o * tanh(cj), 1e-5);
    }
    // Backward from the activated gates just computed.
    float *dh = randoms(units), *dc = randoms(units), *dc_in = malloc(sizeof(float) * units), *activated = malloc(sizeof(float) * 4 * units);
    memcpy(dc_in, dc, sizeof(float) * units);
    memcpy(activated, gates, sizeof(float) * 4 * units);
    kernels->lstm_backward_row(gates, c, c_prev, dh, dc, units);
    for (int j = 0; j < units; j++) {
        double i = activated[j], f = activated[units + j], g = activated[2 * units + j], o = activated[3 * units + j];
        double tc = tanh(c[j]), dcj = dc_in[j] + dh[j] * o * (1 - tc * tc);
        expect_close("lstm backward di", kernels->name, gates[j], dcj * g * i * (1 - i), 1e-5);
        expect_close("lstm backward df", kernels->name, gates[units + j], dcj * c_prev[j] * f * (1 - f), 1e-5);
        expect_close("lstm backward dg", kernels->name, gates[2 * units + j], dcj * i * (1 - g * g), 1e-5);
        expect_close("lstm backward do", kernels->name, gates[3 * units + j], dh[j] * tc * o * (1 - o), 1e-5);
        expect_close("lstm backward dc", kernels->name, dc[j], dcj * f, 1e-5);
    }
    free(gates); free(c_prev); free(c); free(h); free(original); free(dh); free(dc); free(dc_in); free(activated);
}

static void check_adam(const folio_kernels *kernels, long count) {
    float *w = randoms(count), *g = randoms(count), *m = randoms(count), *v = randoms(count);
    for (long i = 0; i < count; i++) v[i] = fabsf(v[i]);
    float *w0 = malloc(sizeof(float) * count), *m0 = malloc(sizeof(float) * count), *v0 = malloc(sizeof(float) * count);
    memcpy(w0, w, sizeof(float) * count); memcpy(m0, m, sizeof(float) * count); memcpy(v0, v, sizeof(float) * count);
    kernels->adam_update(w, g, m, v, count, 0.01f, 0.9f, 0.999f, 1e-7f);
    for (long i = 0; i < count; i++) {
        double first = m0[i] + (g[i] - m0[i]) * 0.1, second = v0[i] + ((double)g[i] * g[i] - v0[i]) * (1 - 0.999);
        expect_close("adam m", kernels->name, m[i], first, 1e-6);
        expect_close("adam v", kernels->name, v[i], second, 1e-5);
        expect_close("adam w", kernels->name, w[i], w0[i] - 0.01 * first / (sqrt(second) + 1e-7), 1e-5);
    }
    free(w); free(g); free(m); free(v); free(w0); free(m0); free(v0);
}

// word2vec's update against the same steps in double: each row's dot product, logistic
// function and two scaled additions, rows in order.
static void check_negative_sampling(const folio_kernels *kernels, int dim, int count) {
    float *input = randoms(dim), *storage = randoms((size_t)dim * count), *gradient = malloc(sizeof(float) * dim);
    double *expected_rows = malloc(sizeof(double) * dim * count), *expected_gradient = calloc(dim, sizeof(double));
    float *rows[16];
    for (int r = 0; r < count; r++) rows[r] = storage + (size_t)r * dim;
    for (int i = 0; i < dim * count; i++) expected_rows[i] = storage[i];
    for (int r = 0; r < count; r++) {
        double f = 0;
        for (int j = 0; j < dim; j++) f += (double)input[j] * expected_rows[r * dim + j];
        double g = 0.05 * ((r == 0 ? 1 : 0) - sigmoid(f));
        for (int j = 0; j < dim; j++) {
            expected_gradient[j] += g * expected_rows[r * dim + j];
            expected_rows[r * dim + j] += g * input[j];
        }
    }
    kernels->negative_sampling(input, rows, count, dim, 0.05f, gradient);
    for (int j = 0; j < dim; j++) expect_close("negative sampling gradient", kernels->name, gradient[j], expected_gradient[j], 1e-5);
    for (int i = 0; i < dim * count; i++) expect_close("negative sampling rows", kernels->name, storage[i], expected_rows[i], 1e-5);
    free(input); free(storage); free(gradient); free(expected_rows); free(expected_gradient);
}

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec * 1e-9;
}

// One thread: the path's multiply-add peak, and its packed product at the reference LSTM's
// shapes: a lane's 16 or 32 rows x 512 gate columns (k = 128), the rows of one step of a
// [batch, steps, 128] input as the forward's projection reads them (16 rows 200 x 128 floats
// apart), and backward's dx (200 x 128, k = 512) with its rows batch x 512 apart, as read.
static void bench(const folio_kernels *kernels) {
    double start = seconds(), flops = kernels->fma_chains(100000000L / 8);
    double peak = flops / (seconds() - start);
    printf("%-8s FMA peak %6.1f GFLOP/s per core", kernels->name, peak / 1e9);
    int shapes[7][4] = {{16, 512, 128, 128},      {32, 512, 128, 128},   {128, 512, 128, 128}, {16, 512, 128, 200 * 128},
                        {200, 128, 512, 512}, {200, 128, 512, 32 * 512}, {32, 128, 512, 512}};
    for (int s = 0; s < 7; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], lda = shapes[s][3];
        float *a = randoms((size_t)m * lda), *b = randoms((size_t)k * n), *c = malloc(sizeof(float) * m * n);
        // Aligned as FolioNN's PackedMatrix aligns it (from malloc, AVX-512 loses a tenth).
        float *packed = aligned_alloc(64, (sizeof(float) * folio_packed_count(k, n) + 63) / 64 * 64);
        folio_pack(b, k, n, n, 0, packed);
        int repeats = 200000000 / (m * n * k) + 1;
        start = seconds();
        for (int i = 0; i < repeats; i++) kernels->gemm_packed(m, n, k, a, lda, packed, NULL, c, n, 0);
        double rate = 2.0 * m * n * k * repeats / (seconds() - start);
        printf(" | %dx%dx%d%s %2.0f%%", m, n, k, lda > k ? " strided" : "", 100 * rate / peak);
        free(a); free(b); free(c); free(packed);
    }
    // The weight gradients' products: dW (128 x 512 over 2,048 rows: a chunk of time-major
    // inputs) and dU (128 x 512 over 12,800 rows: half of 200 steps of batch 128).
    int at_shapes[2][3] = {{128, 512, 2048}, {128, 512, 12800}};
    for (int s = 0; s < 2; s++) {
        int m = at_shapes[s][0], n = at_shapes[s][1], k = at_shapes[s][2];
        float *a = randoms((size_t)k * m), *b = randoms((size_t)k * n), *c = randoms((size_t)m * n);
        int repeats = 400000000 / (m * n * k) + 1;
        start = seconds();
        for (int i = 0; i < repeats; i++) kernels->gemm_at(m, n, k, a, m, b, n, c, n);
        double rate = 2.0 * m * n * k * repeats / (seconds() - start);
        printf(" | at %dx%dx%d %2.0f%%", m, n, k, 100 * rate / peak);
        free(a); free(b); free(c);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    int benchmark = argc > 1 && strcmp(argv[1], "--bench") == 0;
    int shapes[][3] = {{1, 1, 1}, {6, 33, 3}, {7, 16, 5}, {8, 32, 16}, {13, 44, 11}, {15, 40, 9}, {17, 70, 37}, {9, 128, 512}, {25, 40, 700}, {32, 512, 128}};
    const char *names[] = {"generic", "avx2", "avx512"};
    for (int isa = FOLIO_ISA_GENERIC; isa <= FOLIO_ISA_AVX512; isa++) {
        const folio_kernels *kernels = folio_kernels_for((folio_isa)isa);
        if (!kernels) { printf("%-8s not run: this CPU lacks it\n", names[isa]); continue; }
        int before = failures;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            check_gemm(kernels, shapes[s][0], shapes[s][1], shapes[s][2], 0);
            check_gemm(kernels, shapes[s][0], shapes[s][1], shapes[s][2], 1);
        }
        int at_shapes[][3] = {{1, 1, 1}, {7, 16, 5}, {9, 17, 3}, {8, 32, 300}, {13, 44, 129}, {100, 400, 257}, {128, 512, 260}};
        for (size_t s = 0; s < sizeof at_shapes / sizeof at_shapes[0]; s++) check_gemm_at(kernels, at_shapes[s][0], at_shapes[s][1], at_shapes[s][2]);
        for (int units = 1; units <= 37; units += 9) check_rows(kernels, units);
        check_rows(kernels, 128);
        check_adam(kernels, 1);
        check_adam(kernels, 1037);
        int dims[] = {1, 7, 8, 16, 17, 100, 300};
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) check_negative_sampling(kernels, dims[d], 1 + (int)d % 11);
        printf("%-8s %s\n", kernels->name, failures == before ? "ok" : "FAILED");
        if (benchmark) bench(kernels);
    }
    int passed = failures == 0;
    printf("%d passed, %d failed\n", passed, !passed);
    return passed ? 0 : 1;
}
