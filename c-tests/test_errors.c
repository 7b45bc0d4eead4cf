/* The malformed-input matrix of the C ABI: every case gets its status code and a message that
 * names the problem, never a crash (this program runs under ASan + UBSan and valgrind), and a
 * failed call changes nothing. */
#include "common.h"

#include <sys/stat.h>
#include <unistd.h>

static bool test_a_null_handle_is_refused_everywhere(void) {
    EKO_Dataset *ds = NULL;
    EKO_Store *store = NULL;
    int32_t pids[1] = {21};
    double x[1] = {1.0};
    REQUIRE(EKO_dataset_create(NULL, 1, pids, 1, x, 2.0, 4, &ds) == EKO_ERROR_NULL_ARGUMENT);
    REQUIRE(ds == NULL);
    REQUIRE(EKO_dataset_combine(NULL, NULL, 1) == EKO_ERROR_NULL_ARGUMENT);
    REQUIRE(EKO_store_open(NULL, scratch, &store) == EKO_ERROR_NULL_ARGUMENT);
    REQUIRE(store == NULL);
    REQUIRE(EKO_store_combine(NULL, scratch, 1) == EKO_ERROR_NULL_ARGUMENT);
    REQUIRE(EKO_store_recover(NULL, scratch) == EKO_ERROR_NULL_ARGUMENT);
    REQUIRE(EKO_handle_status(NULL) == EKO_ERROR_NULL_ARGUMENT);
    REQUIRE(EKO_handle_message(NULL) != NULL);
    /* Destroying NULL does nothing. */
    EKO_handle_destroy(NULL);
    EKO_dataset_destroy(NULL);
    EKO_store_destroy(NULL);
    return true;
}

static bool test_null_objects_and_arguments_are_named(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    double *buf = new_buffer();
    int32_t id = -1;
    double xgrid[2] = {0.5, 1.0};
    EXPECT(h, EKO_dataset_create(h, NP, NULL, 2, xgrid, 2.0, 4, &ds), EKO_ERROR_NULL_ARGUMENT,
           "pids is NULL");
    EXPECT(h, EKO_dataset_create(h, NP, PIDS, 2, xgrid, 2.0, 4, NULL), EKO_ERROR_NULL_ARGUMENT,
           "dataset is NULL");
    EXPECT(h, EKO_store_recover(h, NULL), EKO_ERROR_NULL_ARGUMENT, "dir is NULL");
    EXPECT(h, EKO_dataset_add_buffer(h, NULL, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, buf, N, &id),
           EKO_ERROR_NULL_ARGUMENT, "dataset is NULL");
    EXPECT(h, EKO_store_view(h, NULL, EKO_KIND_OPERATOR, 10.0, 4, EKO_ATTRIBUTE_VALUE, NULL),
           EKO_ERROR_NULL_ARGUMENT, "store is NULL");
    EXPECT(h, EKO_store_open(h, NULL, NULL), EKO_ERROR_NULL_ARGUMENT, "is NULL");
    EXPECT(h, EKO_store_merge(h, scratch_path("m"), NULL, 1, EKO_ON_CONFLICT_ERROR,
                              EKO_TRANSFER_LINK),
           EKO_ERROR_NULL_ARGUMENT, "sources is NULL");
    if (!make_dataset(h, &ds)) {
        return false;
    }
    CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, NULL, 0, &id));
    EXPECT(h, EKO_dataset_bind(h, ds, id, EKO_ATTRIBUTE_VALUE, NULL, N), EKO_ERROR_NULL_ARGUMENT,
           "is NULL");
    EXPECT(h, EKO_dataset_write_store(h, ds, NULL), EKO_ERROR_NULL_ARGUMENT, "dir is NULL");
    EXPECT(h, EKO_dataset_threshold_count(h, ds, NULL), EKO_ERROR_NULL_ARGUMENT, "count is NULL");
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    free(buf);
    return true;
}

