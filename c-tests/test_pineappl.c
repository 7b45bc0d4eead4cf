/* From a store to an FK table through pineappl's real C API (pineappl_capi 1.3.3, built by
 * scripts/c-tests from c-tests/pineappl-capi; its header generated there with cbindgen): a small
 * DIS-like grid (one PDF convolution, two orders, three bins, two channels) whose subgrids sit on
 * the store's scales and x grid is evolved with pineappl_grid_evolve and libeko's callback
 * EKO_pineappl_operator, and again with a reference callback of this file that reads the store's
 * .npy files itself (a tiny reader, independent of libeko). Both FK tables, convolved with a toy
 * PDF through pineappl, agree bit for bit; the state reports no error and one slice served per
 * scale. The input side rotated to the evolution basis (PINEAPPL_PID_BASIS_EVOL) gives the same
 * predictions to rounding; a scale the slices lack leaves NaN and is reported. */
#include "common.h"

#include "pineappl_capi.h"

#include <stdint.h>

enum { NPOINT = 3, NBIN = 3, NORDER = 2, NCHANNEL = 2 };
/* The store's final operators, and their file names (the store's format: {mu2}_nf{nf}.npy). The
 * point at 50 is in Fortran order. */
static const double MU2S[NPOINT] = {10.0, 50.0, 100.0};
static const int32_t NFS[NPOINT] = {4, 5, 5};
static const int32_t LAYOUTS[NPOINT] = {EKO_LAYOUT_C, EKO_LAYOUT_FORTRAN, EKO_LAYOUT_C};
static const char *const FILES[NPOINT] = {"10_nf4.npy", "50_nf5.npy", "100_nf5.npy"};

/* ---- A .npy reader of this test's own: little-endian float64, C or Fortran order. ---- */

/* Reads the rank-4 array in `path`, which must have `shape`, into `out` in C order. */
static bool read_npy(const char *path, const size_t shape[4], double *out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "read_npy: cannot open %s\n", path);
        return false;
    }
    unsigned char *bytes = NULL;
    bool ok = false;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 12 && fseek(f, 0, SEEK_SET) == 0 &&
        (bytes = malloc((size_t)size)) != NULL &&
        fread(bytes, 1, (size_t)size, f) == (size_t)size && memcmp(bytes, "\x93NUMPY", 6) == 0) {
        const unsigned major = bytes[6];
        const size_t start = major == 1 ? 10 : 12;
        size_t header_len = (size_t)bytes[8] | (size_t)bytes[9] << 8;
        if (major != 1) {
            header_len |= (size_t)bytes[10] << 16 | (size_t)bytes[11] << 24;
        }
        const size_t data = start + header_len;
        const size_t n = shape[0] * shape[1] * shape[2] * shape[3];
        char *header = malloc(header_len + 1);
        if (header != NULL && data + n * sizeof(double) <= (size_t)size) {
            memcpy(header, bytes + start, header_len);
            header[header_len] = '\0';
            const bool f8 = strstr(header, "'descr': '<f8'") != NULL;
            const bool fortran = strstr(header, "'fortran_order': True") != NULL;
            const char *s = strstr(header, "'shape': (");
            size_t found[4] = {0, 0, 0, 0};
            if (s != NULL) {
                s += strlen("'shape': (");
                for (int k = 0; k < 4; k++) {
                    char *end;
                    found[k] = strtoul(s, &end, 10);
                    s = end + strspn(end, ", ");
                }
            }
            ok = f8 && memcmp(found, shape, sizeof found) == 0;
            for (size_t a = 0; ok && a < shape[0]; a++)
                for (size_t i = 0; i < shape[1]; i++)
                    for (size_t b = 0; b < shape[2]; b++)
                        for (size_t j = 0; j < shape[3]; j++) {
                            size_t c = ((a * shape[1] + i) * shape[2] + b) * shape[3] + j;
                            size_t src = fortran
                                             ? a + shape[0] * (i + shape[1] * (b + shape[2] * j))
                                             : c;
                            memcpy(&out[c], bytes + data + src * sizeof(double), sizeof(double));
                        }
            if (!ok) {
                fprintf(stderr, "read_npy: %s: unexpected header %s\n", path, header);
            }
        }
        free(header);
    }
    free(bytes);
    fclose(f);
    return ok;
}

