/* A C host that computes its own operators and lets libeko join them, with no copy:
 *   1. describe the grid (flavour basis, x grid, origin, matching scales);
 *   2. register one partial per target point in the host's own arrays, and ask libeko which
 *      threshold elements (segments up to a matching scale, matchings) the partials need;
 *   3. compute those into host arrays too (here: a toy solver) and register them;
 *   4. combine in place: each partial array becomes its point's final operator;
 *   5. write a store, reopen it mapped, and read the operators back with no copy.
 *
 * Build (after `cargo build --release`):
 *   cc -std=c11 -Iinclude examples/c/evolve_in_place.c -Ltarget/release -leko -lm \
 *      -Wl,-rpath,$PWD/target/release -o evolve_in_place
 *   ./evolve_in_place /tmp/my-store
 */
#include "eko.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NP = 14, NX = 20, NT = 3 };
static const int32_t PIDS[NP] = {22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6};
static const double Q2[NT] = {10.0, 100.0, 1e4};
static const int32_t NF[NT] = {4, 5, 5};

/* The toy solver: an operator shaped like a real one (upper triangular in x). */
static void solve(double *op, double seed) {
    for (int a = 0; a < NP; a++)
        for (int i = 0; i < NX; i++)
            for (int b = 0; b < NP; b++)
                for (int j = 0; j < NX; j++) {
                    double v = 0.0;
                    if (j >= i) {
                        v = (a == b && i == j ? 1.0 : 0.0) +
                            0.01 * sin(seed + 0.3 * a + 0.7 * b + 1.1 * i + 1.9 * j) / (1 + j - i);
                    }
                    op[(((size_t)a * NX + i) * NP + b) * NX + j] = v;
                }
}

/* Stops with the handle's message when a call fails. */
static void check(EKO_Handle *h, int32_t status, const char *what) {
    if (status != EKO_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, EKO_status_name(status),
                EKO_handle_message(h));
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s STORE_DIR\n", argv[0]);
        return 2;
    }
    if (EKO_abi_version() != EKO_ABI_VERSION) {
        fprintf(stderr, "libeko %s has ABI %d, this program was built for %d\n", EKO_version(),
                EKO_abi_version(), EKO_ABI_VERSION);
        return 1;
    }
    const size_t n = (size_t)NP * NX * NP * NX;
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    double xgrid[NX];
    for (int i = 0; i < NX; i++) {
        xgrid[i] = pow(10.0, -5.0 + 5.0 * i / (NX - 1));
    }
    check(h, EKO_dataset_create(h, NP, PIDS, NX, xgrid, 1.65 * 1.65, 4, &ds), "create");
    check(h, EKO_dataset_set_matching(h, ds, EKO_QUARK_CHARM, 1.51 * 1.51), "charm");
    check(h, EKO_dataset_set_matching(h, ds, EKO_QUARK_BOTTOM, 4.92 * 4.92), "bottom");
    check(h, EKO_dataset_set_matching(h, ds, EKO_QUARK_TOP, 172.5 * 172.5), "top");

    double *partials[NT];
    for (int t = 0; t < NT; t++) {
        int32_t id;
        partials[t] = malloc(sizeof(double) * n);
        solve(partials[t], t);
        check(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, Q2[t], NF[t], EKO_LAYOUT_C,
                                       partials[t], (int64_t)n, &id),
              "add partial");
    }
    int32_t n_thresholds;
    check(h, EKO_dataset_threshold_count(h, ds, &n_thresholds), "threshold count");
    double **thresholds = malloc(sizeof(double *) * (size_t)n_thresholds);
    for (int32_t e = 0; e < n_thresholds; e++) {
        double from_mu2, to_mu2;
        int32_t from_nf, to_nf, id;
        check(h, EKO_dataset_threshold(h, ds, e, &from_mu2, &from_nf, &to_mu2, &to_nf),
              "threshold");
        printf("threshold element %d: (%g, nf=%d) -> (%g, nf=%d)\n", e, from_mu2, from_nf, to_mu2,
               to_nf);
        thresholds[e] = malloc(sizeof(double) * n);
        solve(thresholds[e], 10.0 + e);
        check(h, EKO_dataset_add_threshold(h, ds, from_mu2, from_nf, to_mu2, to_nf, EKO_LAYOUT_C,
                                           thresholds[e], (int64_t)n, &id),
              "add threshold");
    }

    check(h, EKO_dataset_combine(h, ds, 0), "combine");
    check(h, EKO_dataset_write_store(h, ds, argv[1]), "write store");

    EKO_Store *store = NULL;
    check(h, EKO_store_open(h, argv[1], &store), "open store");
    for (int t = 0; t < NT; t++) {
        EKO_View v;
        check(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, Q2[t], NF[t], EKO_ATTRIBUTE_VALUE, &v),
              "view");
        /* The gluon-to-gluon block (pid 21 is index 7), summed over x_in at the last x_out. */
        double sum = 0.0;
        for (int j = 0; j < NX; j++) {
            sum += v.data[7 * v.strides[0] + (NX - 1) * v.strides[1] + 7 * v.strides[2] +
                          j * v.strides[3]];
        }
        /* A C-order file and the C-order host array: the same bytes. */
        int same = v.layout == EKO_LAYOUT_C && memcmp(v.data, partials[t], sizeof(double) * n) == 0;
        printf("Q2=%g nf=%d: g->g at x=1 sums to %.6f; store equals host memory: %s\n", Q2[t],
               NF[t], sum, same ? "yes" : "no");
    }
    EKO_store_destroy(store);
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    for (int t = 0; t < NT; t++) {
        free(partials[t]);
    }
    for (int32_t e = 0; e < n_thresholds; e++) {
        free(thresholds[e]);
    }
    free(thresholds);
    return 0;
}
