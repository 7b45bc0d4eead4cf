/* Transforms through the header: a spec built call by call, a transform made from a store the test
 * writes, applied to the store's operator (mapped for the call) and to host buffers in C and
 * Fortran order, checked against what the definitions give by hand (the evolution basis's T3 row
 * is u + ubar - d - dbar; reinterpolating onto nodes of the grid picks those nodes); the store's
 * final-operator sides; a store reshaped from C (EKO_store_reshape) evolving PDFs
 * (EKO_store_apply_transformed) against the source operator applied by hand; and the errors,
 * each with its code and message. */
#include "common.h"

enum { T3 = 9 }; /* the index of T3 (pid 103) in the evolution basis */
/* The indices of u, ubar, d, dbar in the flavour basis PIDS. */
enum { U = 9, UBAR = 5, D = 8, DBAR = 6 };

static const double MU2 = 10.0;
static const int32_t NF = 4;

/* A store with one final operator (C order) at (MU2, NF), from `op`. */
static bool write_store(EKO_Handle *h, const char *dir, double *op) {
    EKO_Dataset *ds = NULL;
    int32_t id;
    bool ok = make_dataset(h, &ds);
    if (ok) {
        ok = false;
        CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, MU2, NF, EKO_LAYOUT_C, op, N, &id));
        CHECK(h, EKO_dataset_write_store(h, ds, dir));
        ok = true;
    }
    EKO_dataset_destroy(ds);
    return ok;
}

/* Element (a, i, b, j) of an operator of `shape` in `layout`. */
static size_t at4(const int64_t shape[4], int32_t layout, int a, int i, int b, int j) {
    if (layout == EKO_LAYOUT_FORTRAN) {
        return (size_t)a + (size_t)shape[0] * ((size_t)i + (size_t)shape[1] *
                                               ((size_t)b + (size_t)shape[2] * (size_t)j));
    }
    return (((size_t)a * (size_t)shape[1] + (size_t)i) * (size_t)shape[2] + (size_t)b) *
               (size_t)shape[3] + (size_t)j;
}

static bool close_to(double got, double want) {
    return fabs(got - want) <= 1e-14 * (1.0 + fabs(want));
}

