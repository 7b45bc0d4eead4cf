/* Shared by the C tests: a small grid, deterministic operators, checks that print the handle's
 * status and message, and a runner. Each test program takes a scratch directory as argv[1]. */
#ifndef EKO_C_TESTS_COMMON_H
#define EKO_C_TESTS_COMMON_H

#define _POSIX_C_SOURCE 200809L

#include "eko.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NP = 14, NX = 8, N = NP * NX * NP * NX };

static const int32_t PIDS[NP] = {22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6};
static const double ORIGIN_MU2 = 1.65 * 1.65;
static const int32_t ORIGIN_NF = 4;
static const double CHARM = 1.51 * 1.51, BOTTOM = 4.92 * 4.92, TOP = 172.5 * 172.5;

static char scratch[4096];

/* A path under the scratch directory (static storage: use before the next call). */
static const char *scratch_path(const char *name) {
    static char paths[8][4200];
    static int next = 0;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", scratch, name);
    return p;
}

/* Where element (a, i, b, j) of [pid_out][x_out][pid_in][x_in] is in a buffer of `layout`. */
static size_t offset(int32_t layout, int a, int i, int b, int j) {
    if (layout == EKO_LAYOUT_FORTRAN) {
        return (size_t)a + NP * ((size_t)i + NX * ((size_t)b + NP * (size_t)j));
    }
    return (((size_t)a * NX + i) * NP + b) * NX + j;
}

/* A well-conditioned operator with a real one's shape: upper triangular in x, a dominant
 * diagonal, `seed` varying it. */
static void fill_operator(double *op, int32_t layout, double seed) {
    for (int a = 0; a < NP; a++)
        for (int i = 0; i < NX; i++)
            for (int b = 0; b < NP; b++)
                for (int j = 0; j < NX; j++) {
                    double v = 0.0;
                    if (j >= i) {
                        v = (a == b && i == j ? 1.0 : 0.0) +
                            0.01 * sin(seed + 0.3 * a + 0.7 * b + 1.1 * i + 1.9 * j) / (1 + j - i);
                    }
                    op[offset(layout, a, i, b, j)] = v;
                }
}

static double *new_buffer(void) {
    double *p = malloc(sizeof(double) * N);
    if (p == NULL) {
        abort();
    }
    return p;
}

/* Prints and fails when `status` is not EKO_OK. */
#define CHECK(handle, call)                                                                  \
    do {                                                                                     \
        int32_t status_ = (call);                                                            \
        if (status_ != EKO_OK) {                                                             \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call,              \
                    EKO_status_name(status_), EKO_handle_message(handle));                   \
            return false;                                                                    \
        }                                                                                    \
    } while (0)

/* Fails unless `call` returns `code` and leaves a message containing `words` in the handle. */
#define EXPECT(handle, call, code, words)                                                    \
    do {                                                                                     \
        int32_t status_ = (call);                                                            \
        if (status_ != (code) || EKO_handle_status(handle) != (code) ||                      \
            strstr(EKO_handle_message(handle), (words)) == NULL) {                           \
            fprintf(stderr, "%s:%d: %s -> %s (%s), expected %s with \"%s\"\n", __FILE__,     \
                    __LINE__, #call, EKO_status_name(status_), EKO_handle_message(handle),   \
                    EKO_status_name(code), (words));                                         \
            return false;                                                                    \
        }                                                                                    \
    } while (0)

#define REQUIRE(cond)                                                                        \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: %s is false\n", __FILE__, __LINE__, #cond);              \
            return false;                                                                    \
        }                                                                                    \
    } while (0)

/* A dataset for the grid above, with every matching scale set. */
static bool make_dataset(EKO_Handle *h, EKO_Dataset **ds) {
    double xgrid[NX];
    for (int i = 0; i < NX; i++) {
        xgrid[i] = pow((i + 1.0) / NX, 3);
    }
    CHECK(h, EKO_dataset_create(h, NP, PIDS, NX, xgrid, ORIGIN_MU2, ORIGIN_NF, ds));
    CHECK(h, EKO_dataset_set_matching(h, *ds, EKO_QUARK_CHARM, CHARM));
    CHECK(h, EKO_dataset_set_matching(h, *ds, EKO_QUARK_BOTTOM, BOTTOM));
    CHECK(h, EKO_dataset_set_matching(h, *ds, EKO_QUARK_TOP, TOP));
    return true;
}

/* Writes a store in `dir` with the final operators of `n` points (mu2[k], nf[k]), operator k made
 * by fill_operator(seed k + 1) in layout[k] (C or Fortran order: the file keeps it). Inline so that
 * the tests which do not use it are not warned about it. */
static inline bool write_points(EKO_Handle *h, const char *dir, int n, const double *mu2,
                                const int32_t *nf, const int32_t *layout) {
    EKO_Dataset *ds = NULL;
    double *ops[16] = {NULL};
    bool ok = n > 0 && n <= 16 && make_dataset(h, &ds);
    for (int k = 0; ok && k < n; k++) {
        int32_t id;
        ops[k] = new_buffer();
        fill_operator(ops[k], layout[k], k + 1.0);
        int32_t status =
            EKO_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, mu2[k], nf[k], layout[k], ops[k], N, &id);
        if (status != EKO_OK) {
            fprintf(stderr, "write_points: %s\n", EKO_handle_message(h));
            ok = false;
        }
    }
    if (ok && EKO_dataset_write_store(h, ds, dir) != EKO_OK) {
        fprintf(stderr, "write_points: %s\n", EKO_handle_message(h));
        ok = false;
    }
    EKO_dataset_destroy(ds);
    for (int k = 0; k < 16; k++) {
        free(ops[k]);
    }
    return ok;
}

typedef struct {
    const char *name;
    bool (*run)(void);
} test_case;

static int run_tests(int argc, char **argv, const test_case *tests, size_t n) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%s", argv[1]);
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = tests[i].run();
        printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