static bool test_unknown_enum_values_and_bad_counts(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    double *buf = new_buffer();
    int32_t id = -1;
    double xgrid[2] = {0.5, 1.0};
    EXPECT(h, EKO_dataset_create(h, 0, PIDS, 2, xgrid, 2.0, 4, &ds), EKO_ERROR_INVALID_ARGUMENT,
           "n_pid is 0");
    EXPECT(h, EKO_dataset_create(h, NP, PIDS, -3, xgrid, 2.0, 4, &ds), EKO_ERROR_INVALID_ARGUMENT,
           "n_x is -3");
    EXPECT(h, EKO_dataset_create(h, NP, PIDS, 2, xgrid, -1.0, 4, &ds), EKO_ERROR_INVALID_ARGUMENT,
           "mu2 is not positive");
    double unsorted[2] = {1.0, 0.5};
    EXPECT(h, EKO_dataset_create(h, NP, PIDS, 2, unsorted, 2.0, 4, &ds),
           EKO_ERROR_INVALID_ARGUMENT, "xgrid is not strictly increasing");
    REQUIRE(ds == NULL);
    if (!make_dataset(h, &ds)) {
        return false;
    }
    EXPECT(h, EKO_dataset_add_buffer(h, ds, 0, 10.0, 4, EKO_LAYOUT_C, buf, N, &id),
           EKO_ERROR_INVALID_ARGUMENT, "kind 0");
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, 3, buf, N, &id),
           EKO_ERROR_INVALID_ARGUMENT, "layout 3");
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 9, EKO_LAYOUT_C, buf, N, &id),
           EKO_ERROR_INVALID_ARGUMENT, "nf is larger than 6");
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, NAN, 4, EKO_LAYOUT_C, buf, N, &id),
           EKO_ERROR_INVALID_ARGUMENT, "not a finite number");
    REQUIRE(id == -1);
    CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, buf, N, &id));
    REQUIRE(id == 0); /* the failed calls added nothing */
    EXPECT(h, EKO_dataset_bind(h, ds, id, 3, buf, N), EKO_ERROR_INVALID_ARGUMENT, "attribute 3");
    EXPECT(h, EKO_dataset_bind(h, ds, 7, EKO_ATTRIBUTE_VALUE, buf, N), EKO_ERROR_INVALID_ARGUMENT,
           "buffer id 7");
    EXPECT(h, EKO_dataset_bind(h, ds, -1, EKO_ATTRIBUTE_VALUE, buf, N),
           EKO_ERROR_INVALID_ARGUMENT, "buffer id -1");
    EXPECT(h, EKO_dataset_set_matching(h, ds, 7, 10.0), EKO_ERROR_INVALID_ARGUMENT,
           "before any buffer");
    EXPECT(h, EKO_dataset_combine(h, ds, -1), EKO_ERROR_INVALID_ARGUMENT, "threads is -1");
    const char *sources[1] = {scratch};
    EXPECT(h, EKO_store_merge(h, scratch_path("m"), sources, 0, EKO_ON_CONFLICT_ERROR,
                              EKO_TRANSFER_LINK),
           EKO_ERROR_INVALID_ARGUMENT, "n_sources is 0");
    EXPECT(h, EKO_store_merge(h, scratch_path("m"), sources, 1, 9, EKO_TRANSFER_LINK),
           EKO_ERROR_INVALID_ARGUMENT, "on_conflict 9");
    EXPECT(h, EKO_store_merge(h, scratch_path("m"), sources, 1, EKO_ON_CONFLICT_ERROR, 0),
           EKO_ERROR_INVALID_ARGUMENT, "transfer 0");
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    free(buf);
    return true;
}