/* The reference callback: the operator at fac1 read from the store's file into pineappl's
 * buffer (no check of pids or x beyond the shape: the file is the store's grid). */
typedef struct {
    const char *dir;
    int served;
    bool failed;
} reference_state;

static void reference_operator(size_t op_index, double fac1, const int32_t *pids_in,
                               const double *x_in, const int32_t *pids_out, const double *x_out,
                               const size_t *shape, double *buffer, void *state) {
    reference_state *r = state;
    (void)pids_in, (void)x_in, (void)pids_out, (void)x_out;
    for (int k = 0; k < NPOINT; k++) {
        if (MU2S[k] == fac1 && op_index == 0) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", r->dir, FILES[k]);
            if (read_npy(path, shape, buffer)) {
                r->served++;
                return;
            }
        }
    }
    fprintf(stderr, "reference_operator: no operator for op_index %zu, fac1 = %g\n", op_index,
            fac1);
    r->failed = true;
}

/* ---- A toy PDF and alpha_s for pineappl's convolutions. ---- */

static double xfx(int32_t pid, double x, double q2, void *state) {
    (void)q2, (void)state;
    double valence = (pid == 1 || pid == 2) ? 2.0 * pow(x, 0.5) * pow(1.0 - x, 3.0) : 0.0;
    double sea = 0.2 * pow(x, -0.1) * pow(1.0 - x, 7.0) * (1.0 + 0.03 * pid);
    return x * (valence + sea);
}

static double alphas(double q2, void *state) {
    (void)state;
    return 0.118 / (1.0 + 0.08 * log(q2 / 8315.0));
}

/* The grid: PDG basis, channels (4/9 u + 4/9 ubar + 1/9 d + 1/9 dbar) and (g), orders a_s^0 and
 * a_s^1, subgrids on the scales MU2S and the x grid `xgrid`, deterministic weights. */
static pineappl_grid *make_grid(const double *xgrid) {
    pineappl_channels *channels = pineappl_channels_new(1);
    const int32_t quarks[4] = {2, -2, 1, -1};
    const double charges[4] = {4.0 / 9.0, 4.0 / 9.0, 1.0 / 9.0, 1.0 / 9.0};
    pineappl_channels_add(channels, 4, quarks, charges);
    const int32_t gluon[1] = {21};
    pineappl_channels_add(channels, 1, gluon, NULL);
    const uint8_t orders[5 * NORDER] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    const double bins[NBIN + 1] = {0.0, 1.0, 2.0, 3.0};
    const pineappl_conv convolutions[1] = {{PINEAPPL_CONV_TYPE_UNPOL_PDF, 2212}};
    const pineappl_interp interps[2] = {
        {1e2, 1e8, 40, 3, PINEAPPL_REWEIGHT_METH_NO_REWEIGHT, PINEAPPL_MAP_APPL_GRID_H0,
         PINEAPPL_INTERP_METH_LAGRANGE},
        {2e-7, 1.0, 50, 3, PINEAPPL_REWEIGHT_METH_APPL_GRID_X, PINEAPPL_MAP_APPL_GRID_F2,
         PINEAPPL_INTERP_METH_LAGRANGE},
    };
    pineappl_kinematics kinematics[2];
    memset(kinematics, 0, sizeof kinematics);
    kinematics[0].tag = PINEAPPL_KINEMATICS_SCALE;
    kinematics[0].scale = 0;
    kinematics[1].tag = PINEAPPL_KINEMATICS_X;
    kinematics[1].x = 0;
    pineappl_scale_func_form scales[3];
    memset(scales, 0, sizeof scales);
    scales[0].tag = PINEAPPL_SCALE_FUNC_FORM_SCALE; /* renormalisation: the scale node */
    scales[0].scale = 0;
    scales[1].tag = PINEAPPL_SCALE_FUNC_FORM_SCALE; /* factorisation: the same */
    scales[1].scale = 0;
    scales[2].tag = PINEAPPL_SCALE_FUNC_FORM_NO_SCALE; /* no fragmentation */
    pineappl_grid *grid = pineappl_grid_new2(NBIN, bins, NORDER, orders, channels,
                                             PINEAPPL_PID_BASIS_PDG, convolutions, 2, interps,
                                             kinematics, scales);
    pineappl_channels_delete(channels);
    double nodes[NPOINT + NX], weights[NPOINT * NX];
    size_t subgrid_shape[2] = {NPOINT, NX};
    memcpy(nodes, MU2S, sizeof(double) * NPOINT);
    memcpy(nodes + NPOINT, xgrid, sizeof(double) * NX);
    for (size_t order = 0; order < NORDER; order++)
        for (size_t bin = 0; bin < NBIN; bin++)
            for (size_t channel = 0; channel < NCHANNEL; channel++) {
                for (int k = 0; k < NPOINT * NX; k++) {
                    weights[k] = 1.0 + 0.5 * sin(1.0 + k + 3.0 * order + 5.0 * bin + 7.0 * channel);
                }
                pineappl_grid_set_subgrid(grid, bin, order, channel, nodes, weights,
                                          subgrid_shape);
            }
    return grid;
}