static bool test_the_evolution_basis_from_a_store_and_from_host_buffers(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_TransformSpec *spec = NULL;
    EKO_Transform *t = NULL;
    double *op = new_buffer(), *host_op = new_buffer(), *out = new_buffer(), *out2 = new_buffer();
    bool ok = false;
    fill_operator(op, EKO_LAYOUT_C, 1.0);
    fill_operator(host_op, EKO_LAYOUT_FORTRAN, 2.0);
    const char *dir = scratch_path("evol");
    if (!write_store(h, dir, op)) {
        goto done;
    }
    CHECK(h, EKO_store_open(h, dir, &store));
    /* A square store: the final operators' shape and sides are the grid's. */
    int64_t shape[4];
    CHECK(h, EKO_store_operator_shape(h, store, shape));
    REQUIRE(shape[0] == NP && shape[1] == NX && shape[2] == NP && shape[3] == NX);
    int32_t pids[NP];
    CHECK(h, EKO_store_side_pids(h, store, EKO_SIDE_INPUT, pids, NP));
    REQUIRE(memcmp(pids, PIDS, sizeof pids) == 0);
    double xgrid[NX], side_x[NX];
    CHECK(h, EKO_store_xgrid(h, store, xgrid, NX));
    CHECK(h, EKO_store_side_xgrid(h, store, EKO_SIDE_OUTPUT, side_x, NX));
    REQUIRE(memcmp(xgrid, side_x, sizeof xgrid) == 0);

    /* The output side rotated to the evolution basis. */
    CHECK(h, EKO_transform_spec_create(h, &spec));
    CHECK(h, EKO_transform_spec_set_basis(h, spec, EKO_SIDE_OUTPUT, EKO_BASIS_EVOL));
    CHECK(h, EKO_transform_create(h, store, spec, 2, &t));
    EKO_transform_spec_destroy(spec); /* the transform copied it */
    spec = NULL;
    CHECK(h, EKO_transform_shape(h, t, shape));
    REQUIRE(shape[0] == NP && shape[1] == NX && shape[2] == NP && shape[3] == NX);
    CHECK(h, EKO_transform_side_pids(h, t, EKO_SIDE_OUTPUT, pids, NP));
    REQUIRE(pids[0] == 22 && pids[1] == 100 && pids[T3] == 103);
    CHECK(h, EKO_transform_side_pids(h, t, EKO_SIDE_INPUT, pids, NP));
    REQUIRE(memcmp(pids, PIDS, sizeof pids) == 0);

    /* The store's operator, mapped for the call, into C order: T3 = u + ubar - d - dbar. */
    CHECK(h, EKO_store_transform(h, store, t, EKO_KIND_OPERATOR, MU2, NF, EKO_ATTRIBUTE_VALUE, out,
                                 N, EKO_LAYOUT_C));
    for (int i = 0; i < NX; i++)
        for (int b = 0; b < NP; b++)
            for (int j = 0; j < NX; j++) {
                double want = op[offset(EKO_LAYOUT_C, U, i, b, j)] +
                              op[offset(EKO_LAYOUT_C, UBAR, i, b, j)] -
                              op[offset(EKO_LAYOUT_C, D, i, b, j)] -
                              op[offset(EKO_LAYOUT_C, DBAR, i, b, j)];
                REQUIRE(close_to(out[offset(EKO_LAYOUT_C, T3, i, b, j)], want));
                /* The photon and the gluon are themselves. */
                REQUIRE(out[offset(EKO_LAYOUT_C, 0, i, b, j)] == op[offset(EKO_LAYOUT_C, 0, i, b, j)]);
            }
    /* The same operator from host memory, into Fortran order: the same values, bit for bit. */
    CHECK(h, EKO_transform_apply(h, t, op, N, EKO_LAYOUT_C, out2, N, EKO_LAYOUT_FORTRAN));
    for (int a = 0; a < NP; a++)
        for (int i = 0; i < NX; i++)
            for (int b = 0; b < NP; b++)
                for (int j = 0; j < NX; j++) {
                    REQUIRE(out2[offset(EKO_LAYOUT_FORTRAN, a, i, b, j)] ==
                            out[offset(EKO_LAYOUT_C, a, i, b, j)]);
                }
    /* A Fortran-order host operator. */
    CHECK(h, EKO_transform_apply(h, t, host_op, N, EKO_LAYOUT_FORTRAN, out, N, EKO_LAYOUT_C));
    const int i = 3, b = 7, j = 5;
    double want = host_op[offset(EKO_LAYOUT_FORTRAN, U, i, b, j)] +
                  host_op[offset(EKO_LAYOUT_FORTRAN, UBAR, i, b, j)] -
                  host_op[offset(EKO_LAYOUT_FORTRAN, D, i, b, j)] -
                  host_op[offset(EKO_LAYOUT_FORTRAN, DBAR, i, b, j)];
    REQUIRE(close_to(out[offset(EKO_LAYOUT_C, T3, i, b, j)], want));
    ok = true;
done:
    EKO_transform_spec_destroy(spec);
    EKO_transform_destroy(t);
    EKO_store_destroy(store);
    EKO_handle_destroy(h);
    free(op);
    free(host_op);
    free(out);
    free(out2);
    return ok;
}

/* Reinterpolating onto nodes of the grid picks those nodes (the interpolation's weights there are
 * exactly 1 and 0); a transform for host sides needs the interpolation given. */