static bool test_memory_is_checked_for_length_alignment_and_overlap(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    double *block = malloc(sizeof(double) * (3 * N + 1));
    int32_t id = -1;
    if (block == NULL || !make_dataset(h, &ds)) {
        return false;
    }
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, block, N - 1,
                                    &id),
           EKO_ERROR_BAD_SHAPE, "the grid needs 12544");
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, NULL, 5, &id),
           EKO_ERROR_BAD_SHAPE, "declared with 5 elements");
    /* Lengths no buffer can have: negative, or more bytes than the address space. */
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, block, -5,
                                    &id),
           EKO_ERROR_INVALID_ARGUMENT, "n_elements -5 is not a length");
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, block,
                                    INT64_MAX / 4, &id),
           EKO_ERROR_INVALID_ARGUMENT, "more bytes than the address space");
    double *misaligned = (double *)(void *)((char *)block + 4);
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, misaligned, N,
                                    &id),
           EKO_ERROR_MISALIGNED, "not aligned for double");
    CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_C, block, N, &id));
    /* An error attribute or another buffer overlapping registered memory: the input and output
     * of the in-place step would alias. */
    EXPECT(h, EKO_dataset_add_attribute_buffer(h, ds, id, EKO_ATTRIBUTE_ERROR, block + N / 2, N),
           EKO_ERROR_OVERLAPPING, "overlaps buffer 0");
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, 10.0, 4, EKO_LAYOUT_C,
                                    block + N - 1, N, &id),
           EKO_ERROR_OVERLAPPING, "overlaps buffer 0");
    CHECK(h, EKO_dataset_add_attribute_buffer(h, ds, 0, EKO_ATTRIBUTE_ERROR, block + N, N));
    /* Duplicates: a point's kind, an error attribute, a threshold element. */
    EXPECT(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 10.0, 4, EKO_LAYOUT_FORTRAN, NULL, 0,
                                    &id),
           EKO_ERROR_DUPLICATE, "already has the partial");
    EXPECT(h, EKO_dataset_add_attribute_buffer(h, ds, 0, EKO_ATTRIBUTE_ERROR, NULL, 0),
           EKO_ERROR_DUPLICATE, "was already added");
    EXPECT(h, EKO_dataset_add_attribute_buffer(h, ds, 0, EKO_ATTRIBUTE_VALUE, NULL, 0),
           EKO_ERROR_DUPLICATE, "was added with the buffer by EKO_dataset_add_buffer");
    EXPECT(h, EKO_dataset_add_attribute_buffer(h, ds, 0, 7, NULL, 0), EKO_ERROR_INVALID_ARGUMENT,
           "attribute 7 is neither");
    CHECK(h, EKO_dataset_add_threshold(h, ds, ORIGIN_MU2, 4, BOTTOM, 4, EKO_LAYOUT_C, NULL, 0,
                                       &id));
    EXPECT(h, EKO_dataset_add_threshold(h, ds, ORIGIN_MU2, 4, BOTTOM, 4, EKO_LAYOUT_C, NULL, 0,
                                        &id),
           EKO_ERROR_DUPLICATE, "already has the threshold operator");
    /* Binding: bound memory cannot be bound again. */
    EXPECT(h, EKO_dataset_bind(h, ds, 0, EKO_ATTRIBUTE_VALUE, block + 2 * N, N),
           EKO_ERROR_ALREADY_BOUND, "already has memory");
    EXPECT(h, EKO_dataset_bind(h, ds, id, EKO_ATTRIBUTE_ERROR, block + 2 * N, N),
           EKO_ERROR_NOT_FOUND, "no error attribute");
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    free(block);
    return true;
}

static bool test_steps_needing_missing_things_fail_with_their_code(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    double *partial = new_buffer(), *final_op = new_buffer(), *before = new_buffer();
    int32_t id = -1, final_id = -1, t = -1;
    if (!make_dataset(h, &ds)) {
        return false;
    }
    fill_operator(partial, EKO_LAYOUT_C, 1.0);
    memcpy(before, partial, sizeof(double) * N);
    CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, 100.0, 5, EKO_LAYOUT_C, partial, N,
                                   &id));
    EXPECT(h, EKO_dataset_combine(h, ds, 1), EKO_ERROR_MISSING_THRESHOLD,
           "no buffer for the threshold element");
    /* Declared threshold elements without memory. */
    CHECK(h, EKO_dataset_add_threshold(h, ds, ORIGIN_MU2, 4, BOTTOM, 4, EKO_LAYOUT_C, NULL, 0,
                                       &t));
    CHECK(h, EKO_dataset_add_threshold(h, ds, BOTTOM, 4, BOTTOM, 5, EKO_LAYOUT_C, NULL, 0, &t));
    EXPECT(h, EKO_dataset_combine(h, ds, 1), EKO_ERROR_UNBOUND, "not bound");
    EXPECT(h, EKO_dataset_write_store(h, ds, scratch_path("never")), EKO_ERROR_UNBOUND,
           "not bound");
    struct stat st;
    REQUIRE(stat(scratch_path("never"), &st) != 0); /* nothing written */
    EXPECT(h, EKO_dataset_commit(h, ds, id), EKO_ERROR_INVALID_ARGUMENT, "not a store file");
    /* A final buffer asking for an error nobody can compute. */
    CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, 100.0, 5, EKO_LAYOUT_C, final_op, N,
                                   &final_id));
    double *fe = new_buffer();
    CHECK(h, EKO_dataset_add_attribute_buffer(h, ds, final_id, EKO_ATTRIBUTE_ERROR, fe, N));
    double *t0 = new_buffer(), *t1 = new_buffer();
    fill_operator(t0, EKO_LAYOUT_C, 2.0);
    fill_operator(t1, EKO_LAYOUT_C, 3.0);
    CHECK(h, EKO_dataset_bind(h, ds, t - 1, EKO_ATTRIBUTE_VALUE, t0, N));
    CHECK(h, EKO_dataset_bind(h, ds, t, EKO_ATTRIBUTE_VALUE, t1, N));
    EXPECT(h, EKO_dataset_combine(h, ds, 1), EKO_ERROR_MISSING_ERROR, "cannot be computed");
    REQUIRE(memcmp(partial, before, sizeof(double) * N) == 0); /* failed combines wrote nothing */
    /* No path: nf 6 without a top matching scale. */
    EKO_Dataset *no_top = NULL;
    double xgrid[NX];
    for (int i = 0; i < NX; i++) {
        xgrid[i] = (i + 1.0) / NX;
    }
    CHECK(h, EKO_dataset_create(h, NP, PIDS, NX, xgrid, ORIGIN_MU2, 4, &no_top));
    CHECK(h, EKO_dataset_add_buffer(h, no_top, EKO_KIND_PARTIAL, 1e5, 6, EKO_LAYOUT_C, NULL, 0,
                                   &id));
    int32_t count = -1;
    EXPECT(h, EKO_dataset_threshold_count(h, no_top, &count), EKO_ERROR_NO_PATH,
           "no bottom matching scale");
    REQUIRE(count == -1);
    EXPECT(h, EKO_dataset_map(h, no_top, id, EKO_ATTRIBUTE_VALUE, &fe), EKO_ERROR_NOT_FOUND,
           "not attached to a store");
    EKO_dataset_destroy(no_top);
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    free(partial);
    free(final_op);
    free(before);
    free(fe);
    free(t0);
    free(t1);
    return true;
}