/* What the grid needs (pineappl_grid_evolve_info) and the slices' sides for pineappl. */
typedef struct {
    size_t n_fac1, n_ren1;
    double fac1[NPOINT], ren1[NPOINT], alphas[NPOINT];
    double fac0;
    int32_t basis;
    size_t eko_shape[4];
    int32_t pids_in[NP], pids_out[NP]; /* pineappl's names: in = eko's output side */
    double x_in[NX], x_out[NX];
} evolution;

static bool describe(EKO_Handle *h, const pineappl_grid *grid, const EKO_Slices *slices,
                     evolution *e) {
    size_t info[5];
    pineappl_grid_evolve_info_shape(grid, NULL, info);
    REQUIRE(info[0] == NPOINT && info[1] == 0 && info[4] == NPOINT);
    REQUIRE(info[2] <= NP && info[3] == NX);
    double frg1[1], x1[NX];
    int32_t pids1[NP];
    pineappl_grid_evolve_info(grid, NULL, e->fac1, frg1, pids1, x1, e->ren1);
    e->n_fac1 = info[0];
    e->n_ren1 = info[4];
    for (size_t k = 0; k < e->n_ren1; k++) {
        e->alphas[k] = alphas(e->ren1[k], NULL);
    }
    int64_t shape[4];
    CHECK(h, EKO_slices_shape(h, slices, shape));
    for (int k = 0; k < 4; k++) {
        e->eko_shape[k] = (size_t)shape[k];
    }
    REQUIRE(shape[0] <= NP && shape[1] <= NX && shape[2] <= NP && shape[3] <= NX);
    CHECK(h, EKO_slices_fac0(h, slices, &e->fac0));
    CHECK(h, EKO_slices_basis(h, slices, &e->basis));
    CHECK(h, EKO_slices_side_pids(h, slices, EKO_SIDE_OUTPUT, e->pids_in, (int32_t)shape[0]));
    CHECK(h, EKO_slices_side_xgrid(h, slices, EKO_SIDE_OUTPUT, e->x_in, (int32_t)shape[1]));
    CHECK(h, EKO_slices_side_pids(h, slices, EKO_SIDE_INPUT, e->pids_out, (int32_t)shape[2]));
    CHECK(h, EKO_slices_side_xgrid(h, slices, EKO_SIDE_INPUT, e->x_out, (int32_t)shape[3]));
    return true;
}

