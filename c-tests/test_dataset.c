/* A C host's whole job through the header: a dataset from its own arrays (C and Fortran
 * order, with errors), a point declared empty and filled later, combine in place, a store
 * written, reopened mapped and read with no copy; results equal to the Rust API's (the store
 * combine) bit for bit. */
#include "common.h"

#include <unistd.h>

enum { N_TARGETS = 5 };
static const double TARGET_MU2[N_TARGETS] = {10.0, 100.0, 2.0, 1e4, 1e5};
static const int32_t TARGET_NF[N_TARGETS] = {4, 5, 3, 5, 6};

/* Element (a, i, b, j) of a view. */
static double at(const EKO_View *v, int a, int i, int b, int j) {
    return v->data[a * v->strides[0] + i * v->strides[1] + b * v->strides[2] + j * v->strides[3]];
}

/* Every partial (even targets in C order, odd in Fortran order) and every threshold element
 * the dataset asks for, with errors. Buffers go to `owned` (freed by the caller). */
static bool register_all(EKO_Handle *h, EKO_Dataset *ds, double **owned, int *n_owned,
                         int32_t *layouts, double **values, double **errors) {
    int32_t id;
    for (int t = 0; t < N_TARGETS; t++) {
        int32_t layout = t % 2 == 0 ? EKO_LAYOUT_C : EKO_LAYOUT_FORTRAN;
        double *value = owned[(*n_owned)++] = new_buffer();
        double *error = owned[(*n_owned)++] = new_buffer();
        fill_operator(value, layout, t);
        fill_operator(error, layout, 100 + t);
        for (size_t k = 0; k < N; k++) {
            error[k] = 1e-4 * fabs(error[k]);
        }
        CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, TARGET_MU2[t], TARGET_NF[t],
                                       layout, value, N, &id));
        CHECK(h, EKO_dataset_add_attribute_buffer(h, ds, id, EKO_ATTRIBUTE_ERROR, error, N));
        layouts[t] = layout;
        values[t] = value;
        errors[t] = error;
    }
    int32_t count;
    CHECK(h, EKO_dataset_threshold_count(h, ds, &count));
    REQUIRE(count == 6); /* to nf 5 and 6 and back to nf 3: 3 segments, 3 matchings */
    for (int32_t e = 0; e < count; e++) {
        double from_mu2, to_mu2;
        int32_t from_nf, to_nf;
        CHECK(h, EKO_dataset_threshold(h, ds, e, &from_mu2, &from_nf, &to_mu2, &to_nf));
        int32_t layout = e % 2 == 0 ? EKO_LAYOUT_FORTRAN : EKO_LAYOUT_C;
        double *value = owned[(*n_owned)++] = new_buffer();
        double *error = owned[(*n_owned)++] = new_buffer();
        fill_operator(value, layout, 50 + e);
        fill_operator(error, layout, 150 + e);
        for (size_t k = 0; k < N; k++) {
            error[k] = 1e-4 * fabs(error[k]);
        }
        CHECK(h, EKO_dataset_add_threshold(h, ds, from_mu2, from_nf, to_mu2, to_nf, layout, value,
                                           N, &id));
        CHECK(h, EKO_dataset_add_attribute_buffer(h, ds, id, EKO_ATTRIBUTE_ERROR, error, N));
    }
    return true;
}

/* A dataset with every partial and threshold element registered, and what it owns. */
typedef struct {
    EKO_Handle *h;
    EKO_Dataset *ds;
    double *owned[64];
    int n_owned;
    int32_t layouts[N_TARGETS];
    double *values[N_TARGETS], *errors[N_TARGETS];
} registered;

static bool registered_setup(registered *r) {
    r->h = EKO_handle_create();
    r->ds = NULL;
    r->n_owned = 0;
    return make_dataset(r->h, &r->ds) &&
           register_all(r->h, r->ds, r->owned, &r->n_owned, r->layouts, r->values, r->errors);
}

static void registered_teardown(registered *r) {
    EKO_dataset_destroy(r->ds);
    EKO_handle_destroy(r->h);
    for (int k = 0; k < r->n_owned; k++) {
        free(r->owned[k]);
    }
}