static bool test_reinterpolation_onto_nodes_picks_them(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_TransformSpec *spec = NULL;
    EKO_Transform *t = NULL;
    double *op = new_buffer(), *out = NULL;
    bool ok = false;
    enum { M = 3 };
    const int nodes[M] = {1, 4, 7};
    double xgrid[NX], picked[M];
    for (int k = 0; k < NX; k++) {
        xgrid[k] = pow((k + 1.0) / NX, 3);
    }
    for (int k = 0; k < M; k++) {
        picked[k] = xgrid[nodes[k]];
    }
    fill_operator(op, EKO_LAYOUT_C, 4.0);
    CHECK(h, EKO_transform_spec_create(h, &spec));
    CHECK(h, EKO_transform_spec_set_xgrid(h, spec, EKO_SIDE_OUTPUT, picked, M));
    EXPECT(h, EKO_transform_create_for_sides(h, spec, PIDS, NP, xgrid, NX, PIDS, NP, xgrid, NX, 1,
                                             &t),
           EKO_ERROR_TRANSFORM, "EKO_transform_spec_set_interpolation");
    REQUIRE(t == NULL);
    CHECK(h, EKO_transform_spec_set_interpolation(h, spec, 3, 1));
    CHECK(h, EKO_transform_create_for_sides(h, spec, PIDS, NP, xgrid, NX, PIDS, NP, xgrid, NX, 1,
                                            &t));
    int64_t shape[4];
    CHECK(h, EKO_transform_shape(h, t, shape));
    REQUIRE(shape[0] == NP && shape[1] == M && shape[2] == NP && shape[3] == NX);
    double side_x[M];
    CHECK(h, EKO_transform_side_xgrid(h, t, EKO_SIDE_OUTPUT, side_x, M));
    REQUIRE(memcmp(side_x, picked, sizeof picked) == 0);
    size_t n_out = (size_t)(NP * M * NP * NX);
    out = malloc(sizeof(double) * n_out);
    REQUIRE(out != NULL);
    CHECK(h, EKO_transform_apply(h, t, op, N, EKO_LAYOUT_C, out, (int64_t)n_out, EKO_LAYOUT_C));
    for (int a = 0; a < NP; a++)
        for (int k = 0; k < M; k++)
            for (int b = 0; b < NP; b++)
                for (int j = 0; j < NX; j++) {
                    REQUIRE(out[at4(shape, EKO_LAYOUT_C, a, k, b, j)] ==
                            op[offset(EKO_LAYOUT_C, a, nodes[k], b, j)]);
                }
    ok = true;
    EKO_transform_spec_destroy(spec);
    EKO_transform_destroy(t);
    EKO_handle_destroy(h);
    free(op);
    free(out);
    return ok;
}

