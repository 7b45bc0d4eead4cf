/* Slices through the header: a store the test writes (points out of order, one file in Fortran
 * order), its slices in ascending mu2 with their points and sides; a slice written (C and Fortran
 * order), borrowed in place and viewed through the store, bit for bit; transformed slices against
 * EKO_transform_apply, bit for bit; a scale held with two nf refused until EKO_slices_spec_set_nf
 * chooses; pineappl's operator callback called directly with good and bad requests (the buffer,
 * the first error kept, the state's status and message); every NULL argument and wrong length. */
#include "common.h"

#include <stdint.h>

enum { NPOINT = 3 };
/* Written out of order; the slices come in ascending mu2. The point at 50 is in Fortran order. */
static const double MU2S[NPOINT] = {100.0, 10.0, 50.0};
static const int32_t NFS[NPOINT] = {5, 4, 5};
static const int32_t LAYOUTS[NPOINT] = {EKO_LAYOUT_C, EKO_LAYOUT_C, EKO_LAYOUT_FORTRAN};
/* The slices' order: index k of the slices is point SORTED[k] of the arrays above. */
static const int SORTED[NPOINT] = {1, 2, 0};

static const int32_t EVOL[NP] = {22,  100, 21,  200, 203, 208, 215,
                                 224, 235, 103, 108, 115, 124, 135};

static bool same_bits(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Element (a, i, b, j) of a view. */
static double at(const EKO_View *v, int a, int i, int b, int j) {
    return v->data[a * v->strides[0] + i * v->strides[1] + b * v->strides[2] + j * v->strides[3]];
}

/* Element (a, i, b, j) of a buffer of `shape` in `layout`. */
static size_t at4(const int64_t shape[4], int32_t layout, int a, int i, int b, int j) {
    if (layout == EKO_LAYOUT_FORTRAN) {
        return (size_t)a + (size_t)shape[0] * ((size_t)i + (size_t)shape[1] *
                                               ((size_t)b + (size_t)shape[2] * (size_t)j));
    }
    return (((size_t)a * (size_t)shape[1] + (size_t)i) * (size_t)shape[2] + (size_t)b) *
               (size_t)shape[3] + (size_t)j;
}

/* Whether `buffer` (of `shape`, `layout`) holds the view's values, bit for bit. */
static bool equals_view(const double *buffer, const int64_t shape[4], int32_t layout,
                        const EKO_View *v) {
    for (int k = 0; k < 4; k++) {
        if (v->shape[k] != shape[k]) {
            fprintf(stderr, "extent %d: %lld, the view's %lld\n", k, (long long)shape[k],
                    (long long)v->shape[k]);
            return false;
        }
    }
    for (int a = 0; a < shape[0]; a++)
        for (int i = 0; i < shape[1]; i++)
            for (int b = 0; b < shape[2]; b++)
                for (int j = 0; j < shape[3]; j++) {
                    if (!same_bits(buffer[at4(shape, layout, a, i, b, j)], at(v, a, i, b, j))) {
                        fprintf(stderr, "(%d, %d, %d, %d): %.17g, the view has %.17g\n", a, i, b,
                                j, buffer[at4(shape, layout, a, i, b, j)], at(v, a, i, b, j));
                        return false;
                    }
                }
    return true;
}

static bool all_nan(const double *buffer, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (!isnan(buffer[k])) {
            return false;
        }
    }
    return true;
}

static const char *store_dir(void) {
    static bool written = false;
    const char *dir = scratch_path("points");
    if (!written) {
        EKO_Handle *h = EKO_handle_create();
        written = write_points(h, dir, NPOINT, MU2S, NFS, LAYOUTS);
        EKO_handle_destroy(h);
    }
    return written ? dir : NULL;
}