static bool test_combine_in_place_equals_the_rust_combine(void) {
    registered r;
    EKO_Store *store = NULL, *after = NULL;
    bool ok = registered_setup(&r);
    EKO_Handle *h = r.h;
    EKO_Dataset *ds = r.ds;
    int32_t *layouts = r.layouts;
    double **values = r.values, **errors = r.errors;
    if (ok) {
        const char *before_dir = scratch_path("before");
        const char *after_dir = scratch_path("after");
        ok = false;
        /* The Rust API's answer: the same operators written as a store and combined there. */
        CHECK(h, EKO_dataset_write_store(h, ds, before_dir));
        CHECK(h, EKO_store_combine(h, before_dir, 1));
        /* The host's: in place, on two threads. */
        CHECK(h, EKO_dataset_combine(h, ds, 2));
        CHECK(h, EKO_store_open(h, before_dir, &store));
        for (int t = 0; t < N_TARGETS; t++) {
            EKO_View v, e;
            CHECK(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, TARGET_MU2[t], TARGET_NF[t],
                                    EKO_ATTRIBUTE_VALUE, &v));
            CHECK(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, TARGET_MU2[t], TARGET_NF[t],
                                    EKO_ATTRIBUTE_ERROR, &e));
            REQUIRE(v.shape[0] == NP && v.shape[1] == NX && v.shape[2] == NP && v.shape[3] == NX);
            for (int a = 0; a < NP; a++)
                for (int i = 0; i < NX; i++)
                    for (int b = 0; b < NP; b++)
                        for (int j = 0; j < NX; j++) {
                            size_t k = offset(layouts[t], a, i, b, j);
                            REQUIRE(values[t][k] == at(&v, a, i, b, j));
                            REQUIRE(errors[t][k] == at(&e, a, i, b, j));
                        }
        }
        /* The combined dataset written out holds final operators only, with errors. */
        CHECK(h, EKO_dataset_write_store(h, ds, after_dir));
        CHECK(h, EKO_store_open(h, after_dir, &after));
        int32_t points;
        CHECK(h, EKO_store_point_count(h, after, &points));
        REQUIRE(points == N_TARGETS);
        for (int32_t p = 0; p < points; p++) {
            double mu2;
            int32_t nf, files;
            CHECK(h, EKO_store_point(h, after, p, &mu2, &nf, &files));
            REQUIRE(files == (EKO_FILE_OPERATOR | EKO_FILE_OPERATOR_ERROR));
        }
        ok = true;
    }
    EKO_store_destroy(store);
    EKO_store_destroy(after);
    registered_teardown(&r);
    return ok;
}

static bool test_a_point_declared_empty_is_filled_later(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    double *partial = new_buffer(), *final_op = new_buffer();
    bool ok = make_dataset(h, &ds);
    if (ok) {
        ok = false;
        int32_t id, final_id;
        /* The point exists before its memory does. */
        CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 20.0, 4, EKO_LAYOUT_C, NULL, 0,
                                       &id));
        CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, 20.0, 4, EKO_LAYOUT_FORTRAN,
                                       NULL, N, &final_id));
        EXPECT(h, EKO_dataset_combine(h, ds, 1), EKO_ERROR_UNBOUND, "buffer 0");
        fill_operator(partial, EKO_LAYOUT_C, 3.0);
        CHECK(h, EKO_dataset_bind(h, ds, id, EKO_ATTRIBUTE_VALUE, partial, N));
        EXPECT(h, EKO_dataset_combine(h, ds, 1), EKO_ERROR_UNBOUND, "buffer 1");
        CHECK(h, EKO_dataset_bind(h, ds, final_id, EKO_ATTRIBUTE_VALUE, final_op, N));
        CHECK(h, EKO_dataset_combine(h, ds, 1));
        /* No threshold crossed: the final is the partial, transposed into Fortran order. */
        for (int a = 0; a < NP; a++)
            for (int i = 0; i < NX; i++)
                for (int b = 0; b < NP; b++)
                    for (int j = 0; j < NX; j++) {
                        REQUIRE(final_op[offset(EKO_LAYOUT_FORTRAN, a, i, b, j)] ==
                                partial[offset(EKO_LAYOUT_C, a, i, b, j)]);
                    }
        ok = true;
    }
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    free(partial);
    free(final_op);
    return ok;
}