static bool test_bad_transforms_and_buffers_are_refused(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_TransformSpec *spec = NULL;
    EKO_Transform *t = NULL;
    double *op = new_buffer(), *out = new_buffer();
    double *block = malloc(sizeof(double) * (2 * N));
    bool ok = false;
    REQUIRE(block != NULL);
    fill_operator(op, EKO_LAYOUT_C, 5.0);
    const char *dir = scratch_path("errors");
    if (!write_store(h, dir, op)) {
        goto done;
    }
    CHECK(h, EKO_store_open(h, dir, &store));
    /* NULL handle, spec, store, out-parameter; destroying NULL. */
    REQUIRE(EKO_transform_spec_create(NULL, &spec) == EKO_ERROR_NULL_ARGUMENT && spec == NULL);
    CHECK(h, EKO_transform_spec_create(h, &spec));
    EXPECT(h, EKO_transform_create(h, NULL, spec, 1, &t), EKO_ERROR_NULL_ARGUMENT, "store is NULL");
    EXPECT(h, EKO_transform_create(h, store, NULL, 1, &t), EKO_ERROR_NULL_ARGUMENT, "spec is NULL");
    EXPECT(h, EKO_transform_create(h, store, spec, 1, NULL), EKO_ERROR_NULL_ARGUMENT,
           "transform is NULL");
    EKO_transform_spec_destroy(NULL);
    EKO_transform_destroy(NULL);
    /* Unknown enum values, bad x grids. */
    EXPECT(h, EKO_transform_spec_set_basis(h, spec, 3, EKO_BASIS_EVOL), EKO_ERROR_INVALID_ARGUMENT,
           "side 3 is neither");
    EXPECT(h, EKO_transform_spec_set_basis(h, spec, EKO_SIDE_INPUT, 0), EKO_ERROR_INVALID_ARGUMENT,
           "basis 0 is neither");
    const double backwards[3] = {0.5, 0.2, 1.0};
    EXPECT(h, EKO_transform_spec_set_xgrid(h, spec, EKO_SIDE_INPUT, backwards, 3),
           EKO_ERROR_TRANSFORM, "the new input x grid is not strictly increasing");
    EXPECT(h, EKO_transform_spec_set_interpolation(h, spec, 0, 1), EKO_ERROR_INVALID_ARGUMENT,
           "degree is 0");
    /* A singular rotation is refused when the transform is made. */
    static double singular[NP * NP];
    for (int k = 0; k < NP * NP; k++) {
        singular[k] = 1.0;
    }
    CHECK(h, EKO_transform_spec_set_rotation(h, spec, EKO_SIDE_OUTPUT, singular, PIDS, NP));
    EXPECT(h, EKO_transform_create(h, store, spec, 1, &t), EKO_ERROR_TRANSFORM,
           "the output rotation is singular");
    REQUIRE(t == NULL);
    /* A degree the grid cannot carry. */
    CHECK(h, EKO_transform_spec_set_basis(h, spec, EKO_SIDE_OUTPUT, EKO_BASIS_EVOL));
    const double coarse[4] = {0.01, 0.1, 0.5, 1.0};
    CHECK(h, EKO_transform_spec_set_xgrid(h, spec, EKO_SIDE_INPUT, coarse, 4));
    CHECK(h, EKO_transform_spec_set_interpolation(h, spec, 4, 1));
    EXPECT(h, EKO_transform_create(h, store, spec, 1, &t), EKO_ERROR_TRANSFORM,
           "degree 4 needs at least 5 x values; the new input x grid has 4");
    CHECK(h, EKO_transform_spec_set_interpolation(h, spec, 2, 0));
    CHECK(h, EKO_transform_create(h, store, spec, 0, &t));
    int64_t shape[4];
    CHECK(h, EKO_transform_shape(h, t, shape));
    REQUIRE(shape[0] == NP && shape[1] == NX && shape[2] == NP && shape[3] == 4);
    const int64_t n_out = NP * NX * NP * 4;
    /* Buffers: lengths, layouts, NULL, alignment, overlap; out untouched by every failure. */
    for (int k = 0; k < N; k++) {
        out[k] = -7.0;
    }
    EXPECT(h, EKO_transform_apply(h, t, op, N - 1, EKO_LAYOUT_C, out, n_out, EKO_LAYOUT_C),
           EKO_ERROR_BAD_SHAPE, "n_op is 12543; the transform takes operators of shape");
    EXPECT(h, EKO_transform_apply(h, t, op, N, EKO_LAYOUT_C, out, N, EKO_LAYOUT_C),
           EKO_ERROR_BAD_SHAPE, "n_out is 12544; the transform makes operators of shape");
    EXPECT(h, EKO_transform_apply(h, t, op, N, 3, out, n_out, EKO_LAYOUT_C),
           EKO_ERROR_INVALID_ARGUMENT, "op_layout 3 is neither");
    EXPECT(h, EKO_transform_apply(h, t, op, N, EKO_LAYOUT_C, out, n_out, -1),
           EKO_ERROR_INVALID_ARGUMENT, "out_layout -1 is neither");
    EXPECT(h, EKO_transform_apply(h, t, NULL, N, EKO_LAYOUT_C, out, n_out, EKO_LAYOUT_C),
           EKO_ERROR_NULL_ARGUMENT, "op is NULL");
    EXPECT(h, EKO_transform_apply(h, NULL, op, N, EKO_LAYOUT_C, out, n_out, EKO_LAYOUT_C),
           EKO_ERROR_NULL_ARGUMENT, "transform is NULL");
    double *misaligned = (double *)(void *)((char *)out + 4);
    EXPECT(h, EKO_transform_apply(h, t, op, N, EKO_LAYOUT_C, misaligned, n_out, EKO_LAYOUT_C),
           EKO_ERROR_MISALIGNED, "out is not aligned");
    memcpy(block, op, sizeof(double) * N);
    EXPECT(h, EKO_transform_apply(h, t, block, N, EKO_LAYOUT_C, block + N / 2, n_out,
                                  EKO_LAYOUT_C),
           EKO_ERROR_OVERLAPPING, "op and out overlap");
    REQUIRE(memcmp(block, op, sizeof(double) * N) == 0);
    /* The store form: a missing point, a kind, a view as destination. */
    EXPECT(h, EKO_store_transform(h, store, t, EKO_KIND_OPERATOR, 20.0, NF, EKO_ATTRIBUTE_VALUE,
                                  out, n_out, EKO_LAYOUT_C),
           EKO_ERROR_NOT_FOUND, "(mu2=20, nf=4)");
    EXPECT(h, EKO_store_transform(h, store, t, EKO_KIND_OPERATOR, MU2, NF, EKO_ATTRIBUTE_ERROR,
                                  out, n_out, EKO_LAYOUT_C),
           EKO_ERROR_NOT_FOUND, "no operator error");
    EXPECT(h, EKO_store_transform(h, store, t, 9, MU2, NF, EKO_ATTRIBUTE_VALUE, out, n_out,
                                  EKO_LAYOUT_C),
           EKO_ERROR_INVALID_ARGUMENT, "kind 9");
    EKO_View v;
    CHECK(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, MU2, NF, EKO_ATTRIBUTE_VALUE, &v));
    EXPECT(h, EKO_store_transform(h, store, t, EKO_KIND_OPERATOR, MU2, NF, EKO_ATTRIBUTE_VALUE,
                                  (double *)(uintptr_t)v.data, n_out, EKO_LAYOUT_C),
           EKO_ERROR_READ_ONLY, "read-only");
    for (int k = 0; k < N; k++) {
        REQUIRE(out[k] == -7.0);
    }
    /* Getters: a count that is not the side's. */
    double x[NX];
    EXPECT(h, EKO_transform_side_xgrid(h, t, EKO_SIDE_INPUT, x, NX), EKO_ERROR_BAD_SHAPE,
           "xgrid holds 8 elements; the transform's input side has 4");
    int32_t pids[NP];
    EXPECT(h, EKO_store_side_pids(h, store, EKO_SIDE_OUTPUT, pids, NP - 1), EKO_ERROR_BAD_SHAPE,
           "the store's final operators' output side has 14");
    /* The view of the operator itself transforms fine, into host memory. */
    CHECK(h, EKO_transform_apply(h, t, v.data, N, v.layout, out, n_out, EKO_LAYOUT_C));
    ok = true;