static bool test_slices_come_in_ascending_mu2_with_the_stores_sides(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_SlicesSpec *spec = NULL;
    EKO_Slices *all = NULL, *some = NULL;
    bool ok = false;
    const char *dir = store_dir();
    REQUIRE(dir != NULL);
    CHECK(h, EKO_store_open(h, dir, &store));
    CHECK(h, EKO_slices_create(h, store, NULL, NULL, &all));
    int32_t n = 0, nf = 0, basis = 0;
    CHECK(h, EKO_slices_len(h, all, &n));
    REQUIRE(n == NPOINT);
    for (int k = 0; k < NPOINT; k++) {
        double mu2 = 0.0;
        CHECK(h, EKO_slices_point(h, all, k, &mu2, &nf));
        REQUIRE(mu2 == MU2S[SORTED[k]] && nf == NFS[SORTED[k]]);
    }
    int64_t shape[4];
    CHECK(h, EKO_slices_shape(h, all, shape));
    REQUIRE(shape[0] == NP && shape[1] == NX && shape[2] == NP && shape[3] == NX);
    CHECK(h, EKO_slices_check_shape(h, all, shape));
    double fac0 = 0.0;
    CHECK(h, EKO_slices_fac0(h, all, &fac0));
    REQUIRE(fac0 == ORIGIN_MU2);
    CHECK(h, EKO_slices_basis(h, all, &basis));
    REQUIRE(basis == EKO_BASIS_FLAVOR);
    int32_t pids[NP];
    double xgrid[NX], store_x[NX];
    CHECK(h, EKO_store_xgrid(h, store, store_x, NX));
    for (int side = EKO_SIDE_OUTPUT; side <= EKO_SIDE_INPUT; side++) {
        CHECK(h, EKO_slices_side_pids(h, all, side, pids, NP));
        REQUIRE(memcmp(pids, PIDS, sizeof pids) == 0);
        CHECK(h, EKO_slices_side_xgrid(h, all, side, xgrid, NX));
        REQUIRE(memcmp(xgrid, store_x, sizeof xgrid) == 0);
    }
    /* Only some scales, given out of order, repeated, one off by a few ulps. */
    const double wanted[3] = {100.0, 10.0 * (1.0 + 4e-16), 100.0};
    CHECK(h, EKO_slices_spec_create(h, &spec));
    CHECK(h, EKO_slices_spec_set_scales(h, spec, wanted, 3));
    CHECK(h, EKO_slices_create(h, store, spec, NULL, &some));
    CHECK(h, EKO_slices_len(h, some, &n));
    REQUIRE(n == 2);
    double mu2 = 0.0;
    CHECK(h, EKO_slices_point(h, some, 0, &mu2, &nf));
    REQUIRE(mu2 == 10.0 && nf == 4);
    CHECK(h, EKO_slices_point(h, some, 1, &mu2, &nf));
    REQUIRE(mu2 == 100.0 && nf == 5);
    /* A scale the store lacks, named with the scales it holds. */
    const double missing[2] = {10.0, 20.0};
    CHECK(h, EKO_slices_spec_set_scales(h, spec, missing, 2));
    EKO_Slices *none = NULL;
    EXPECT(h, EKO_slices_create(h, store, spec, NULL, &none), EKO_ERROR_INVALID_ARGUMENT,
           "has no operator at mu2 = 20 (1 of the 2 scales needed); it holds 3 scales from mu2 = "
           "10 to 100");
    REQUIRE(none == NULL);
    /* The slices do not need the store, the spec or each other any more. */
    EKO_store_destroy(store);
    store = NULL;
    EKO_slices_spec_destroy(spec);
    spec = NULL;
    CHECK(h, EKO_slices_point(h, all, 2, &mu2, &nf));
    REQUIRE(mu2 == 100.0);
    ok = true;
    EKO_slices_destroy(some);
    EKO_slices_destroy(all);
    EKO_handle_destroy(h);
    return ok;
}

/* Each slice written (C and Fortran order), borrowed, and viewed through the store: the same
 * values, bit for bit; a view of a Fortran-order file says so. */
static bool test_write_borrow_and_the_store_agree_bit_for_bit(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_Slices *slices = NULL;
    double *c_order = new_buffer(), *f_order = new_buffer();
    bool ok = false;
    const char *dir = store_dir();
    REQUIRE(dir != NULL);
    CHECK(h, EKO_store_open(h, dir, &store));
    CHECK(h, EKO_slices_create(h, store, NULL, NULL, &slices));
    int64_t shape[4];
    CHECK(h, EKO_slices_shape(h, slices, shape));
    for (int k = 0; k < NPOINT; k++) {
        const int p = SORTED[k];
        EKO_View stored, borrowed;
        CHECK(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, MU2S[p], NFS[p], EKO_ATTRIBUTE_VALUE,
                                &stored));
        CHECK(h, EKO_slices_write(h, slices, k, c_order, N, EKO_LAYOUT_C));
        REQUIRE(equals_view(c_order, shape, EKO_LAYOUT_C, &stored));
        CHECK(h, EKO_slices_write(h, slices, k, f_order, N, EKO_LAYOUT_FORTRAN));
        REQUIRE(equals_view(f_order, shape, EKO_LAYOUT_FORTRAN, &stored));
        CHECK(h, EKO_slices_borrow(h, slices, k, &borrowed));
        REQUIRE(borrowed.layout == LAYOUTS[p]);
        REQUIRE(borrowed.data != stored.data); /* the slices' own map of the file */
        REQUIRE(equals_view(c_order, shape, EKO_LAYOUT_C, &borrowed));
        /* The mapped file is no destination. */
        EXPECT(h, EKO_slices_write(h, slices, k, (double *)(uintptr_t)borrowed.data, N,
                                   EKO_LAYOUT_C),
               EKO_ERROR_READ_ONLY, "buffer is memory of a mapped operator");
        CHECK(h, EKO_slices_release(h, slices, k));
        /* Released: written again, the same values. */
        CHECK(h, EKO_slices_write(h, slices, k, c_order, N, EKO_LAYOUT_C));
        REQUIRE(equals_view(c_order, shape, EKO_LAYOUT_C, &stored));
    }
    /* Releasing a slice never borrowed is harmless. */
    CHECK(h, EKO_slices_release(h, slices, 0));
    ok = true;
    EKO_slices_destroy(slices);
    EKO_store_destroy(store);
    EKO_handle_destroy(h);
    free(c_order);
    free(f_order);
    return ok;
}