static bool test_a_store_maps_a_file_for_the_host_to_fill(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    EKO_Store *store = NULL;
    bool ok = make_dataset(h, &ds);
    if (ok) {
        ok = false;
        const char *dir = scratch_path("mapped");
        int32_t id;
        double *data = NULL;
        CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, 50.0, 5, EKO_LAYOUT_C, NULL, 0,
                                       &id));
        CHECK(h, EKO_dataset_attach_store(h, ds, dir));
        CHECK(h, EKO_dataset_map(h, ds, id, EKO_ATTRIBUTE_VALUE, &data));
        REQUIRE(data != NULL);
        fill_operator(data, EKO_LAYOUT_C, 7.0);
        /* Not in the store until committed. */
        CHECK(h, EKO_store_open(h, dir, &store));
        int32_t points;
        CHECK(h, EKO_store_point_count(h, store, &points));
        REQUIRE(points == 0);
        EKO_store_destroy(store);
        store = NULL;
        CHECK(h, EKO_dataset_commit(h, ds, id));
        REQUIRE(data[1] == data[1]); /* still readable */
        /* Reopened mapped: the view is the file, no copy. */
        CHECK(h, EKO_store_open(h, dir, &store));
        EKO_View v;
        CHECK(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, 50.0, 5, EKO_ATTRIBUTE_VALUE, &v));
        REQUIRE(v.layout == EKO_LAYOUT_C);
        REQUIRE(memcmp(v.data, data, sizeof(double) * N) == 0);
        ok = true;
    }
    EKO_store_destroy(store);
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    return ok;
}

static bool test_stores_split_merge_combine_and_clean(void) {
    registered r;
    EKO_Store *store = NULL;
    bool ok = registered_setup(&r);
    EKO_Handle *h = r.h;
    EKO_Dataset *ds = r.ds;
    if (ok) {
        ok = false;
        const char *whole = scratch_path("whole");
        const char *low = scratch_path("low"), *high = scratch_path("high");
        const char *merged = scratch_path("merged");
        CHECK(h, EKO_dataset_write_store(h, ds, whole));
        const char *parts[2] = {low, high};
        const double boundary[1] = {50.0};
        CHECK(h, EKO_store_split(h, whole, parts, 2, boundary, EKO_TRANSFER_COPY));
        CHECK(h, EKO_store_merge(h, merged, parts, 2, EKO_ON_CONFLICT_ERROR, EKO_TRANSFER_LINK));
        EXPECT(h, EKO_store_clean(h, merged, 0), EKO_ERROR_PARTIALS_REMAIN, "partial");
        CHECK(h, EKO_store_combine(h, merged, 0));
        CHECK(h, EKO_store_clean(h, merged, 0));
        /* A temporary file its writer left when it died: recovery removes it. */
        char dead[4300];
        snprintf(dead, sizeof dead, "%s/.eko-tmp.10_nf4.npy.999999.0", merged);
        FILE *f = fopen(dead, "wb");
        REQUIRE(f != NULL && fputs("torn", f) >= 0 && fclose(f) == 0);
        CHECK(h, EKO_store_recover(h, merged));
        REQUIRE(access(dead, F_OK) != 0);
        CHECK(h, EKO_store_open(h, merged, &store));
        int32_t points;
        CHECK(h, EKO_store_point_count(h, store, &points));
        REQUIRE(points == N_TARGETS);
        EKO_View v;
        EXPECT(h, EKO_store_threshold_view(h, store, ORIGIN_MU2, 4, BOTTOM, 4,
                                           EKO_ATTRIBUTE_VALUE, &v),
               EKO_ERROR_NOT_FOUND, "thresholds.npz");
        ok = true;
    }
    EKO_store_destroy(store);
    registered_teardown(&r);
    return ok;
}

/* Evolving PDFs with each final operator of a combined store equals the sum written out by
 * hand over a view of the same file; bad arguments are refused and leave `out` untouched. */