/* A grid whose operator is larger than the address space (46341^4 doubles: the element count
 * fits in 64 bits, the bytes do not) is refused when the dataset is made. */
static bool test_a_grid_larger_than_memory_is_refused(void) {
    enum { M = 46341 };
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    int32_t *pids = malloc(sizeof(int32_t) * M);
    double *xgrid = malloc(sizeof(double) * M);
    REQUIRE(pids != NULL && xgrid != NULL);
    for (int i = 0; i < M; i++) {
        pids[i] = 1000 + i;
        xgrid[i] = (double)(i + 1) / M;
    }
    EXPECT(h, EKO_dataset_create(h, M, pids, M, xgrid, 2.0, 4, &ds), EKO_ERROR_INVALID_ARGUMENT,
           "larger than the address space");
    REQUIRE(ds == NULL);
    free(pids);
    free(xgrid);
    EKO_handle_destroy(h);
    return true;
}

static bool test_errors_are_cleared_by_the_next_call(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Dataset *ds = NULL;
    double xgrid[1] = {1.0};
    EXPECT(h, EKO_dataset_create(h, -1, PIDS, 1, xgrid, 2.0, 4, &ds), EKO_ERROR_INVALID_ARGUMENT,
           "n_pid is -1");
    /* The message is the handle's until its next call: calls without the handle keep it. */
    const char *message = EKO_handle_message(h);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", message);
    (void)EKO_status_name(EKO_ERROR_IO);
    (void)EKO_version();
    REQUIRE(strcmp(EKO_handle_message(h), copy) == 0);
    REQUIRE(EKO_handle_status(h) == EKO_ERROR_INVALID_ARGUMENT);
    /* The next call clears it. */
    CHECK(h, EKO_dataset_create(h, 1, PIDS, 1, xgrid, 2.0, 4, &ds));
    REQUIRE(EKO_handle_status(h) == EKO_OK);
    REQUIRE(strcmp(EKO_handle_message(h), "") == 0);
    /* A second failure replaces the first. */
    EXPECT(h, EKO_dataset_combine(h, ds, -2), EKO_ERROR_INVALID_ARGUMENT, "threads is -2");
    REQUIRE(strstr(EKO_handle_message(h), "n_pid") == NULL);
    REQUIRE(strcmp(EKO_status_name(12345), "EKO_ERROR_UNKNOWN") == 0);
    REQUIRE(strcmp(EKO_status_name(EKO_ERROR_OVERLAPPING), "EKO_ERROR_OVERLAPPING") == 0);
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    return true;
}

/* What a host does at start-up: refuse a library built for another ABI. */
static bool abi_matches(int32_t header_abi) {
    return EKO_abi_version() == header_abi;
}

static bool test_a_version_mismatch_is_detectable(void) {
    REQUIRE(abi_matches(EKO_ABI_VERSION));
    REQUIRE(!abi_matches(EKO_ABI_VERSION + 1));
    return true;
}