done:
    EKO_transform_spec_destroy(spec);
    EKO_transform_destroy(t);
    EKO_store_destroy(store);
    EKO_handle_destroy(h);
    free(op);
    free(out);
    free(block);
    return ok;
}

/* One replica's flavour-basis PDF f[NP][NX] (PIDS order) in eko's evolution basis g[NP][NX]
 * (22, 100, 21, 200, 203, 208, 215, 224, 235, 103, 108, 115, 124, 135), from the definitions:
 * with q+- = q +- qbar for the quarks d, u, s, c, b, t (q = 1 .. 6, at index 7 + q, its
 * antiquark at 7 - q): Sigma = sum q+, V = sum q-, T3 = u+ - d+, V3 = u- - d-, and for the
 * k-th quark (k = 3 .. 6) T_{k^2-1} = sum_{q<k} q+ - (k - 1) k+, V_{k^2-1} likewise with q-. */
static void to_evolution(const double *f, double *g) {
    for (int j = 0; j < NX; j++) {
        double plus[7], minus[7], sigma = 0.0, valence = 0.0;
        for (int q = 1; q <= 6; q++) {
            plus[q] = f[(7 + q) * NX + j] + f[(7 - q) * NX + j];
            minus[q] = f[(7 + q) * NX + j] - f[(7 - q) * NX + j];
            sigma += plus[q];
            valence += minus[q];
        }
        g[0 * NX + j] = f[0 * NX + j];
        g[1 * NX + j] = sigma;
        g[2 * NX + j] = f[7 * NX + j];
        g[3 * NX + j] = valence;
        g[4 * NX + j] = minus[2] - minus[1];
        g[9 * NX + j] = plus[2] - plus[1];
        for (int k = 3; k <= 6; k++) {
            double tp = 0.0, tm = 0.0;
            for (int q = 1; q < k; q++) {
                tp += plus[q];
                tm += minus[q];
            }
            g[(5 + k - 3) * NX + j] = tm - (k - 1) * minus[k];
            g[(10 + k - 3) * NX + j] = tp - (k - 1) * plus[k];
        }
    }
}

/* A store reshaped from C (x_out reinterpolated onto 3 of its 8 nodes, the input side rotated
 * to the evolution basis), opened and evolving a PDF with EKO_store_apply_transformed: the
 * result is the flavour-basis PDF evolved with the source operator by hand, read at those nodes
 * (reinterpolating onto nodes picks them; O M^-1 applied to M f is O f). */
