! Transforms from Fortran: a store written from a Fortran array, a spec asking for the evolution
! basis on the output side, the store's operator and the same array transformed into Fortran
! arrays (equal bit for bit, T3 = u + ubar - d - dbar by hand); a rotation given as matrix(new,
! old); arrays of the wrong extents refused; a store reshaped from Fortran (eko_store_reshape)
! evolving PDFs (eko_store_apply_transformed). Takes a scratch directory as its argument.
program test_transform_fortran
    use, intrinsic :: iso_c_binding
    use eko
    implicit none

    integer(c_int32_t), parameter :: np = 14, nx = 6
    integer(c_int32_t), parameter :: pids(np) = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
    ! 1-based indices: u, ubar, d, dbar in pids; T3 in the evolution basis.
    integer, parameter :: u = 10, ubar = 6, d = 9, dbar = 7, t3 = 10
    real(c_double), parameter :: mu2 = 10d0, origin = 1.65d0**2

    type(eko_handle) :: h
    type(eko_dataset) :: ds
    type(eko_store) :: store
    type(eko_transform_spec) :: spec, by_matrix
    type(eko_transform) :: t, m, r
    type(eko_store) :: reshaped
    real(c_double), allocatable :: pdf(:, :, :), evolved(:, :, :), through(:, :, :), flat(:, :, :)
    character(len=1024) :: scratch
    real(c_double), allocatable, target :: op(:, :, :, :)
    real(c_double), allocatable :: out(:, :, :, :), again(:, :, :, :), wrong(:, :, :, :)
    real(c_double) :: xgrid(nx), matrix(np, np), want
    integer(c_int64_t) :: shape(4)
    integer(c_int32_t) :: id, new_pids(np), side_pids(np)
    integer :: failures = 0, a, i, b, j, k

    call get_command_argument(1, scratch)
    if (len_trim(scratch) == 0) stop 'usage: test_transform_fortran SCRATCH_DIR'
    do i = 1, nx
        xgrid(i) = (real(i, c_double)/nx)**3
    end do
    allocate (op(np, nx, np, nx))
    do j = 1, nx
        do b = 1, np
            do i = 1, nx
                do a = 1, np
                    op(a, i, b, j) = sin(0.3d0*a + 0.7d0*b + 1.1d0*i + 1.9d0*j)
                end do
            end do
        end do
    end do

    h = eko_handle_create()
    call ok(eko_dataset_create(h, pids, xgrid, origin, 4_c_int32_t, ds))
    call ok(eko_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, mu2, 4_c_int32_t, op, id))
    call ok(eko_dataset_write_store(h, ds, trim(scratch)//'/store'))
    call eko_dataset_destroy(ds)
    call ok(eko_store_open(h, trim(scratch)//'/store', store))
    call ok(eko_store_operator_shape(h, store, shape))
    call check(all(shape == [np, nx, np, nx]), 'a square store''s operators have the grid''s shape')

    ! The output side to the evolution basis.
    call ok(eko_transform_spec_create(h, spec))
    call ok(eko_transform_spec_set_basis(h, spec, EKO_SIDE_OUTPUT, EKO_BASIS_EVOL))
    call ok(eko_transform_create(h, store, spec, 1_c_int32_t, t))
    call eko_transform_spec_destroy(spec)
    call ok(eko_transform_shape(h, t, shape))
    call check(all(shape == [np, nx, np, nx]), 'a rotation keeps the shape')
    call ok(eko_transform_side_pids(h, t, EKO_SIDE_OUTPUT, side_pids))
    call check(side_pids(t3) == 103 .and. side_pids(2) == 100, 'the output side is the evolution basis')
    allocate (out(np, nx, np, nx), again(np, nx, np, nx))
    call ok(eko_store_transform(h, store, t, EKO_KIND_OPERATOR, mu2, 4_c_int32_t, &
                                EKO_ATTRIBUTE_VALUE, out))
    k = 0
    do j = 1, nx
        do b = 1, np
            do i = 1, nx
                want = op(u, i, b, j) + op(ubar, i, b, j) - op(d, i, b, j) - op(dbar, i, b, j)
                if (abs(out(t3, i, b, j) - want) > 1d-14*(1 + abs(want))) k = k + 1
            end do
        end do
    end do
    call check(k == 0, 'T3 is u + ubar - d - dbar')
    call ok(eko_transform_apply(h, t, op, again))
    call check(all(again == out), 'the array and the store''s file transform alike, bit for bit')
    allocate (wrong(nx, np, nx, np))
    call expect(eko_transform_apply(h, t, op, wrong), EKO_ERROR_BAD_SHAPE, &
                'out has shape [6, 14, 6, 14]')
    call expect(eko_store_transform(h, store, t, EKO_KIND_OPERATOR, mu2, 4_c_int32_t, &
                                    EKO_ATTRIBUTE_VALUE, wrong), EKO_ERROR_BAD_SHAPE, &
                'the transform makes operators of shape [14, 6, 14, 6]')

    ! A rotation given as matrix(new, old): new photon = 2 photon + gluon, the rest doubled.
    matrix = 0
    do a = 1, np
        matrix(a, a) = 2
        new_pids(a) = 1000 + a
    end do
    matrix(1, 8) = 1
    call ok(eko_transform_spec_create(h, by_matrix))
    call ok(eko_transform_spec_set_rotation(h, by_matrix, EKO_SIDE_OUTPUT, matrix, new_pids))
    call check(eko_transform_spec_set_rotation(h, by_matrix, EKO_SIDE_OUTPUT, matrix(1:3, :), &
                                               new_pids) == EKO_ERROR_BAD_SHAPE, &
               'a matrix of other extents than the pids is refused')
    call ok(eko_transform_create_for_sides(h, by_matrix, pids, xgrid, pids, xgrid, 0_c_int32_t, m))
    call eko_transform_spec_destroy(by_matrix)
    call ok(eko_transform_apply(h, m, op, out))
    call check(all(abs(out(1, :, :, :) - (2*op(1, :, :, :) + op(8, :, :, :))) < 1d-15) .and. &
               all(out(8, :, :, :) == 2*op(8, :, :, :)), 'matrix(new, old) rotates row by row')
    call ok(eko_transform_side_pids(h, m, EKO_SIDE_OUTPUT, side_pids))
    call check(all(side_pids == new_pids), 'into the new pids')

    ! A store reshaped from Fortran (x_out onto 3 of its nodes, the input side to the evolution
    ! basis), evolving PDFs as the source store does through the same transform, bit for bit.
    call ok(eko_transform_spec_create(h, spec))
    call ok(eko_transform_spec_set_xgrid(h, spec, EKO_SIDE_OUTPUT, xgrid([2, 4, 6])))
    call ok(eko_transform_spec_set_basis(h, spec, EKO_SIDE_INPUT, EKO_BASIS_EVOL))
    call ok(eko_store_reshape(h, trim(scratch)//'/store', trim(scratch)//'/reshaped', spec, &
                              0_c_int32_t))
    call expect(eko_store_reshape(h, trim(scratch)//'/store', trim(scratch)//'/reshaped', spec, &
                                  0_c_int32_t), EKO_ERROR_NOT_EMPTY, 'is not empty')
    call ok(eko_transform_create(h, store, spec, 1_c_int32_t, r))
    call eko_transform_spec_destroy(spec)
    call ok(eko_store_open(h, trim(scratch)//'/reshaped', reshaped))
    call ok(eko_store_operator_shape(h, reshaped, shape))
    call check(all(shape == [np, 3, np, nx]), 'the reshaped store''s operators are (14, 3, 14, 6)')
    allocate (pdf(nx, np, 2), evolved(3, np, 2), through(3, np, 2), flat(nx, np, 2))
    pdf = reshape([(0.5d0 + sin(0.37d0*i), i = 1, nx*np*2)], [nx, np, 2])
    evolved = -7
    ! eko_store_apply evolves through a reshaped store too, its extents checked with a message.
    call expect(eko_store_apply(h, reshaped, mu2, 4_c_int32_t, pdf, flat, 1_c_int32_t), &
                EKO_ERROR_BAD_SHAPE, 'output side needs (2, 14, 3)')
    call ok(eko_store_apply(h, reshaped, mu2, 4_c_int32_t, pdf, through, 1_c_int32_t))
    call ok(eko_store_apply_transformed(h, reshaped, eko_transform(), mu2, 4_c_int32_t, pdf, &
                                        evolved, 1_c_int32_t))
    call check(all(evolved == through), 'eko_store_apply on a reshaped store, bit for bit')
    call ok(eko_store_apply_transformed(h, store, r, mu2, 4_c_int32_t, pdf, through, 2_c_int32_t))
    call check(all(evolved == through), &
               'the reshaped store evolves as the source through the transform, bit for bit')
    through = -7
    call expect(eko_store_apply_transformed(h, reshaped, eko_transform(), mu2, 4_c_int32_t, &
                                            pdf, flat, 1_c_int32_t), EKO_ERROR_BAD_SHAPE, &
                'out has (n_rep, n_pid, n_x) = (2, 14, 6) (in Fortran out(6, 14, 2)); the &
                &store''s final operators'' output side needs (2, 14, 3)')
    call expect(eko_store_apply_transformed(h, store, r, mu2, 4_c_int32_t, &
                                            reshape(pdf, [np, nx, 2]), through, 1_c_int32_t), &
                EKO_ERROR_BAD_SHAPE, 'pdf has (n_rep, n_pid, n_x) = (2, 6, 14)')
    call expect(eko_store_apply_transformed(h, reshaped, r, mu2, 4_c_int32_t, pdf, through, &
                                            1_c_int32_t), EKO_ERROR_INCOMPATIBLE, 'other sides')
    call check(all(through == -7), 'a refused call writes nothing')
    deallocate (pdf, evolved, through, flat)
    call eko_transform_destroy(r)
    call eko_store_destroy(reshaped)

    deallocate (op, out, again, wrong)
    call eko_transform_destroy(m)
    call eko_transform_destroy(t)
    call eko_store_destroy(store)
    call eko_handle_destroy(h)
    print '(a, i0, a)', 'fortran transforms: ', failures, ' failed'
    if (failures /= 0) error stop 1

contains

    include 'checks.inc'

end program