static bool write_file(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return false;
    }
    bool ok = fwrite(bytes, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static bool test_malformed_stores_and_files(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_Dataset *ds = NULL;
    double *op = new_buffer();
    int32_t id;
    EXPECT(h, EKO_store_open(h, scratch_path("missing"), &store), EKO_ERROR_NOT_A_STORE,
           "not a libeko store");
    EXPECT(h, EKO_store_open(h, scratch, &store), EKO_ERROR_NOT_A_STORE, "no metadata.json");
    const char *garbage = scratch_path("garbage");
    REQUIRE(mkdir(garbage, 0755) == 0);
    char meta[4300];
    snprintf(meta, sizeof meta, "%s/metadata.json", garbage);
    REQUIRE(write_file(meta, "{\"format\": 1", 12));
    EXPECT(h, EKO_store_open(h, garbage, &store), EKO_ERROR_INVALID_STORE, "metadata");
    REQUIRE(store == NULL);
    /* A store whose operator file is truncated: opening works (names only), viewing does not. */
    const char *dir = scratch_path("truncated");
    if (!make_dataset(h, &ds)) {
        return false;
    }
    fill_operator(op, EKO_LAYOUT_C, 0.5);
    CHECK(h, EKO_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, 10.0, 4, EKO_LAYOUT_C, op, N, &id));
    CHECK(h, EKO_dataset_write_store(h, ds, dir));
    char file[4300];
    snprintf(file, sizeof file, "%s/10_nf4.npy", dir);
    REQUIRE(truncate(file, 200) == 0);
    CHECK(h, EKO_store_open(h, dir, &store));
    EKO_View v = {0};
    EXPECT(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, 10.0, 4, EKO_ATTRIBUTE_VALUE, &v),
           EKO_ERROR_MALFORMED_FILE, "10_nf4.npy");
    REQUIRE(v.data == NULL); /* out-parameter untouched */
    EXPECT(h, EKO_store_view(h, store, EKO_KIND_PARTIAL, 10.0, 4, EKO_ATTRIBUTE_VALUE, &v),
           EKO_ERROR_NOT_FOUND, "no partial");
    int32_t pids[3];
    EXPECT(h, EKO_store_pids(h, store, pids, 3), EKO_ERROR_BAD_SHAPE, "the store has 14");
    EKO_store_destroy(store);
    /* Garbage bytes where an operator should be. */
    REQUIRE(write_file(file, "\x93NUMPY\x01\x00\xff\xff{'descr'", 18));
    CHECK(h, EKO_store_open(h, dir, &store));
    EXPECT(h, EKO_store_view(h, store, EKO_KIND_OPERATOR, 10.0, 4, EKO_ATTRIBUTE_VALUE, &v),
           EKO_ERROR_MALFORMED_FILE, "10_nf4.npy");
    EKO_store_destroy(store);
    /* Another grid's store: incompatible. */
    EKO_Dataset *other = NULL;
    double xgrid[2] = {0.5, 1.0};
    CHECK(h, EKO_dataset_create(h, NP, PIDS, 2, xgrid, ORIGIN_MU2, 4, &other));
    EXPECT(h, EKO_dataset_write_store(h, other, dir), EKO_ERROR_INCOMPATIBLE, "xgrid");
    EXPECT(h, EKO_dataset_attach_store(h, other, dir), EKO_ERROR_INCOMPATIBLE, "xgrid");
    EKO_dataset_destroy(other);
    EKO_dataset_destroy(ds);
    EKO_handle_destroy(h);
    free(op);
    return true;
}

int main(int argc, char **argv) {
    const test_case tests[] = {
        {"a_null_handle_is_refused_everywhere", test_a_null_handle_is_refused_everywhere},
        {"null_objects_and_arguments_are_named", test_null_objects_and_arguments_are_named},
        {"unknown_enum_values_and_bad_counts", test_unknown_enum_values_and_bad_counts},
        {"memory_is_checked_for_length_alignment_and_overlap",
         test_memory_is_checked_for_length_alignment_and_overlap},
        {"steps_needing_missing_things_fail_with_their_code",
         test_steps_needing_missing_things_fail_with_their_code},
        {"a_grid_larger_than_memory_is_refused", test_a_grid_larger_than_memory_is_refused},
        {"errors_are_cleared_by_the_next_call", test_errors_are_cleared_by_the_next_call},
        {"a_version_mismatch_is_detectable", test_a_version_mismatch_is_detectable},
        {"malformed_stores_and_files", test_malformed_stores_and_files},
    };
    return run_tests(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
