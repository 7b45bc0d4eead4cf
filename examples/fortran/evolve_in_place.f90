! A Fortran host that computes its own operators and lets libeko join them, with no copy:
!   1. describe the grid (flavour basis, x grid, origin, matching scales);
!   2. register one partial per target point, as the Fortran arrays they are, and ask libeko
!      which threshold elements the partials need;
!   3. compute those (here: a toy solver) and register them;
!   4. combine in place: each partial array becomes its point's final operator;
!   5. write a store, reopen it mapped, and read the operators back with no copy.
!
! Build (after `cargo build --release`):
!   gfortran include/eko.f90 examples/fortran/evolve_in_place.f90 -Ltarget/release -leko \
!      -Wl,-rpath,$PWD/target/release -o evolve_in_place
!   ./evolve_in_place /tmp/my-store
program evolve_in_place
    use, intrinsic :: iso_c_binding
    use eko
    implicit none

    integer(c_int32_t), parameter :: np = 14, nx = 20, nt = 3
    integer(c_int32_t), parameter :: pids(np) = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
    real(c_double), parameter :: q2(nt) = [10d0, 100d0, 1d4]
    integer(c_int32_t), parameter :: nf(nt) = [4, 5, 5]

    type :: operator_t
        real(c_double), allocatable :: v(:, :, :, :)
    end type
    type(operator_t), target, allocatable :: partials(:), thresholds(:)
    type(eko_handle) :: h
    type(eko_dataset) :: ds
    type(eko_store) :: store
    character(len=1024) :: dir
    real(c_double) :: xgrid(nx), from_mu2, to_mu2
    real(c_double), pointer :: op(:, :, :, :)
    integer(c_int32_t) :: i, t, e, id, n_thresholds, from_nf, to_nf, layout

    call get_command_argument(1, dir)
    if (len_trim(dir) == 0) stop 'usage: evolve_in_place STORE_DIR'
    if (eko_abi_version() /= EKO_MODULE_ABI_VERSION) stop 'libeko has another ABI than this module'
    do i = 1, nx
        xgrid(i) = 10d0**(-5d0 + 5d0*(i - 1)/(nx - 1))
    end do
    h = eko_handle_create()
    call check(eko_dataset_create(h, pids, xgrid, 1.65d0**2, 4_c_int32_t, ds))
    call check(eko_dataset_set_matching(h, ds, EKO_QUARK_CHARM, 1.51d0**2))
    call check(eko_dataset_set_matching(h, ds, EKO_QUARK_BOTTOM, 4.92d0**2))
    call check(eko_dataset_set_matching(h, ds, EKO_QUARK_TOP, 172.5d0**2))

    allocate (partials(nt))
    do t = 1, nt
        call solve(partials(t)%v, real(t - 1, c_double))
        call check(eko_dataset_add_buffer(h, ds, EKO_KIND_PARTIAL, q2(t), nf(t), partials(t)%v, id))
    end do
    call check(eko_dataset_threshold_count(h, ds, n_thresholds))
    allocate (thresholds(n_thresholds))
    do e = 1, n_thresholds
        call check(eko_dataset_threshold(h, ds, e, from_mu2, from_nf, to_mu2, to_nf))
        print '(a, i0, a, f0.4, a, i0, a, f0.4, a, i0, a)', 'threshold element ', e, ': (', &
            from_mu2, ', nf=', from_nf, ') -> (', to_mu2, ', nf=', to_nf, ')'
        call solve(thresholds(e)%v, 10d0 + (e - 1))
        call check(eko_dataset_add_threshold(h, ds, from_mu2, from_nf, to_mu2, to_nf, &
                                             thresholds(e)%v, id))
    end do

    call check(eko_dataset_combine(h, ds, 0_c_int32_t))
    call check(eko_dataset_write_store(h, ds, trim(dir)))

    call check(eko_store_open(h, trim(dir), store))
    do t = 1, nt
        call check(eko_store_operator(h, store, EKO_KIND_OPERATOR, q2(t), nf(t), &
                                      EKO_ATTRIBUTE_VALUE, op, layout))
        ! The file keeps the host's Fortran order: op(pid_out, x_out, pid_in, x_in).
        print '(a, f0.1, a, i0, a, f8.6, a, l1)', 'Q2=', q2(t), ' nf=', nf(t), &
            ': g->g at x=1 sums to ', sum(op(8, nx, 8, :)), '; store equals host memory: ', &
            layout == EKO_LAYOUT_FORTRAN .and. all(op == partials(t)%v)
    end do
    call eko_store_destroy(store)
    call eko_dataset_destroy(ds)
    call eko_handle_destroy(h)

contains

    ! The toy solver: an operator shaped like a real one (upper triangular in x).
    subroutine solve(v, seed)
        real(c_double), allocatable, intent(out) :: v(:, :, :, :)
        real(c_double), intent(in) :: seed
        integer :: a, i, b, j
        allocate (v(np, nx, np, nx))
        v = 0
        do j = 1, nx
            do b = 1, np
                do i = 1, j
                    do a = 1, np
                        v(a, i, b, j) = 0.01d0*sin(seed + 0.3d0*(a - 1) + 0.7d0*(b - 1) &
                                                   + 1.1d0*(i - 1) + 1.9d0*(j - 1))/(1 + j - i)
                        if (a == b .and. i == j) v(a, i, b, j) = v(a, i, b, j) + 1
                    end do
                end do
            end do
        end do
    end subroutine

    ! Stops with the handle's message when a call fails.
    subroutine check(status)
        integer(c_int32_t), intent(in) :: status
        if (status /= EKO_OK) then
            print '(a, a, a)', eko_status_name(status), ': ', eko_message(h)
            error stop 1
        end if
    end subroutine
end program