/* Slices through a transform (x_out onto 3 of the nodes, the input side in the evolution basis):
 * written, borrowed and served by the callback bit for bit as EKO_transform_apply gives them. */
static bool test_transformed_slices_equal_the_transform_bit_for_bit(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_TransformSpec *tspec = NULL;
    EKO_Transform *t = NULL, *other = NULL;
    EKO_Slices *slices = NULL, *wrong = NULL;
    EKO_PineapplState *state = NULL;
    enum { M = 3, NOUT = NP * M * NP * NX };
    const int nodes[M] = {1, 4, 7};
    static double want[NOUT], got[NOUT], served[NOUT];
    bool ok = false;
    const char *dir = store_dir();
    REQUIRE(dir != NULL);
    CHECK(h, EKO_store_open(h, dir, &store));
    double xgrid[NX], picked[M];
    CHECK(h, EKO_store_xgrid(h, store, xgrid, NX));
    for (int k = 0; k < M; k++) {
        picked[k] = xgrid[nodes[k]];
    }
    CHECK(h, EKO_transform_spec_create(h, &tspec));
    CHECK(h, EKO_transform_spec_set_xgrid(h, tspec, EKO_SIDE_OUTPUT, picked, M));
    CHECK(h, EKO_transform_spec_set_basis(h, tspec, EKO_SIDE_INPUT, EKO_BASIS_EVOL));
    CHECK(h, EKO_transform_spec_set_interpolation(h, tspec, 3, 1));
    CHECK(h, EKO_transform_create(h, store, tspec, 1, &t));
    CHECK(h, EKO_slices_create(h, store, NULL, t, &slices));
    /* The slices copied the transform. */
    EKO_transform_destroy(t);
    t = NULL;
    CHECK(h, EKO_transform_create(h, store, tspec, 1, &t));
    int64_t shape[4];
    CHECK(h, EKO_slices_shape(h, slices, shape));
    REQUIRE(shape[0] == NP && shape[1] == M && shape[2] == NP && shape[3] == NX);
    int32_t basis = 0, pids[NP];
    CHECK(h, EKO_slices_basis(h, slices, &basis));
    REQUIRE(basis == EKO_BASIS_EVOL);
    CHECK(h, EKO_slices_side_pids(h, slices, EKO_SIDE_INPUT, pids, NP));
    REQUIRE(memcmp(pids, EVOL, sizeof pids) == 0);
    CHECK(h, EKO_slices_side_pids(h, slices, EKO_SIDE_OUTPUT, pids, NP));
    REQUIRE(memcmp(pids, PIDS, sizeof pids) == 0);
    double side_x[M], x_in[NX];
    CHECK(h, EKO_slices_side_xgrid(h, slices, EKO_SIDE_OUTPUT, side_x, M));
    REQUIRE(memcmp(side_x, picked, sizeof picked) == 0);
    CHECK(h, EKO_slices_side_xgrid(h, slices, EKO_SIDE_INPUT, x_in, NX));
    const EKO_Slices *list[1] = {slices};
    CHECK(h, EKO_pineappl_state_create(h, list, 1, &state));
    const size_t eko_shape[4] = {NP, M, NP, NX};
    EKO_View borrowed, earlier;
    for (int k = 0; k < NPOINT; k++) {
        const int p = SORTED[k];
        EKO_View stored;
        CHECK(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, MU2S[p], NFS[p], EKO_ATTRIBUTE_VALUE,
                                &stored));
        CHECK(h, EKO_transform_apply(h, t, stored.data, N, stored.layout, want, NOUT,
                                     EKO_LAYOUT_C));
        CHECK(h, EKO_slices_write(h, slices, k, got, NOUT, EKO_LAYOUT_C));
        REQUIRE(memcmp(got, want, sizeof want) == 0);
        CHECK(h, EKO_slices_borrow(h, slices, k, &borrowed));
        REQUIRE(borrowed.layout == EKO_LAYOUT_C);
        REQUIRE(equals_view(want, shape, EKO_LAYOUT_C, &borrowed));
        if (k > 0) {
            /* One buffer, reused: the earlier borrow now shows this slice. */
            REQUIRE(borrowed.data == earlier.data);
        }
        earlier = borrowed;
        /* The borrow's buffer is no destination. */
        EXPECT(h, EKO_slices_write(h, slices, k, (double *)(uintptr_t)borrowed.data, NOUT,
                                   EKO_LAYOUT_C),
               EKO_ERROR_OVERLAPPING, "a borrow of transformed slices");
        /* The callback fuses the transform into pineappl's buffer. */
        memset(served, 0, sizeof served);
        EKO_pineappl_operator(0, MU2S[p], PIDS, picked, EVOL, x_in, eko_shape, served, state);
        REQUIRE(memcmp(served, want, sizeof want) == 0);
    }
    CHECK(h, EKO_slices_release(h, slices, NPOINT - 1)); /* frees the buffer */
    CHECK(h, EKO_pineappl_state_check(h, state));
    int64_t count = 0;
    CHECK(h, EKO_pineappl_state_served(h, state, &count));
    REQUIRE(count == NPOINT);
    /* A transform for other sides is refused. */
    CHECK(h, EKO_transform_create_for_sides(h, tspec, PIDS, NP, picked, M, PIDS, NP, picked, M, 1,
                                            &other));
    EXPECT(h, EKO_slices_create(h, store, NULL, other, &wrong), EKO_ERROR_INCOMPATIBLE,
           "make it from this store with EKO_transform_create");
    REQUIRE(wrong == NULL);
    ok = true;
    EKO_pineappl_state_destroy(state);
    EKO_slices_destroy(slices);
    EKO_transform_destroy(t);
    EKO_transform_destroy(other);
    EKO_transform_spec_destroy(tspec);
    EKO_store_destroy(store);
    EKO_handle_destroy(h);
    return ok;
}