static bool test_apply_evolves_pdfs_with_each_final_operator(void) {
    registered r;
    EKO_Store *store = NULL;
    enum { REP = 3, PDF = REP * NP * NX };
    static double pdf[PDF], out[PDF];
    bool ok = registered_setup(&r);
    EKO_Handle *h = r.h;
    EKO_Dataset *ds = r.ds;
    if (ok) {
        ok = false;
        const char *dir = scratch_path("apply");
        CHECK(h, EKO_dataset_write_store(h, ds, dir));
        CHECK(h, EKO_store_open(h, dir, &store));
        EXPECT(h, EKO_store_apply(h, store, TARGET_MU2[1], TARGET_NF[1], pdf, out, REP, PDF, 1),
               EKO_ERROR_NOT_FOUND, "combine first");
        EKO_store_destroy(store);
        store = NULL;
        CHECK(h, EKO_store_combine(h, dir, 0));
        CHECK(h, EKO_store_open(h, dir, &store));
        for (int k = 0; k < PDF; k++) {
            pdf[k] = 0.5 + sin(0.37 * k);
        }
        for (int t = 0; t < N_TARGETS; t++) {
            for (int32_t threads = 1; threads <= 2; threads++) {
                CHECK(h, EKO_store_apply(h, store, TARGET_MU2[t], TARGET_NF[t], pdf, out, REP, PDF,
                                         threads));
                EKO_View v;
                CHECK(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, TARGET_MU2[t], TARGET_NF[t],
                                        EKO_ATTRIBUTE_VALUE, &v));
                for (int rep = 0; rep < REP; rep++)
                    for (int a = 0; a < NP; a++)
                        for (int i = 0; i < NX; i++) {
                            double want = 0.0;
                            for (int b = 0; b < NP; b++)
                                for (int j = 0; j < NX; j++)
                                    want += at(&v, a, i, b, j) * pdf[(rep * NP + b) * NX + j];
                            double got = out[(rep * NP + a) * NX + i];
                            REQUIRE(fabs(got - want) <= 1e-13 * (1.0 + fabs(want)));
                        }
            }
        }
        for (int k = 0; k < PDF; k++) {
            out[k] = -7.0;
        }
        EXPECT(h, EKO_store_apply(h, store, 10.0, 4, pdf, out, REP, PDF - 1, 0),
               EKO_ERROR_BAD_SHAPE, "replica(s) of 14 pids x 8 x values");
        EXPECT(h, EKO_store_apply(h, store, 10.0, 4, pdf, pdf + 5, 1, NP * NX, 0),
               EKO_ERROR_OVERLAPPING, "overlap");
        EXPECT(h, EKO_store_apply(h, store, 10.0, 4, NULL, out, REP, PDF, 0),
               EKO_ERROR_NULL_ARGUMENT, "pdf");
        EXPECT(h, EKO_store_apply(h, store, 10.0, 4, pdf, out, 0, PDF, 0),
               EKO_ERROR_INVALID_ARGUMENT, "n_rep");
        EXPECT(h, EKO_store_apply(h, store, 11.0, 4, pdf, out, REP, PDF, 0), EKO_ERROR_NOT_FOUND,
               "no final operator");
        EXPECT(h, EKO_store_apply(h, NULL, 10.0, 4, pdf, out, REP, PDF, 0),
               EKO_ERROR_NULL_ARGUMENT, "store");
        for (int k = 0; k < PDF; k++) {
            REQUIRE(out[k] == -7.0);
        }
        ok = true;
    }
    EKO_store_destroy(store);
    registered_teardown(&r);
    return ok;
}

int main(int argc, char **argv) {
    const test_case tests[] = {
        {"combine_in_place_equals_the_rust_combine", test_combine_in_place_equals_the_rust_combine},
        {"a_point_declared_empty_is_filled_later", test_a_point_declared_empty_is_filled_later},
        {"a_store_maps_a_file_for_the_host_to_fill", test_a_store_maps_a_file_for_the_host_to_fill},
        {"stores_split_merge_combine_and_clean", test_stores_split_merge_combine_and_clean},
        {"apply_evolves_pdfs_with_each_final_operator",
         test_apply_evolves_pdfs_with_each_final_operator},
    };
    return run_tests(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