static bool test_a_store_reshaped_from_c_evolves_pdfs(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *source = NULL, *store = NULL;
    EKO_TransformSpec *spec = NULL, *nothing = NULL;
    EKO_Transform *t = NULL;
    double *op = new_buffer();
    bool ok = false;
    enum { M = 3, REP = 2, N_PDF = REP * NP * NX, N_OUT = REP * NP * M };
    const int nodes[M] = {1, 4, 7};
    static const int32_t EVOL[NP] = {22,  100, 21,  200, 203, 208, 215,
                                     224, 235, 103, 108, 115, 124, 135};
    static double f[N_PDF], g[N_PDF], out[N_OUT], through[N_OUT], evolved[N_PDF];
    fill_operator(op, EKO_LAYOUT_C, 3.0);
    const char *src = scratch_path("reshape-source");
    const char *dest = scratch_path("reshaped");
    if (!write_store(h, src, op)) {
        goto done;
    }
    CHECK(h, EKO_store_open(h, src, &source));
    double xgrid[NX], picked[M];
    CHECK(h, EKO_store_xgrid(h, source, xgrid, NX));
    for (int k = 0; k < M; k++) {
        picked[k] = xgrid[nodes[k]];
    }
    CHECK(h, EKO_transform_spec_create(h, &spec));
    CHECK(h, EKO_transform_spec_set_xgrid(h, spec, EKO_SIDE_OUTPUT, picked, M));
    CHECK(h, EKO_transform_spec_set_basis(h, spec, EKO_SIDE_INPUT, EKO_BASIS_EVOL));
    /* Refused, nothing written: NULL, a spec asking nothing. */
    EXPECT(h, EKO_store_reshape(h, NULL, dest, spec, 1), EKO_ERROR_NULL_ARGUMENT, "dir is NULL");
    EXPECT(h, EKO_store_reshape(h, src, dest, NULL, 1), EKO_ERROR_NULL_ARGUMENT, "spec is NULL");
    REQUIRE(EKO_store_reshape(NULL, src, dest, spec, 1) == EKO_ERROR_NULL_ARGUMENT);
    CHECK(h, EKO_transform_spec_create(h, &nothing));
    EXPECT(h, EKO_store_reshape(h, src, dest, nothing, 1), EKO_ERROR_INVALID_ARGUMENT,
           "nothing to reshape");
    CHECK(h, EKO_store_reshape(h, src, dest, spec, 2));
    /* A second time: the destination is a store now. */
    EXPECT(h, EKO_store_reshape(h, src, dest, spec, 2), EKO_ERROR_NOT_EMPTY, "is not empty");

    /* The new store: its final operators' shape and sides. */
    CHECK(h, EKO_store_open(h, dest, &store));
    int64_t shape[4];
    CHECK(h, EKO_store_operator_shape(h, store, shape));
    REQUIRE(shape[0] == NP && shape[1] == M && shape[2] == NP && shape[3] == NX);
    int32_t pids[NP];
    CHECK(h, EKO_store_side_pids(h, store, EKO_SIDE_INPUT, pids, NP));
    REQUIRE(memcmp(pids, EVOL, sizeof pids) == 0);
    CHECK(h, EKO_store_side_pids(h, store, EKO_SIDE_OUTPUT, pids, NP));
    REQUIRE(memcmp(pids, PIDS, sizeof pids) == 0);
    double side_x[M];
    CHECK(h, EKO_store_side_xgrid(h, store, EKO_SIDE_OUTPUT, side_x, M));
    REQUIRE(memcmp(side_x, picked, sizeof picked) == 0);

    /* Flavour-basis replicas f, the same in the evolution basis g, evolved through the store. */
    for (int k = 0; k < N_PDF; k++) {
        f[k] = 0.5 + sin(0.37 * k);
    }
    for (int r = 0; r < REP; r++) {
        to_evolution(f + r * NP * NX, g + r * NP * NX);
    }
    for (int k = 0; k < N_OUT; k++) {
        out[k] = -7.0;
    }
    /* EKO_store_apply cannot: its sides differ in length. */
    EXPECT(h, EKO_store_apply(h, store, MU2, NF, g, out, 1, NP * NX, 1), EKO_ERROR_RESHAPED,
           "EKO_store_apply_transformed takes each with its own");
    EXPECT(h, EKO_store_apply_transformed(h, store, NULL, MU2, NF, g, N_PDF, out, N_PDF, REP, 1),
           EKO_ERROR_BAD_SHAPE,
           "n_out is 224; 2 replica(s) of 14 pids x 3 x values (the store's final operators' "
           "output side) take 84");
    EXPECT(h, EKO_store_apply_transformed(h, store, NULL, MU2, NF, g, N_PDF, out, N_OUT, 1, 1),
           EKO_ERROR_BAD_SHAPE, "n_pdf is 224; 1 replica(s) of 14 pids x 8 x values");
    EXPECT(h, EKO_store_apply_transformed(h, store, NULL, MU2, NF, g, N_PDF, out, N_OUT, REP, -1),
           EKO_ERROR_INVALID_ARGUMENT, "threads is -1");
    EXPECT(h, EKO_store_apply_transformed(h, store, NULL, 20.0, NF, g, N_PDF, out, N_OUT, REP, 1),
           EKO_ERROR_NOT_FOUND, "no final operator for (mu2=20, nf=4)");
    /* A transform made for the source store does not fit the reshaped one. */
    CHECK(h, EKO_transform_create(h, source, spec, 1, &t));
    EXPECT(h, EKO_store_apply_transformed(h, store, t, MU2, NF, g, N_PDF, out, N_OUT, REP, 1),
           EKO_ERROR_INCOMPATIBLE, "make it from this store with EKO_transform_create");
    for (int k = 0; k < N_OUT; k++) {
        REQUIRE(out[k] == -7.0);
    }
    CHECK(h, EKO_store_apply_transformed(h, store, NULL, MU2, NF, g, N_PDF, out, N_OUT, REP, 2));
    /* By hand: f evolved with the source operator, read at the nodes. */
    for (int r = 0; r < REP; r++)
        for (int a = 0; a < NP; a++)
            for (int i = 0; i < NX; i++) {
                double sum = 0.0;
                for (int b = 0; b < NP; b++)
                    for (int j = 0; j < NX; j++) {
                        sum += op[offset(EKO_LAYOUT_C, a, i, b, j)] * f[(r * NP + b) * NX + j];
                    }
                evolved[(r * NP + a) * NX + i] = sum;
            }
    for (int r = 0; r < REP; r++)
        for (int a = 0; a < NP; a++)
            for (int k = 0; k < M; k++) {
                double want = evolved[(r * NP + a) * NX + nodes[k]];
                double got = out[(r * NP + a) * M + k];
                if (fabs(got - want) > 1e-12 * (1.0 + fabs(want))) {
                    fprintf(stderr, "replica %d, pid %d, node %d: %.17g, by hand %.17g\n", r,
                            PIDS[a], nodes[k], got, want);
                    return false;
                }
            }
    /* The source store evolved through the same transform: the same values, bit for bit (the
     * reshaped store holds that transformed operator). */
    CHECK(h, EKO_store_apply_transformed(h, source, t, MU2, NF, g, N_PDF, through, N_OUT, REP, 1));
    REQUIRE(memcmp(through, out, sizeof out) == 0);
    ok = true;
done:
    EKO_transform_spec_destroy(spec);
    EKO_transform_spec_destroy(nothing);
    EKO_transform_destroy(t);
    EKO_store_destroy(store);
    EKO_store_destroy(source);
    EKO_handle_destroy(h);
    free(op);
    return ok;
}

int main(int argc, char **argv) {
    const test_case tests[] = {
        {"the_evolution_basis_from_a_store_and_from_host_buffers",
         test_the_evolution_basis_from_a_store_and_from_host_buffers},
        {"reinterpolation_onto_nodes_picks_them", test_reinterpolation_onto_nodes_picks_them},
        {"bad_transforms_and_buffers_are_refused", test_bad_transforms_and_buffers_are_refused},
        {"a_store_reshaped_from_c_evolves_pdfs", test_a_store_reshaped_from_c_evolves_pdfs},
    };
    return run_tests(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