/* A store with one scale at two nf (the bottom matching scale): refused until
 * EKO_slices_spec_set_nf chooses; a later choice replaces an earlier one. */
static bool test_a_scale_with_two_nf_needs_a_choice(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_SlicesSpec *spec = NULL;
    EKO_Slices *slices = NULL;
    bool ok = false;
    const double mu2s[3] = {10.0, BOTTOM, BOTTOM};
    const int32_t nfs[3] = {4, 4, 5};
    const int32_t layouts[3] = {EKO_LAYOUT_C, EKO_LAYOUT_C, EKO_LAYOUT_C};
    const char *dir = scratch_path("two-nf");
    REQUIRE(write_points(h, dir, 3, mu2s, nfs, layouts));
    CHECK(h, EKO_store_open(h, dir, &store));
    EXPECT(h, EKO_slices_create(h, store, NULL, NULL, &slices), EKO_ERROR_INVALID_ARGUMENT,
           "mu2 = 24.2064 has nf = 4 and 5");
    REQUIRE(strstr(EKO_handle_message(h), "C EKO_slices_spec_set_nf") != NULL);
    REQUIRE(slices == NULL);
    CHECK(h, EKO_slices_spec_create(h, &spec));
    CHECK(h, EKO_slices_spec_set_nf(h, spec, BOTTOM, 5));
    CHECK(h, EKO_slices_create(h, store, spec, NULL, &slices));
    int32_t n = 0, nf = 0;
    double mu2 = 0.0;
    CHECK(h, EKO_slices_len(h, slices, &n));
    REQUIRE(n == 2);
    CHECK(h, EKO_slices_point(h, slices, 1, &mu2, &nf));
    REQUIRE(mu2 == BOTTOM && nf == 5);
    EKO_slices_destroy(slices);
    slices = NULL;
    /* The other nf, chosen later for the same scale: it replaces the first choice. */
    CHECK(h, EKO_slices_spec_set_nf(h, spec, BOTTOM, 4));
    CHECK(h, EKO_slices_create(h, store, spec, NULL, &slices));
    CHECK(h, EKO_slices_point(h, slices, 1, &mu2, &nf));
    REQUIRE(mu2 == BOTTOM && nf == 4);
    EKO_slices_destroy(slices);
    slices = NULL;
    /* A choice naming no final operator; an impossible point. */
    CHECK(h, EKO_slices_spec_set_nf(h, spec, BOTTOM, 3));
    EXPECT(h, EKO_slices_create(h, store, spec, NULL, &slices), EKO_ERROR_INVALID_ARGUMENT,
           "has no final operator at that point (mu2 = 24.2064 has nf = 4 and 5)");
    EXPECT(h, EKO_slices_spec_set_nf(h, spec, BOTTOM, 7), EKO_ERROR_INVALID_ARGUMENT,
           "(mu2=24.2064, nf=7): nf is larger than 6");
    EXPECT(h, EKO_slices_spec_set_nf(h, spec, -1.0, 4), EKO_ERROR_INVALID_ARGUMENT,
           "mu2 is not positive");
    REQUIRE(slices == NULL);
    ok = true;
    EKO_slices_spec_destroy(spec);
    EKO_store_destroy(store);
    EKO_handle_destroy(h);
    return ok;
}

