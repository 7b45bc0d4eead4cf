/* EKO_store_verify: the C side of `eko verify`, on a store written from C and after a flipped
 * byte. EKO_store_export: the C side of `eko export`. A store written from C records no theory or
 * operator card, so its export is refused naming the card; bad arguments are named; nothing
 * appears at the destination. (Exports eko reads back are tested in tests/export.rs.) */
#include "common.h"

#include <unistd.h>

static bool test_export_refusals_leave_nothing(void) {
    EKO_Handle *h = EKO_handle_create();
    const double mu2[2] = {10.0, 100.0};
    const int32_t nf[2] = {4, 4};
    const int32_t layout[2] = {EKO_LAYOUT_C, EKO_LAYOUT_FORTRAN};
    const char *store = scratch_path("export-store");
    const char *out = scratch_path("export.tar");
    bool ok = write_points(h, store, 2, mu2, nf, layout);
    if (ok) {
        ok = false;
        EXPECT(h, EKO_store_export(h, store, out, 0, EKO_COMPRESSION_LZ4), EKO_ERROR_INVALID_STORE,
               "no theory card");
        EXPECT(h, EKO_store_export(h, store, out, 0, 7), EKO_ERROR_INVALID_ARGUMENT,
               "EKO_COMPRESSION_LZ4");
        EXPECT(h, EKO_store_export(h, NULL, out, 0, EKO_COMPRESSION_NONE), EKO_ERROR_NULL_ARGUMENT,
               "dir");
        EXPECT(h, EKO_store_export(h, store, NULL, 1, EKO_COMPRESSION_NONE),
               EKO_ERROR_NULL_ARGUMENT, "out_path");
        char inside[4300];
        snprintf(inside, sizeof inside, "%s/x.tar", store);
        EXPECT(h, EKO_store_export(h, store, inside, 0, EKO_COMPRESSION_LZ4),
               EKO_ERROR_INVALID_ARGUMENT, "inside the store");
        EXPECT(h, EKO_store_export(h, scratch_path("nowhere"), out, 0, EKO_COMPRESSION_LZ4),
               EKO_ERROR_NOT_A_STORE, "not a libeko store");
        REQUIRE(access(out, F_OK) != 0);
        REQUIRE(access(inside, F_OK) != 0);
        ok = true;
    }
    EKO_handle_destroy(h);
    return ok;
}

static bool test_verify_counts_and_names_damage(void) {
    EKO_Handle *h = EKO_handle_create();
    const double mu2[2] = {10.0, 100.0};
    const int32_t nf[2] = {4, 4};
    const int32_t layout[2] = {EKO_LAYOUT_C, EKO_LAYOUT_FORTRAN};
    const char *store = scratch_path("verify-store");
    int32_t damaged = -1, without = -1;
    bool ok = write_points(h, store, 2, mu2, nf, layout);
    if (ok) {
        ok = false;
        REQUIRE(EKO_store_verify(h, store, &damaged, &without) == EKO_OK);
        REQUIRE(damaged == 0 && without == 0);
        /* Flip one byte of the last element of 100_nf4.npy's data. */
        char file[4300];
        snprintf(file, sizeof file, "%s/100_nf4.npy", store);
        FILE *f = fopen(file, "r+b");
        REQUIRE(f != NULL);
        REQUIRE(fseek(f, -3, SEEK_END) == 0);
        int c = fgetc(f);
        REQUIRE(c != EOF);
        REQUIRE(fseek(f, -3, SEEK_END) == 0);
        REQUIRE(fputc(c ^ 0x20, f) != EOF);
        REQUIRE(fclose(f) == 0);
        EXPECT(h, EKO_store_verify(h, store, &damaged, &without), EKO_ERROR_MALFORMED_FILE,
               "100_nf4.npy");
        REQUIRE(damaged == 1 && without == 0);
        EXPECT(h, EKO_store_verify(h, store, NULL, &without), EKO_ERROR_NULL_ARGUMENT,
               "n_damaged");
        EXPECT(h, EKO_store_verify(h, NULL, &damaged, &without), EKO_ERROR_NULL_ARGUMENT, "dir");
        ok = true;
    }
    EKO_handle_destroy(h);
    return ok;
}

int main(int argc, char **argv) {
    const test_case tests[] = {
        {"export_refusals_leave_nothing", test_export_refusals_leave_nothing},
        {"verify_counts_and_names_damage", test_verify_counts_and_names_damage},
    };
    return run_tests(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
