! Slices from Fortran: a store written from two Fortran arrays (out of order), its slices in
! ascending mu2, each written into an array and borrowed in place, equal to the arrays bit for
! bit; arrays of the wrong extents refused; pineappl's callback (eko_pineappl_operator) called as
! pineappl would, with c_loc of arrays, filling a C-order buffer. Takes a scratch directory.
program test_slices_fortran
    use, intrinsic :: iso_c_binding
    use, intrinsic :: ieee_arithmetic, only: ieee_is_nan
    use eko
    implicit none

    integer(c_int32_t), parameter :: np = 14, nx = 6
    integer(c_int32_t), parameter :: pids(np) = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
    real(c_double), parameter :: origin = 1.65d0**2
    real(c_double), parameter :: mu2s(2) = [100d0, 10d0]
    integer(c_int32_t), parameter :: nfs(2) = [5, 4]

    type(eko_handle) :: h
    type(eko_dataset) :: ds
    type(eko_store) :: store
    type(eko_slices) :: slices
    type(eko_slices_spec) :: spec
    type(eko_pineappl_state) :: state
    real(c_double), allocatable, target :: ops(:, :, :, :, :), buffer(:, :, :, :)
    real(c_double), allocatable :: out(:, :, :, :), wrong(:, :, :, :)
    real(c_double), pointer :: view(:, :, :, :)
    real(c_double), target :: xgrid(nx)
    integer(c_int32_t), target :: side_pids(np)
    integer(c_size_t), target :: eko_shape(4)
    character(len=1024) :: scratch
    real(c_double) :: mu2, fac0
    integer(c_int64_t) :: shape(4), served
    integer(c_int32_t) :: id, n, nf, layout, basis
    integer :: failures = 0, a, i, b, j, k, p

    call get_command_argument(1, scratch)
    if (len_trim(scratch) == 0) stop 'usage: test_slices_fortran SCRATCH_DIR'
    do i = 1, nx
        xgrid(i) = (real(i, c_double)/nx)**3
    end do
    allocate (ops(np, nx, np, nx, 2))
    do k = 1, 2
        do j = 1, nx
            do b = 1, np
                do i = 1, nx
                    do a = 1, np
                        ops(a, i, b, j, k) = sin(0.3d0*a + 0.7d0*b + 1.1d0*i + 1.9d0*j + k)
                    end do
                end do
            end do
        end do
    end do

    h = eko_handle_create()
    call ok(eko_dataset_create(h, pids, xgrid, origin, 4_c_int32_t, ds))
    call ok(eko_dataset_set_matching(h, ds, EKO_QUARK_BOTTOM, 4.92d0**2))
    do k = 1, 2
        call ok(eko_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, mu2s(k), nfs(k), &
                                       ops(:, :, :, :, k), id))
    end do
    call ok(eko_dataset_write_store(h, ds, trim(scratch)//'/store'))
    call eko_dataset_destroy(ds)
    call ok(eko_store_open(h, trim(scratch)//'/store', store))

    ! Every final operator (no spec, no transform), in ascending mu2.
    call ok(eko_slices_create(h, store, eko_slices_spec(), eko_transform(), slices))
    call ok(eko_slices_len(h, slices, n))
    call check(n == 2, 'two slices')
    call ok(eko_slices_point(h, slices, 1_c_int32_t, mu2, nf))
    call check(mu2 == 10d0 .and. nf == 4, 'the first slice is at the lower scale')
    call ok(eko_slices_point(h, slices, 2_c_int32_t, mu2, nf))
    call check(mu2 == 100d0 .and. nf == 5, 'the second at the higher')
    call ok(eko_slices_shape(h, slices, shape))
    call check(all(shape == [np, nx, np, nx]), 'the slices have the grid''s shape')
    call ok(eko_slices_fac0(h, slices, fac0))
    call check(fac0 == origin, 'fac0 is the origin''s scale')
    call ok(eko_slices_basis(h, slices, basis))
    call check(basis == EKO_BASIS_FLAVOR, 'the flavour basis')
    call ok(eko_slices_side_pids(h, slices, EKO_SIDE_INPUT, side_pids))
    call check(all(side_pids == pids), 'the input side''s pids')

    ! Written and borrowed: the arrays the store was written from, bit for bit.
    allocate (out(np, nx, np, nx), wrong(nx, np, nx, np))
    do k = 1, 2
        p = 3 - k ! slice k is array 3 - k
        out = -7
        call ok(eko_slices_write(h, slices, int(k, c_int32_t), out))
        call check(all(out == ops(:, :, :, :, p)), 'a written slice is its array, bit for bit')
        call ok(eko_slices_borrow(h, slices, int(k, c_int32_t), view, layout))
        call check(layout == EKO_LAYOUT_FORTRAN .and. all(view == ops(:, :, :, :, p)), &
                   'a borrowed slice is its array, in place, bit for bit')
        call ok(eko_slices_release(h, slices, int(k, c_int32_t)))
    end do
    out = -7
    call expect(eko_slices_write(h, slices, 1_c_int32_t, wrong), EKO_ERROR_BAD_SHAPE, &
                'the array has shape [6, 14, 6, 14]; the slices have shape [14, 6, 14, 6]')
    call expect(eko_slices_write(h, slices, 3_c_int32_t, out), EKO_ERROR_INVALID_ARGUMENT, &
                'index 2 is not below the 2 slices')
    call check(all(out == -7), 'a refused write writes nothing')

    ! Only one scale.
    call ok(eko_slices_spec_create(h, spec))
    call ok(eko_slices_spec_set_scales(h, spec, [100d0]))
    call eko_slices_destroy(slices)
    call ok(eko_slices_create(h, store, spec, eko_transform(), slices))
    call eko_slices_spec_destroy(spec)
    call ok(eko_slices_len(h, slices, n))
    call check(n == 1, 'one scale asked, one slice')

    ! pineappl's callback, as pineappl calls it: its "in" is eko's output side; the buffer is
    ! C order, so a Fortran array buffer(x_in, pid_in, x_out, pid_out).
    call ok(eko_pineappl_state_create(h, [slices], state))
    allocate (buffer(nx, np, nx, np))
    buffer = 0
    eko_shape = [integer(c_size_t) :: np, nx, np, nx]
    side_pids = pids
    call eko_pineappl_operator(0_c_size_t, 100d0, c_loc(side_pids), c_loc(xgrid), &
                               c_loc(side_pids), c_loc(xgrid), c_loc(eko_shape), c_loc(buffer), &
                               state%ptr)
    call ok(eko_pineappl_state_check(h, state))
    call ok(eko_pineappl_state_served(h, state, served))
    call check(served == 1, 'one slice served')
    call check(all(reshape(buffer, [np, nx, np, nx], order=[4, 3, 2, 1]) == ops(:, :, :, :, 1)), &
               'the callback fills the C-order buffer with the slice, bit for bit')
    call eko_pineappl_operator(0_c_size_t, 10d0, c_loc(side_pids), c_loc(xgrid), &
                               c_loc(side_pids), c_loc(xgrid), c_loc(eko_shape), c_loc(buffer), &
                               state%ptr)
    call expect(eko_pineappl_state_check(h, state), EKO_ERROR_EVOLVE, 'no slice at fac1 = 10')
    call check(all(ieee_is_nan(buffer)), 'an unknown scale leaves NaN')
    call eko_pineappl_state_destroy(state)

    deallocate (ops, out, wrong, buffer)
    call eko_slices_destroy(slices)
    call eko_store_destroy(store)
    call eko_handle_destroy(h)
    print '(a, i0, a)', 'fortran slices: ', failures, ' failed'
    if (failures /= 0) error stop 1

contains

    include 'checks.inc'

end program