/* Every pointer argument NULL, a NULL handle, wrong lengths, indices, enum values. */
static bool test_null_arguments_and_wrong_lengths_are_refused(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_SlicesSpec *spec = NULL;
    EKO_Slices *slices = NULL;
    EKO_PineapplState *state = NULL;
    double *buffer = new_buffer();
    bool ok = false;
    const char *dir = store_dir();
    REQUIRE(dir != NULL);
    CHECK(h, EKO_store_open(h, dir, &store));
    /* A NULL handle: nothing done. */
    REQUIRE(EKO_slices_spec_create(NULL, &spec) == EKO_ERROR_NULL_ARGUMENT && spec == NULL);
    REQUIRE(EKO_slices_create(NULL, store, NULL, NULL, &slices) == EKO_ERROR_NULL_ARGUMENT);
    REQUIRE(slices == NULL);
    EKO_slices_spec_destroy(NULL);
    EKO_slices_destroy(NULL);
    EKO_pineappl_state_destroy(NULL);
    /* The spec. */
    EXPECT(h, EKO_slices_spec_create(h, NULL), EKO_ERROR_NULL_ARGUMENT, "spec is NULL");
    CHECK(h, EKO_slices_spec_create(h, &spec));
    const double scales[2] = {10.0, 100.0};
    EXPECT(h, EKO_slices_spec_set_scales(h, NULL, scales, 2), EKO_ERROR_NULL_ARGUMENT,
           "spec is NULL");
    EXPECT(h, EKO_slices_spec_set_scales(h, spec, NULL, 2), EKO_ERROR_NULL_ARGUMENT,
           "mu2 is NULL");
    EXPECT(h, EKO_slices_spec_set_scales(h, spec, scales, 0), EKO_ERROR_INVALID_ARGUMENT,
           "n_mu2 is 0, it must be positive");
    const double bad[2] = {10.0, NAN};
    EXPECT(h, EKO_slices_spec_set_scales(h, spec, bad, 2), EKO_ERROR_INVALID_ARGUMENT,
           "mu2[1] is NaN; scales are positive and finite");
    const double negative[1] = {-3.0};
    EXPECT(h, EKO_slices_spec_set_scales(h, spec, negative, 1), EKO_ERROR_INVALID_ARGUMENT,
           "mu2[0] is -3");
    EXPECT(h, EKO_slices_spec_set_nf(h, NULL, 10.0, 4), EKO_ERROR_NULL_ARGUMENT, "spec is NULL");
    REQUIRE(EKO_slices_spec_set_nf(NULL, spec, 10.0, 4) == EKO_ERROR_NULL_ARGUMENT);
    /* Creation. */
    EXPECT(h, EKO_slices_create(h, NULL, spec, NULL, &slices), EKO_ERROR_NULL_ARGUMENT,
           "store is NULL");
    EXPECT(h, EKO_slices_create(h, store, spec, NULL, NULL), EKO_ERROR_NULL_ARGUMENT,
           "slices is NULL");
    CHECK(h, EKO_slices_spec_set_scales(h, spec, scales, 2));
    CHECK(h, EKO_slices_create(h, store, spec, NULL, &slices));
    /* Queries. */
    int32_t n = 0, nf = 0, pids[NP];
    int64_t shape[4], count = 0;
    double mu2 = 0.0, xgrid[NX];
    EKO_View v;
    EXPECT(h, EKO_slices_len(h, NULL, &n), EKO_ERROR_NULL_ARGUMENT, "slices is NULL");
    EXPECT(h, EKO_slices_len(h, slices, NULL), EKO_ERROR_NULL_ARGUMENT, "count is NULL");
    EXPECT(h, EKO_slices_shape(h, NULL, shape), EKO_ERROR_NULL_ARGUMENT, "slices is NULL");
    EXPECT(h, EKO_slices_shape(h, slices, NULL), EKO_ERROR_NULL_ARGUMENT, "shape is NULL");
    EXPECT(h, EKO_slices_check_shape(h, slices, NULL), EKO_ERROR_NULL_ARGUMENT, "shape is NULL");
    const int64_t transposed[4] = {NX, NP, NX, NP};
    EXPECT(h, EKO_slices_check_shape(h, slices, transposed), EKO_ERROR_BAD_SHAPE,
           "the array has shape [8, 14, 8, 14]; the slices have shape [14, 8, 14, 8]");
    EXPECT(h, EKO_slices_point(h, NULL, 0, &mu2, &nf), EKO_ERROR_NULL_ARGUMENT, "slices is NULL");
    EXPECT(h, EKO_slices_point(h, slices, 0, NULL, &nf), EKO_ERROR_NULL_ARGUMENT, "mu2 is NULL");
    EXPECT(h, EKO_slices_point(h, slices, 0, &mu2, NULL), EKO_ERROR_NULL_ARGUMENT, "nf is NULL");
    EXPECT(h, EKO_slices_point(h, slices, 2, &mu2, &nf), EKO_ERROR_INVALID_ARGUMENT,
           "index 2 is not below the 2 slices");
    EXPECT(h, EKO_slices_point(h, slices, -1, &mu2, &nf), EKO_ERROR_INVALID_ARGUMENT,
           "index -1 is not below");
    EXPECT(h, EKO_slices_fac0(h, NULL, &mu2), EKO_ERROR_NULL_ARGUMENT, "slices is NULL");
    EXPECT(h, EKO_slices_fac0(h, slices, NULL), EKO_ERROR_NULL_ARGUMENT, "fac0 is NULL");
    EXPECT(h, EKO_slices_basis(h, NULL, &n), EKO_ERROR_NULL_ARGUMENT, "slices is NULL");
    EXPECT(h, EKO_slices_basis(h, slices, NULL), EKO_ERROR_NULL_ARGUMENT, "basis is NULL");
    EXPECT(h, EKO_slices_side_pids(h, NULL, EKO_SIDE_OUTPUT, pids, NP), EKO_ERROR_NULL_ARGUMENT,
           "slices is NULL");
    EXPECT(h, EKO_slices_side_pids(h, slices, EKO_SIDE_OUTPUT, NULL, NP),
           EKO_ERROR_NULL_ARGUMENT, "pids is NULL");
    EXPECT(h, EKO_slices_side_pids(h, slices, EKO_SIDE_INPUT, pids, NP - 1), EKO_ERROR_BAD_SHAPE,
           "pids holds 13 elements; the slices' input side has 14");
    EXPECT(h, EKO_slices_side_pids(h, slices, 0, pids, NP), EKO_ERROR_INVALID_ARGUMENT,
           "side 0 is neither EKO_SIDE_OUTPUT");
    EXPECT(h, EKO_slices_side_xgrid(h, NULL, EKO_SIDE_OUTPUT, xgrid, NX),
           EKO_ERROR_NULL_ARGUMENT, "slices is NULL");
    EXPECT(h, EKO_slices_side_xgrid(h, slices, EKO_SIDE_OUTPUT, NULL, NX),
           EKO_ERROR_NULL_ARGUMENT, "xgrid is NULL");
    EXPECT(h, EKO_slices_side_xgrid(h, slices, EKO_SIDE_OUTPUT, xgrid, NX + 1),
           EKO_ERROR_BAD_SHAPE, "xgrid holds 9 elements; the slices' output side has 8");
    EXPECT(h, EKO_slices_side_xgrid(h, slices, 3, xgrid, NX), EKO_ERROR_INVALID_ARGUMENT,
           "side 3 is neither");
    /* Write: NULL, lengths, index, layout, alignment; the buffer untouched by every failure. */
    for (int k = 0; k < N; k++) {
        buffer[k] = -7.0;
    }
    EXPECT(h, EKO_slices_write(h, NULL, 0, buffer, N, EKO_LAYOUT_C), EKO_ERROR_NULL_ARGUMENT,
           "slices is NULL");
    EXPECT(h, EKO_slices_write(h, slices, 0, NULL, N, EKO_LAYOUT_C), EKO_ERROR_NULL_ARGUMENT,
           "buffer is NULL");
    EXPECT(h, EKO_slices_write(h, slices, 0, buffer, N - 1, EKO_LAYOUT_C), EKO_ERROR_BAD_SHAPE,
           "n_buffer is 12543; the slices have shape [14, 8, 14, 8] (12544 doubles)");
    EXPECT(h, EKO_slices_write(h, slices, 0, buffer, 0, EKO_LAYOUT_C), EKO_ERROR_INVALID_ARGUMENT,
           "n_buffer is 0");
    EXPECT(h, EKO_slices_write(h, slices, 5, buffer, N, EKO_LAYOUT_C), EKO_ERROR_INVALID_ARGUMENT,
           "index 5 is not below the 2 slices");
    EXPECT(h, EKO_slices_write(h, slices, 0, buffer, N, 7), EKO_ERROR_INVALID_ARGUMENT,
           "layout 7 is neither EKO_LAYOUT_C");
    double *misaligned = (double *)(void *)((char *)buffer + 4);
    EXPECT(h, EKO_slices_write(h, slices, 0, misaligned, N - 1, EKO_LAYOUT_C), EKO_ERROR_BAD_SHAPE,
           "n_buffer is 12543");
    EXPECT(h, EKO_slices_write(h, slices, 0, misaligned, N, EKO_LAYOUT_C), EKO_ERROR_MISALIGNED,
           "buffer is not aligned");
    REQUIRE(EKO_slices_write(NULL, slices, 0, buffer, N, EKO_LAYOUT_C) == EKO_ERROR_NULL_ARGUMENT);
    for (int k = 0; k < N; k++) {
        REQUIRE(buffer[k] == -7.0);
    }
    /* Borrow and release. */
    EXPECT(h, EKO_slices_borrow(h, NULL, 0, &v), EKO_ERROR_NULL_ARGUMENT, "slices is NULL");
    EXPECT(h, EKO_slices_borrow(h, slices, 0, NULL), EKO_ERROR_NULL_ARGUMENT, "view is NULL");
    EXPECT(h, EKO_slices_borrow(h, slices, 2, &v), EKO_ERROR_INVALID_ARGUMENT,
           "index 2 is not below");
    EXPECT(h, EKO_slices_release(h, NULL, 0), EKO_ERROR_NULL_ARGUMENT, "slices is NULL");
    EXPECT(h, EKO_slices_release(h, slices, 2), EKO_ERROR_INVALID_ARGUMENT,
           "index 2 is not below");
    REQUIRE(EKO_slices_release(NULL, slices, 0) == EKO_ERROR_NULL_ARGUMENT);
    /* The pineappl state. */
    const EKO_Slices *list[2] = {slices, NULL};
    EXPECT(h, EKO_pineappl_state_create(h, NULL, 1, &state), EKO_ERROR_NULL_ARGUMENT,
           "slices is NULL");
    EXPECT(h, EKO_pineappl_state_create(h, list, 0, &state), EKO_ERROR_INVALID_ARGUMENT,
           "n_slices is 0, it must be positive");
    EXPECT(h, EKO_pineappl_state_create(h, list, 2, &state), EKO_ERROR_NULL_ARGUMENT,
           "slices[1] is NULL");
    EXPECT(h, EKO_pineappl_state_create(h, list, 1, NULL), EKO_ERROR_NULL_ARGUMENT,
           "state is NULL");
    REQUIRE(state == NULL);
    CHECK(h, EKO_pineappl_state_create(h, list, 1, &state));
    EXPECT(h, EKO_pineappl_state_check(h, NULL), EKO_ERROR_NULL_ARGUMENT, "state is NULL");
    EXPECT(h, EKO_pineappl_state_served(h, NULL, &count), EKO_ERROR_NULL_ARGUMENT,
           "state is NULL");
    EXPECT(h, EKO_pineappl_state_served(h, state, NULL), EKO_ERROR_NULL_ARGUMENT,
           "served is NULL");
    REQUIRE(EKO_pineappl_state_check(NULL, state) == EKO_ERROR_NULL_ARGUMENT);
    ok = true;
    EKO_pineappl_state_destroy(state);
    EKO_slices_destroy(slices);
    EKO_slices_spec_destroy(spec);
    EKO_store_destroy(store);
    EKO_handle_destroy(h);
    free(buffer);
    return ok;
}