/* pineappl_grid_evolve with `callback` and `state`. */
static pineappl_grid *evolve(const pineappl_grid *grid, const evolution *e,
                             pineappl_operator_callback callback, void *state) {
    pineappl_operator_info infos[NPOINT];
    for (size_t k = 0; k < e->n_fac1; k++) {
        infos[k].fac0 = e->fac0;
        infos[k].fac1 = e->fac1[k];
        infos[k].pid_basis =
            e->basis == EKO_BASIS_EVOL ? PINEAPPL_PID_BASIS_EVOL : PINEAPPL_PID_BASIS_PDG;
        infos[k].conv_type = PINEAPPL_CONV_TYPE_UNPOL_PDF;
    }
    const double xi[3] = {1.0, 1.0, 1.0};
    return pineappl_grid_evolve(grid, 1, callback, infos, e->pids_in, e->x_in, e->pids_out,
                                e->x_out, e->eko_shape, state, NULL, xi, e->ren1, e->alphas);
}

static void predictions(const pineappl_grid *grid, double *results) {
    void *pdf_states[1] = {NULL};
    pineappl_grid_convolve(grid, xfx, alphas, pdf_states, NULL, NULL, NULL, NULL, 1, NULL,
                           results);
}

static bool test_an_fk_table_through_pineappls_c_api(void) {
    EKO_Handle *h = EKO_handle_create();
    EKO_Store *store = NULL;
    EKO_SlicesSpec *spec = NULL;
    EKO_Slices *slices = NULL, *rotated = NULL, *short_of_one = NULL;
    EKO_TransformSpec *tspec = NULL;
    EKO_Transform *t = NULL;
    EKO_PineapplState *state = NULL, *evol_state = NULL, *short_state = NULL;
    pineappl_grid *grid = NULL, *fk = NULL, *reference = NULL, *fk_evol = NULL, *fk_short = NULL;
    bool ok = false;
    const char *dir = scratch_path("store");
    if (!write_points(h, dir, NPOINT, MU2S, NFS, LAYOUTS)) {
        goto done;
    }
    CHECK(h, EKO_store_open(h, dir, &store));
    double xgrid[NX];
    CHECK(h, EKO_store_xgrid(h, store, xgrid, NX));
    grid = make_grid(xgrid);
    double grid_predictions[NBIN];
    predictions(grid, grid_predictions);

    /* The slices at the grid's scales. */
    size_t info[5];
    pineappl_grid_evolve_info_shape(grid, NULL, info);
    REQUIRE(info[0] == NPOINT);
    double fac1[NPOINT], frg1[1], x1[NX], ren1[NPOINT];
    int32_t pids1[NP];
    pineappl_grid_evolve_info(grid, NULL, fac1, frg1, pids1, x1, ren1);
    CHECK(h, EKO_slices_spec_create(h, &spec));
    CHECK(h, EKO_slices_spec_set_scales(h, spec, fac1, (int32_t)info[0]));
    CHECK(h, EKO_slices_create(h, store, spec, NULL, &slices));
    evolution e;
    if (!describe(h, grid, slices, &e)) {
        goto done;
    }
    REQUIRE(e.basis == EKO_BASIS_FLAVOR && e.fac0 == ORIGIN_MU2);

    /* libeko's callback. */
    const EKO_Slices *list[1] = {slices};
    CHECK(h, EKO_pineappl_state_create(h, list, 1, &state));
    fk = evolve(grid, &e, EKO_pineappl_operator, state);
    REQUIRE(fk != NULL);
    CHECK(h, EKO_pineappl_state_check(h, state));
    int64_t served = 0;
    CHECK(h, EKO_pineappl_state_served(h, state, &served));
    REQUIRE(served == NPOINT);

    /* The reference callback, reading the files itself. */
    reference_state r = {dir, 0, false};
    reference = evolve(grid, &e, reference_operator, &r);
    REQUIRE(reference != NULL && !r.failed && r.served == NPOINT);

    double with_eko[NBIN], with_reference[NBIN];
    predictions(fk, with_eko);
    predictions(reference, with_reference);
    for (int k = 0; k < NBIN; k++) {
        printf("     bin %d: grid %.17g, FK table %.17g, reference %.17g\n", k,
               grid_predictions[k], with_eko[k], with_reference[k]);
        REQUIRE(isfinite(with_eko[k]) && with_eko[k] != 0.0);
    }
    REQUIRE(memcmp(with_eko, with_reference, sizeof with_eko) == 0);

    /* The input side in the evolution basis: an FK table in PINEAPPL_PID_BASIS_EVOL, the same
     * predictions to rounding. */
    CHECK(h, EKO_transform_spec_create(h, &tspec));
    CHECK(h, EKO_transform_spec_set_basis(h, tspec, EKO_SIDE_INPUT, EKO_BASIS_EVOL));
    CHECK(h, EKO_transform_create(h, store, tspec, 1, &t));
    CHECK(h, EKO_slices_create(h, store, spec, t, &rotated));
    evolution ev;
    if (!describe(h, grid, rotated, &ev)) {
        goto done;
    }
    REQUIRE(ev.basis == EKO_BASIS_EVOL && ev.pids_out[1] == 100);
    const EKO_Slices *rotated_list[1] = {rotated};
    CHECK(h, EKO_pineappl_state_create(h, rotated_list, 1, &evol_state));
    fk_evol = evolve(grid, &ev, EKO_pineappl_operator, evol_state);
    CHECK(h, EKO_pineappl_state_check(h, evol_state));
    CHECK(h, EKO_pineappl_state_served(h, evol_state, &served));
    REQUIRE(served == NPOINT);
    double with_evol[NBIN];
    predictions(fk_evol, with_evol);
    for (int k = 0; k < NBIN; k++) {
        if (fabs(with_evol[k] - with_eko[k]) > 1e-12 * fabs(with_eko[k])) {
            fprintf(stderr, "bin %d: evolution basis %.17g, flavour basis %.17g\n", k,
                    with_evol[k], with_eko[k]);
            goto done;
        }
    }

    /* Slices lacking the grid's highest scale: pineappl gets NaN for it, the state says why. */
    CHECK(h, EKO_slices_spec_set_scales(h, spec, fac1, (int32_t)info[0] - 1));
    CHECK(h, EKO_slices_create(h, store, spec, NULL, &short_of_one));
    const EKO_Slices *short_list[1] = {short_of_one};
    CHECK(h, EKO_pineappl_state_create(h, short_list, 1, &short_state));
    fk_short = evolve(grid, &e, EKO_pineappl_operator, short_state);
    EXPECT(h, EKO_pineappl_state_check(h, short_state), EKO_ERROR_EVOLVE,
           "no slice at fac1 = 100 in slices[0]");
    CHECK(h, EKO_pineappl_state_served(h, short_state, &served));
    REQUIRE(served == NPOINT - 1);
    double with_nan[NBIN];
    predictions(fk_short, with_nan);
    for (int k = 0; k < NBIN; k++) {
        REQUIRE(isnan(with_nan[k]));
    }
    ok = true;
done:
    pineappl_grid_delete(fk_short);
    pineappl_grid_delete(fk_evol);
    pineappl_grid_delete(reference);
    pineappl_grid_delete(fk);
    pineappl_grid_delete(grid);
    EKO_pineappl_state_destroy(short_state);
    EKO_pineappl_state_destroy(evol_state);
    EKO_pineappl_state_destroy(state);
    EKO_slices_destroy(short_of_one);
    EKO_slices_destroy(rotated);
    EKO_slices_destroy(slices);
    EKO_slices_spec_destroy(spec);
    EKO_transform_destroy(t);
    EKO_transform_spec_destroy(tspec);
    EKO_store_destroy(store);
    EKO_handle_destroy(h);
    return ok;
}

int main(int argc, char **argv) {
    const test_case tests[] = {
        {"an_fk_table_through_pineappls_c_api", test_an_fk_table_through_pineappls_c_api},
    };
    return run_tests(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
