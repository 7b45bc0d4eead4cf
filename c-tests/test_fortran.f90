! The Fortran module's whole job: Fortran arrays registered in Fortran order, a point declared
! empty and bound later, combine in place, equal bit for bit to the Rust store combine of the same
! operators, whose store (written by Rust) is read back with no copy; a store file mapped for the
! host to fill; errors with codes and messages. Takes a scratch directory as its argument.
program test_fortran
    use, intrinsic :: iso_c_binding
    use eko
    implicit none

    integer(c_int32_t), parameter :: np = 14, nx = 8, n_targets = 4
    integer(c_int32_t), parameter :: pids(np) = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
    real(c_double), parameter :: target_mu2(n_targets) = [10d0, 100d0, 2d0, 1d4]
    integer(c_int32_t), parameter :: target_nf(n_targets) = [4, 5, 3, 5]
    real(c_double), parameter :: origin = 1.65d0**2, charm = 1.51d0**2, bottom = 4.92d0**2, &
                                 top = 172.5d0**2

    type :: operator_t
        real(c_double), allocatable :: v(:, :, :, :), e(:, :, :, :)
    end type

    type(operator_t), target :: parts(n_targets), thresholds(8)
    type(eko_handle) :: h
    type(eko_dataset) :: ds, mapped_ds
    type(eko_store) :: store
    character(len=1024) :: scratch, halves(2)
    real(c_double) :: xgrid(nx), from_mu2, to_mu2, mu2
    real(c_double), pointer :: op(:, :, :, :), err(:, :, :, :), filled(:, :, :, :)
    real(c_double), allocatable, target :: swapped(:, :, :, :)
    integer(c_int32_t) :: i, t, id, declared, n_thresholds, from_nf, to_nf, layout, nf, files, n
    integer :: failures = 0, a, b, j, k, r
    logical :: present
    real(c_double) :: pdf(nx, np, 2), evolved(nx, np, 2), want, worst

    call get_command_argument(1, scratch)
    if (len_trim(scratch) == 0) stop 'usage: test_fortran SCRATCH_DIR'
    do i = 1, nx
        xgrid(i) = (real(i, c_double)/nx)**3
    end do

    h = eko_handle_create()
    call check(eko_abi_version() == EKO_MODULE_ABI_VERSION, 'the module and the library agree on the ABI')
    call ok(eko_dataset_create(h, pids, xgrid, origin, 4_c_int32_t, ds))
    call ok(eko_dataset_set_matching(h, ds, EKO_QUARK_CHARM, charm))
    call ok(eko_dataset_set_matching(h, ds, EKO_QUARK_BOTTOM, bottom))
    call ok(eko_dataset_set_matching(h, ds, EKO_QUARK_TOP, top))

    ! Partials from Fortran arrays, with errors; the last one declared now, bound later.
    do t = 1, n_targets
        call fill(parts(t), real(t, c_double))
        if (t < n_targets) then
            call ok(eko_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, target_mu2(t), target_nf(t), &
                                          parts(t)%v, id))
            call ok(eko_dataset_add_attribute_buffer(h, ds, id, EKO_ATTRIBUTE_ERROR, parts(t)%e))
        else
            call ok(eko_dataset_declare_buffer(h, ds, EKO_KIND_PARTIAL, target_mu2(t), &
                                              target_nf(t), declared))
            call ok(eko_dataset_declare_attribute_buffer(h, ds, declared, EKO_ATTRIBUTE_ERROR))
        end if
    end do
    ! The threshold elements the partials need.
    call ok(eko_dataset_threshold_count(h, ds, n_thresholds))
    call check(n_thresholds == 4, 'four threshold elements needed')
    do i = 1, n_thresholds
        call ok(eko_dataset_threshold(h, ds, i, from_mu2, from_nf, to_mu2, to_nf))
        call fill(thresholds(i), 10d0 + i)
        call ok(eko_dataset_add_threshold(h, ds, from_mu2, from_nf, to_mu2, to_nf, &
                                          thresholds(i)%v, id))
        call ok(eko_dataset_add_attribute_buffer(h, ds, id, EKO_ATTRIBUTE_ERROR, &
                                                  thresholds(i)%e))
    end do

    ! A step needing the declared memory fails with its own code until it is bound.
    call expect(eko_dataset_combine(h, ds, 1_c_int32_t), EKO_ERROR_UNBOUND, 'not bound')
    call ok(eko_dataset_bind(h, ds, declared, EKO_ATTRIBUTE_VALUE, parts(n_targets)%v))
    call ok(eko_dataset_bind(h, ds, declared, EKO_ATTRIBUTE_ERROR, parts(n_targets)%e))
    call expect(eko_dataset_bind(h, ds, declared, EKO_ATTRIBUTE_VALUE, parts(n_targets)%v), &
                EKO_ERROR_ALREADY_BOUND, 'already has memory')
    call expect(eko_dataset_add_buffer(h, ds, 9_c_int32_t, 5d0, 4_c_int32_t, parts(1)%v, id), &
                EKO_ERROR_INVALID_ARGUMENT, 'kind 9')
    ! An array with the grid's size but its dimensions in another order is refused.
    allocate(swapped(nx, np, nx, np))
    call expect(eko_dataset_add_buffer(h, ds, EKO_KIND_OPERATOR, 5d0, 4_c_int32_t, swapped, id), &
                EKO_ERROR_BAD_SHAPE, 'is not an operator of the dataset''s grid')
    deallocate(swapped)

    ! The Rust API's answer: the same operators as a store, combined by Rust.
    call ok(eko_dataset_write_store(h, ds, trim(scratch)//'/before'))
    call ok(eko_store_combine(h, trim(scratch)//'/before', 1_c_int32_t))
    ! The host's: in place.
    call ok(eko_dataset_combine(h, ds, 2_c_int32_t))

    ! Read the store Rust wrote, mapped, with no copy, and compare bit for bit.
    call ok(eko_store_open(h, trim(scratch)//'/before', store))
    call ok(eko_store_point_count(h, store, n))
    call check(n == n_targets, 'the store has every point')
    do t = 1, n_targets
        call ok(eko_store_operator(h, store, EKO_KIND_OPERATOR, target_mu2(t), target_nf(t), &
                                   EKO_ATTRIBUTE_VALUE, op, layout))
        call ok(eko_store_operator(h, store, EKO_KIND_OPERATOR, target_mu2(t), target_nf(t), &
                                   EKO_ATTRIBUTE_ERROR, err, layout))
        ! A final keeps its partial's memory order: every partial was written from a Fortran
        ! array, so every final, combined or promoted, is Fortran order (op(pid_out, ...)).
        k = 0
        do j = 1, nx
            do b = 1, np
                do i = 1, nx
                    do a = 1, np
                        if (layout == EKO_LAYOUT_C) then
                            if (op(j, b, i, a) /= parts(t)%v(a, i, b, j)) k = k + 1
                            if (err(j, b, i, a) /= parts(t)%e(a, i, b, j)) k = k + 1
                        else
                            if (op(a, i, b, j) /= parts(t)%v(a, i, b, j)) k = k + 1
                            if (err(a, i, b, j) /= parts(t)%e(a, i, b, j)) k = k + 1
                        end if
                    end do
                end do
            end do
        end do
        call check(layout == EKO_LAYOUT_FORTRAN, &
                   'every final keeps its partial''s (Fortran) memory order')
        call check(k == 0, 'in-place combine equals the Rust combine')
    end do
    call ok(eko_store_point(h, store, 1_c_int32_t, mu2, nf, files))
    call check(mu2 == 2d0 .and. nf == 3 .and. files == EKO_FILE_OPERATOR + EKO_FILE_OPERATOR_ERROR, &
               'points are listed by mu2 with their files')
    call ok(eko_store_origin(h, store, mu2, nf))
    call check(mu2 == origin .and. nf == 4, 'the store has the dataset''s origin')
    call ok(eko_store_matching(h, store, EKO_QUARK_BOTTOM, mu2, present))
    call check(present .and. mu2 == bottom, 'and its matching scales')
    ! The first element listed before the combine (ordered by where they start): the inverse
    ! charm matching, nf 4 to 3.
    call ok(eko_store_threshold_operator(h, store, charm, 4_c_int32_t, charm, 3_c_int32_t, &
                                         EKO_ATTRIBUTE_VALUE, op, layout))
    call check(layout == EKO_LAYOUT_C .and. op(3, 2, 1, 4) == thresholds(1)%v(4, 1, 2, 3), &
               'threshold elements are read from thresholds.npz in place')
    ! Two replicas evolved with target 1's final operator, against the sum over its mapped file.
    do r = 1, 2
        do b = 1, np
            do k = 1, nx
                pdf(k, b, r) = 0.5d0 + sin(0.37d0*(k + nx*(b + np*r)))
            end do
        end do
    end do
    call ok(eko_store_operator(h, store, EKO_KIND_OPERATOR, target_mu2(1), target_nf(1), &
                               EKO_ATTRIBUTE_VALUE, op, layout))
    call ok(eko_store_apply(h, store, target_mu2(1), target_nf(1), pdf, evolved, 0_c_int32_t))
    worst = 0
    do r = 1, 2
        do a = 1, np
            do i = 1, nx
                want = 0
                do b = 1, np
                    do j = 1, nx
                        if (layout == EKO_LAYOUT_C) then
                            want = want + op(j, b, i, a)*pdf(j, b, r)
                        else
                            want = want + op(a, i, b, j)*pdf(j, b, r)
                        end if
                    end do
                end do
                worst = max(worst, abs(evolved(i, a, r) - want)/(1 + abs(want)))
            end do
        end do
    end do
    call check(worst <= 1d-13, 'apply evolves pdf(x, pid, replica) as the sum over the operator')
    call check(eko_store_apply(h, store, target_mu2(1), target_nf(1), pdf, evolved(:, :, 1:1), &
                               0_c_int32_t) == EKO_ERROR_BAD_SHAPE, 'apply checks the shapes')
    call eko_store_destroy(store)

    ! Split by mu2 and merged back: every point again.
    halves(1) = trim(scratch)//'/low'
    halves(2) = trim(scratch)//'/high'
    call ok(eko_store_split(h, trim(scratch)//'/before', halves, [50d0], EKO_TRANSFER_COPY))
    call ok(eko_store_merge(h, trim(scratch)//'/merged', halves, EKO_ON_CONFLICT_ERROR, &
                            EKO_TRANSFER_LINK))
    call ok(eko_store_clean(h, trim(scratch)//'/merged', .false.))
    call ok(eko_store_recover(h, trim(scratch)//'/merged'))
    call ok(eko_store_open(h, trim(scratch)//'/merged', store))
    call ok(eko_store_point_count(h, store, n))
    call check(n == n_targets, 'split and merged back, the store has every point')
    call eko_store_destroy(store)

    ! A store file mapped for the host to fill in place, then committed.
    call ok(eko_dataset_create(h, pids, xgrid, origin, 4_c_int32_t, mapped_ds))
    call ok(eko_dataset_declare_buffer(h, mapped_ds, EKO_KIND_OPERATOR, 30d0, 4_c_int32_t, id))
    call expect(eko_dataset_map(h, mapped_ds, id, EKO_ATTRIBUTE_VALUE, np, nx, filled), &
                EKO_ERROR_NOT_FOUND, 'not attached')
    call ok(eko_dataset_attach_store(h, mapped_ds, trim(scratch)//'/mapped'))
    call ok(eko_dataset_map(h, mapped_ds, id, EKO_ATTRIBUTE_VALUE, np, nx, filled))
    filled = parts(1)%v
    call ok(eko_dataset_commit(h, mapped_ds, id))
    call ok(eko_store_open(h, trim(scratch)//'/mapped', store))
    call ok(eko_store_operator(h, store, EKO_KIND_OPERATOR, 30d0, 4_c_int32_t, &
                               EKO_ATTRIBUTE_VALUE, op, layout))
    call check(layout == EKO_LAYOUT_FORTRAN, 'the mapped file keeps Fortran order')
    call check(all(op == parts(1)%v), 'the committed file holds what the host wrote')
    call eko_store_destroy(store)
    call expect(eko_store_open(h, trim(scratch)//'/nowhere', store), EKO_ERROR_NOT_A_STORE, &
                'not a libeko store')
    call check(eko_status(h) == EKO_ERROR_NOT_A_STORE, 'the handle keeps the status')
    call ok(eko_dataset_threshold_count(h, mapped_ds, n))
    call check(eko_status(h) == EKO_OK .and. len(eko_message(h)) == 0, &
               'a success clears the handle')

    call eko_dataset_destroy(mapped_ds)
    call eko_dataset_destroy(ds)
    call eko_handle_destroy(h)
    print '(a, i0, a)', 'fortran: ', failures, ' failed'
    if (failures /= 0) error stop 1

contains

    ! A well-conditioned operator shaped like a real one (upper triangular in x), and its error.
    subroutine fill(o, seed)
        type(operator_t), intent(inout) :: o
        real(c_double), intent(in) :: seed
        integer :: a, i, b, j
        allocate (o%v(np, nx, np, nx), o%e(np, nx, np, nx))
        o%v = 0
        do j = 1, nx
            do b = 1, np
                do i = 1, j
                    do a = 1, np
                        o%v(a, i, b, j) = 0.01d0*sin(seed + 0.3d0*a + 0.7d0*b + 1.1d0*i + 1.9d0*j) &
                                          /(1 + j - i)
                        if (a == b .and. i == j) o%v(a, i, b, j) = o%v(a, i, b, j) + 1
                    end do
                end do
            end do
        end do
        o%e = 1d-4*abs(o%v)
    end subroutine

    include 'checks.inc'

end program