/* The callback as pineappl calls it: good requests fill pineappl's zeroed buffer with the slice;
 * each bad one fills it with NaN and is recorded, the first one kept. */
static bool test_the_pineappl_callback_serves_and_records_the_first_error(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_Slices *slices = NULL;
    EKO_PineapplState *state = NULL;
    double *buffer = new_buffer(), *want = new_buffer();
    bool ok = false;
    const char *dir = store_dir();
    REQUIRE(dir != NULL);
    CHECK(h, EKO_store_open(h, dir, &store));
    CHECK(h, EKO_slices_create(h, store, NULL, NULL, &slices));
    double x[NX], wrong_x[NX];
    CHECK(h, EKO_slices_side_xgrid(h, slices, EKO_SIDE_OUTPUT, x, NX));
    memcpy(wrong_x, x, sizeof x);
    wrong_x[2] *= 1.0 + 1e-9; /* far beyond 4096 ulps */
    int32_t wrong_pids[NP];
    memcpy(wrong_pids, PIDS, sizeof wrong_pids);
    wrong_pids[0] = 0;
    const size_t shape[4] = {NP, NX, NP, NX}, wrong_shape[4] = {NP, NX, NP, NX - 1};
    const EKO_Slices *list[1] = {slices};
    int64_t count = -1;

    /* A good request: the buffer holds the store's operator; nothing recorded. */
    CHECK(h, EKO_pineappl_state_create(h, list, 1, &state));
    CHECK(h, EKO_pineappl_state_served(h, state, &count));
    REQUIRE(count == 0);
    EKO_View stored;
    CHECK(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, 50.0, 5, EKO_ATTRIBUTE_VALUE, &stored));
    int64_t shape64[4] = {NP, NX, NP, NX};
    memset(buffer, 0, sizeof(double) * N);
    /* fac1 a few ulps off the store's scale still finds it (pineappl's tolerance). */
    EKO_pineappl_operator(0, 50.0 * (1.0 + 1e-15), PIDS, x, PIDS, x, shape, buffer, state);
    REQUIRE(equals_view(buffer, shape64, EKO_LAYOUT_C, &stored));
    CHECK(h, EKO_pineappl_state_check(h, state));
    CHECK(h, EKO_pineappl_state_served(h, state, &count));
    REQUIRE(count == 1);
    memcpy(want, buffer, sizeof(double) * N);

    /* An unknown fac1: NaN, recorded; then a wrong x: NaN, the first error kept; then a good
     * request is served again (and counted), the record unchanged. */
    EKO_pineappl_operator(0, 20.0, PIDS, x, PIDS, x, shape, buffer, state);
    REQUIRE(all_nan(buffer, N));
    EXPECT(h, EKO_pineappl_state_check(h, state), EKO_ERROR_EVOLVE,
           "EKO_pineappl_operator: no slice at fac1 = 20 in slices[0]");
    REQUIRE(strstr(EKO_handle_message(h), "mu2 = 10, 50, 100") != NULL);
    EKO_pineappl_operator(0, 50.0, PIDS, wrong_x, PIDS, x, shape, buffer, state);
    REQUIRE(all_nan(buffer, N));
    EXPECT(h, EKO_pineappl_state_check(h, state), EKO_ERROR_EVOLVE, "no slice at fac1 = 20");
    EKO_pineappl_operator(0, 50.0, PIDS, x, PIDS, x, shape, buffer, state);
    REQUIRE(memcmp(buffer, want, sizeof(double) * N) == 0);
    CHECK(h, EKO_pineappl_state_served(h, state, &count));
    REQUIRE(count == 2);
    EXPECT(h, EKO_pineappl_state_check(h, state), EKO_ERROR_EVOLVE, "no slice at fac1 = 20");
    /* The check says it again: the record stays. */
    EXPECT(h, EKO_pineappl_state_check(h, state), EKO_ERROR_EVOLVE, "no slice at fac1 = 20");
    EKO_pineappl_state_destroy(state);
    state = NULL;

    /* Each kind of bad request, on a fresh state: its message. */
    struct {
        size_t op_index;
        double fac1;
        const int32_t *pids_in;
        const double *x_in;
        const int32_t *pids_out;
        const double *x_out;
        const size_t *shape;
        const char *words;
    } bad[] = {
        {0, 10.0, PIDS, wrong_x, PIDS, x, shape,
         "x_in[2] is 0.05273437505273438; slices[0]'s output side has x = 0.052734375 there"},
        {0, 10.0, PIDS, x, PIDS, wrong_x, shape,
         "x_out[2] is 0.05273437505273438; slices[0]'s input side has x = 0.052734375 there"},
        {0, 10.0, wrong_pids, x, PIDS, x, shape,
         "pids_in[0] is 0; slices[0]'s output side has pid 22 there"},
        {0, 10.0, PIDS, x, wrong_pids, x, shape,
         "pids_out[0] is 0; slices[0]'s input side has pid 22 there"},
        {0, 10.0, PIDS, x, PIDS, x, wrong_shape,
         "pineappl asks for an operator of shape [14, 8, 14, 7]; slices[0] have [14, 8, 14, 8]"},
        {1, 10.0, PIDS, x, PIDS, x, shape,
         "op_index 1 is out of range: the state holds 1 slices"},
        {0, 10.0, NULL, x, PIDS, x, shape, "pids_in is NULL"},
        {0, 10.0, PIDS, x, PIDS, NULL, shape, "x_out is NULL"},
        {0, 10.0, PIDS, x, PIDS, x, NULL, "shape is NULL"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK(h, EKO_pineappl_state_create(h, list, 1, &state));
        for (int e = 0; e < N; e++) {
            buffer[e] = 0.0;
        }
        EKO_pineappl_operator(bad[k].op_index, bad[k].fac1, bad[k].pids_in, bad[k].x_in,
                              bad[k].pids_out, bad[k].x_out, bad[k].shape, buffer, state);
        if (bad[k].shape != NULL) {
            /* The buffer pineappl gave for that shape: NaN. */
            size_t n = bad[k].shape[0] * bad[k].shape[1] * bad[k].shape[2] * bad[k].shape[3];
            REQUIRE(all_nan(buffer, n));
        } else {
            REQUIRE(buffer[0] == 0.0); /* no shape: nothing can be written */
        }
        EXPECT(h, EKO_pineappl_state_check(h, state), EKO_ERROR_EVOLVE, bad[k].words);
        CHECK(h, EKO_pineappl_state_served(h, state, &count));
        REQUIRE(count == 0);
        EKO_pineappl_state_destroy(state);
        state = NULL;
    }
    /* No buffer: recorded, nothing written. No state: the buffer is NaN. */
    CHECK(h, EKO_pineappl_state_create(h, list, 1, &state));
    EKO_pineappl_operator(0, 10.0, PIDS, x, PIDS, x, shape, NULL, state);
    EXPECT(h, EKO_pineappl_state_check(h, state), EKO_ERROR_EVOLVE, "buffer is NULL");
    memset(buffer, 0, sizeof(double) * N);
    EKO_pineappl_operator(0, 10.0, PIDS, x, PIDS, x, shape, buffer, NULL);
    REQUIRE(all_nan(buffer, N));
    /* A mapped operator as buffer (only a direct caller can do that): recorded, not written
     * (the map is read-only: a write would fault). */
    EKO_pineappl_state_destroy(state);
    CHECK(h, EKO_pineappl_state_create(h, list, 1, &state));
    EKO_View borrowed;
    CHECK(h, EKO_slices_borrow(h, slices, 0, &borrowed));
    EKO_pineappl_operator(0, 10.0, PIDS, x, PIDS, x, shape, (double *)(uintptr_t)borrowed.data,
                          state);
    EXPECT(h, EKO_pineappl_state_check(h, state), EKO_ERROR_EVOLVE,
           "buffer is memory of a mapped operator");
    CHECK(h, EKO_slices_release(h, slices, 0));
    ok = true;
    EKO_pineappl_state_destroy(state);
    EKO_slices_destroy(slices);
    EKO_store_destroy(store);
    EKO_handle_destroy(h);
    free(buffer);
    free(want);
    return ok;
}

int main(int argc, char **argv) {
    const test_case tests[] = {
        {"slices_come_in_ascending_mu2_with_the_stores_sides",
         test_slices_come_in_ascending_mu2_with_the_stores_sides},
        {"write_borrow_and_the_store_agree_bit_for_bit",
         test_write_borrow_and_the_store_agree_bit_for_bit},
        {"transformed_slices_equal_the_transform_bit_for_bit",
         test_transformed_slices_equal_the_transform_bit_for_bit},
        {"a_scale_with_two_nf_needs_a_choice", test_a_scale_with_two_nf_needs_a_choice},
        {"null_arguments_and_wrong_lengths_are_refused",
         test_null_arguments_and_wrong_lengths_are_refused},
        {"the_pineappl_callback_serves_and_records_the_first_error",
         test_the_pineappl_callback_serves_and_records_the_first_error},
    };
    return run_tests(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
