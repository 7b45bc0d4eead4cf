! libeko's Fortran interface: a module over the C ABI of include/eko.h (iso_c_binding).
!
! Compile it with your code (gfortran -c include/eko.f90) and link -leko. Handles, datasets and
! stores are derived types wrapping the C objects; the raw bind(c) interfaces are private. Every
! function that can fail returns an integer(c_int32_t) status, EKO_OK (0) or an EKO_ERROR_* code,
! and the handle keeps the message (eko_message). Every call clears the handle on entry.
!
! Fortran arrays go in as they are: registered with EKO_LAYOUT_FORTRAN, an array op(n_pid, n_x,
! n_pid, n_x) is indexed op(pid_out, x_out, pid_in, x_in), never copied, never freed by libeko.
! Arrays registered in a dataset must have the target attribute and stay allocated (and untouched
! during calls on the dataset) until the dataset is destroyed.
!
! Transforms (reinterpolation onto other x grids, rotation to another flavour basis) take and
! give Fortran arrays op(n_pid_out, n_x_out, n_pid_in, n_x_in) whose extents are checked against
! the transform (eko_transform_source_shape, eko_transform_shape). eko_store_apply_transformed
! evolves pdf(n_x_in, n_pid_in, n_rep) through a transform, or through a reshaped store's
! operators; eko_store_reshape writes a reshaped store.
!
! Slices (a store's final operators one scale at a time, for FK tables): eko_slices_create, then
! eko_slices_write into arrays op(n_pid_out, n_x_out, n_pid_in, n_x_in) or eko_slices_borrow in
! place. A host that links pineappl's C API passes c_funloc(eko_pineappl_operator) to
! pineappl_grid_evolve, with the state%ptr of an eko_pineappl_state as its state.
module eko
    use, intrinsic :: iso_c_binding
    implicit none
    private

    ! Status codes (see include/eko.h for their meaning).
    integer(c_int32_t), parameter, public :: EKO_OK = 0
    integer(c_int32_t), parameter, public :: EKO_ERROR_NULL_ARGUMENT = 1
    integer(c_int32_t), parameter, public :: EKO_ERROR_INVALID_ARGUMENT = 2
    integer(c_int32_t), parameter, public :: EKO_ERROR_BAD_SHAPE = 3
    integer(c_int32_t), parameter, public :: EKO_ERROR_MISALIGNED = 4
    integer(c_int32_t), parameter, public :: EKO_ERROR_OVERLAPPING = 5
    integer(c_int32_t), parameter, public :: EKO_ERROR_UNBOUND = 6
    integer(c_int32_t), parameter, public :: EKO_ERROR_ALREADY_BOUND = 7
    integer(c_int32_t), parameter, public :: EKO_ERROR_DUPLICATE = 8
    integer(c_int32_t), parameter, public :: EKO_ERROR_NOT_FOUND = 9
    integer(c_int32_t), parameter, public :: EKO_ERROR_READ_ONLY = 10
    integer(c_int32_t), parameter, public :: EKO_ERROR_NO_PATH = 100
    integer(c_int32_t), parameter, public :: EKO_ERROR_MISSING_THRESHOLD = 101
    integer(c_int32_t), parameter, public :: EKO_ERROR_MISSING_ERROR = 102
    integer(c_int32_t), parameter, public :: EKO_ERROR_PARTIALS_REMAIN = 103
    integer(c_int32_t), parameter, public :: EKO_ERROR_TRANSFORM = 104
    integer(c_int32_t), parameter, public :: EKO_ERROR_RESHAPED = 105
    integer(c_int32_t), parameter, public :: EKO_ERROR_EVOLVE = 106
    integer(c_int32_t), parameter, public :: EKO_ERROR_IO = 200
    integer(c_int32_t), parameter, public :: EKO_ERROR_MALFORMED_FILE = 201
    integer(c_int32_t), parameter, public :: EKO_ERROR_NOT_A_STORE = 202
    integer(c_int32_t), parameter, public :: EKO_ERROR_INCOMPATIBLE = 203
    integer(c_int32_t), parameter, public :: EKO_ERROR_CONFLICT = 204
    integer(c_int32_t), parameter, public :: EKO_ERROR_NOT_EMPTY = 205
    integer(c_int32_t), parameter, public :: EKO_ERROR_INVALID_STORE = 206
    integer(c_int32_t), parameter, public :: EKO_ERROR_BUSY = 207
    integer(c_int32_t), parameter, public :: EKO_ERROR_PERMISSION = 208
    integer(c_int32_t), parameter, public :: EKO_ERROR_PANIC = 900

    ! Enumerations.
    integer(c_int32_t), parameter, public :: EKO_KIND_OPERATOR = 1, EKO_KIND_PARTIAL = 2
    integer(c_int32_t), parameter, public :: EKO_ATTRIBUTE_VALUE = 1, EKO_ATTRIBUTE_ERROR = 2
    integer(c_int32_t), parameter, public :: EKO_LAYOUT_C = 1, EKO_LAYOUT_FORTRAN = 2
    integer(c_int32_t), parameter, public :: EKO_QUARK_CHARM = 4, EKO_QUARK_BOTTOM = 5, &
                                             EKO_QUARK_TOP = 6
    integer(c_int32_t), parameter, public :: EKO_FILE_OPERATOR = 1, EKO_FILE_OPERATOR_ERROR = 2, &
                                             EKO_FILE_PARTIAL = 4, EKO_FILE_PARTIAL_ERROR = 8
    integer(c_int32_t), parameter, public :: EKO_ON_CONFLICT_ERROR = 1, &
                                             EKO_ON_CONFLICT_KEEP_DESTINATION = 2, &
                                             EKO_ON_CONFLICT_TAKE_SOURCE = 3
    integer(c_int32_t), parameter, public :: EKO_TRANSFER_LINK = 1, EKO_TRANSFER_MOVE = 2, &
                                             EKO_TRANSFER_COPY = 3
    integer(c_int32_t), parameter, public :: EKO_COMPRESSION_LZ4 = 1, EKO_COMPRESSION_NONE = 2
    integer(c_int32_t), parameter, public :: EKO_SIDE_OUTPUT = 1, EKO_SIDE_INPUT = 2
    integer(c_int32_t), parameter, public :: EKO_BASIS_FLAVOR = 1, EKO_BASIS_EVOL = 2
    integer(c_int32_t), parameter, public :: EKO_BASIS_CUSTOM = 3
    ! The ABI this module was written for (the header's EKO_ABI_VERSION; Fortran names ignore
    ! case, so the function eko_abi_version() takes the plain name): compare the two at start-up.
    integer(c_int32_t), parameter, public :: EKO_MODULE_ABI_VERSION = 2

    !> Keeps the status and message of the last call made with it. One per thread.
    type, public :: eko_handle
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> One grid's operators in the host's arrays.
    type, public :: eko_dataset
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> An open store.
    type, public :: eko_store
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> What a transform changes, set one call at a time.
    type, public :: eko_transform_spec
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> A transform, its matrices precomputed.
    type, public :: eko_transform
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> Which final operators to serve as slices, set one call at a time (eko_slices_spec(), a
    !> spec never created, asks for every final operator).
    type, public :: eko_slices_spec
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> A store's final operators as slices: one per scale, in ascending mu2.
    type, public :: eko_slices
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> What eko_pineappl_operator serves from and records into: pass state%ptr to
    !> pineappl_grid_evolve as its state.
    type, public :: eko_pineappl_state
        type(c_ptr) :: ptr = c_null_ptr
    end type

    !> EKO_View of the C ABI.
    type, bind(c) :: c_view
        type(c_ptr) :: data
        integer(c_int64_t) :: shape(4)
        integer(c_int64_t) :: strides(4)
        integer(c_int32_t) :: layout
    end type

    public :: eko_abi_version, eko_version, eko_status_name
    public :: eko_handle_create, eko_handle_destroy, eko_status, eko_message
    public :: eko_dataset_create, eko_dataset_destroy, eko_dataset_set_matching
    public :: eko_dataset_set_interpolation
    public :: eko_dataset_add_buffer, eko_dataset_declare_buffer
    public :: eko_dataset_add_threshold, eko_dataset_declare_threshold
    public :: eko_dataset_add_attribute_buffer, eko_dataset_declare_attribute_buffer
    public :: eko_dataset_bind
    public :: eko_dataset_threshold_count, eko_dataset_threshold
    public :: eko_dataset_combine, eko_dataset_write_store
    public :: eko_dataset_attach_store, eko_dataset_map, eko_dataset_commit
    public :: eko_store_open, eko_store_destroy, eko_store_grid, eko_store_pids, eko_store_xgrid
    public :: eko_store_apply
    public :: eko_store_origin, eko_store_matching
    public :: eko_store_point_count, eko_store_point, eko_store_operator
    public :: eko_store_threshold_operator
    public :: eko_store_combine, eko_store_clean, eko_store_merge, eko_store_split
    public :: eko_store_recover, eko_store_export, eko_store_verify
    public :: eko_store_operator_shape, eko_store_side_pids, eko_store_side_xgrid
    public :: eko_store_transform, eko_store_apply_transformed, eko_store_reshape
    public :: eko_transform_spec_create, eko_transform_spec_destroy
    public :: eko_transform_spec_set_xgrid, eko_transform_spec_set_basis
    public :: eko_transform_spec_set_rotation, eko_transform_spec_set_interpolation
    public :: eko_transform_create, eko_transform_create_for_sides, eko_transform_destroy
    public :: eko_transform_shape, eko_transform_source_shape
    public :: eko_transform_side_pids, eko_transform_side_xgrid, eko_transform_apply
    public :: eko_slices_spec_create, eko_slices_spec_destroy
    public :: eko_slices_spec_set_scales, eko_slices_spec_set_nf
    public :: eko_slices_create, eko_slices_destroy, eko_slices_len, eko_slices_shape
    public :: eko_slices_point, eko_slices_fac0, eko_slices_basis
    public :: eko_slices_side_pids, eko_slices_side_xgrid
    public :: eko_slices_write, eko_slices_borrow, eko_slices_release
    public :: eko_pineappl_state_create, eko_pineappl_state_destroy
    public :: eko_pineappl_state_check, eko_pineappl_state_served
    public :: eko_pineappl_operator

    interface
        !> pineappl's operator callback (EKO_pineappl_operator of the C ABI; pineappl_capi's
        !> OperatorCallback): a host linking pineappl's C API passes c_funloc(eko_pineappl_operator)
        !> to pineappl_grid_evolve, with state%ptr of an eko_pineappl_state as its state, and
        !> checks eko_pineappl_state_check afterwards. Not to be called from Fortran otherwise.
        subroutine eko_pineappl_operator(op_index, fac1, pids_in, x_in, pids_out, x_out, shape, &
                                         buffer, state) bind(c, name="EKO_pineappl_operator")
            import :: c_size_t, c_double, c_ptr
            integer(c_size_t), value :: op_index
            real(c_double), value :: fac1
            type(c_ptr), value :: pids_in, x_in, pids_out, x_out, shape, buffer, state
        end subroutine
    end interface

    interface
        function c_abi_version() bind(c, name="EKO_abi_version") result(v)
            import :: c_int32_t
            integer(c_int32_t) :: v
        end function
        function c_version() bind(c, name="EKO_version") result(p)
            import :: c_ptr
            type(c_ptr) :: p
        end function
        function c_status_name(status) bind(c, name="EKO_status_name") result(p)
            import :: c_ptr, c_int32_t
            integer(c_int32_t), value :: status
            type(c_ptr) :: p
        end function
        function c_strlen(s) bind(c, name="strlen") result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: s
            integer(c_size_t) :: n
        end function
        function c_handle_create() bind(c, name="EKO_handle_create") result(p)
            import :: c_ptr
            type(c_ptr) :: p
        end function
        subroutine c_handle_destroy(h) bind(c, name="EKO_handle_destroy")
            import :: c_ptr
            type(c_ptr), value :: h
        end subroutine
        function c_handle_status(h) bind(c, name="EKO_handle_status") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h
            integer(c_int32_t) :: s
        end function
        function c_handle_message(h) bind(c, name="EKO_handle_message") result(p)
            import :: c_ptr
            type(c_ptr), value :: h
            type(c_ptr) :: p
        end function
        function c_dataset_create(h, n_pid, pids, n_x, xgrid, mu2, nf, ds) &
            bind(c, name="EKO_dataset_create") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h
            integer(c_int32_t), value :: n_pid, n_x, nf
            integer(c_int32_t), intent(in) :: pids(*)
            real(c_double), intent(in) :: xgrid(*)
            real(c_double), value :: mu2
            type(c_ptr), intent(out) :: ds
            integer(c_int32_t) :: s
        end function
        subroutine c_dataset_destroy(ds) bind(c, name="EKO_dataset_destroy")
            import :: c_ptr
            type(c_ptr), value :: ds
        end subroutine
        function c_dataset_set_matching(h, ds, quark, mu2) &
            bind(c, name="EKO_dataset_set_matching") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, ds
            integer(c_int32_t), value :: quark
            real(c_double), value :: mu2
            integer(c_int32_t) :: s
        end function
        function c_dataset_set_interpolation(h, ds, degree, is_log) &
            bind(c, name="EKO_dataset_set_interpolation") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, ds
            integer(c_int32_t), value :: degree, is_log
            integer(c_int32_t) :: s
        end function
        function c_dataset_check_shape(h, ds, shape, layout) &
            bind(c, name="EKO_dataset_check_shape") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, ds
            integer(c_int64_t), intent(in) :: shape(4)
            integer(c_int32_t), value :: layout
            integer(c_int32_t) :: s
        end function
        function c_dataset_add_buffer(h, ds, kind, mu2, nf, layout, data, n, id) &
            bind(c, name="EKO_dataset_add_buffer") result(s)
            import :: c_ptr, c_int32_t, c_int64_t, c_double
            type(c_ptr), value :: h, ds, data
            integer(c_int32_t), value :: kind, nf, layout
            real(c_double), value :: mu2
            integer(c_int64_t), value :: n
            integer(c_int32_t), intent(out) :: id
            integer(c_int32_t) :: s
        end function
        function c_dataset_add_threshold(h, ds, from_mu2, from_nf, to_mu2, to_nf, layout, data, &
                                         n, id) bind(c, name="EKO_dataset_add_threshold") result(s)
            import :: c_ptr, c_int32_t, c_int64_t, c_double
            type(c_ptr), value :: h, ds, data
            real(c_double), value :: from_mu2, to_mu2
            integer(c_int32_t), value :: from_nf, to_nf, layout
            integer(c_int64_t), value :: n
            integer(c_int32_t), intent(out) :: id
            integer(c_int32_t) :: s
        end function
        function c_dataset_add_attribute_buffer(h, ds, id, attribute, data, n) &
            bind(c, name="EKO_dataset_add_attribute_buffer") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, ds, data
            integer(c_int32_t), value :: id, attribute
            integer(c_int64_t), value :: n
            integer(c_int32_t) :: s
        end function
        function c_dataset_bind(h, ds, id, attribute, data, n) &
            bind(c, name="EKO_dataset_bind") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, ds, data
            integer(c_int32_t), value :: id, attribute
            integer(c_int64_t), value :: n
            integer(c_int32_t) :: s
        end function
        function c_dataset_threshold_count(h, ds, n) &
            bind(c, name="EKO_dataset_threshold_count") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, ds
            integer(c_int32_t), intent(out) :: n
            integer(c_int32_t) :: s
        end function
        function c_dataset_threshold(h, ds, i, from_mu2, from_nf, to_mu2, to_nf) &
            bind(c, name="EKO_dataset_threshold") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, ds
            integer(c_int32_t), value :: i
            real(c_double), intent(out) :: from_mu2, to_mu2
            integer(c_int32_t), intent(out) :: from_nf, to_nf
            integer(c_int32_t) :: s
        end function
        function c_dataset_combine(h, ds, threads) bind(c, name="EKO_dataset_combine") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, ds
            integer(c_int32_t), value :: threads
            integer(c_int32_t) :: s
        end function
        function c_dataset_write_store(h, ds, dir) &
            bind(c, name="EKO_dataset_write_store") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h, ds
            character(kind=c_char), intent(in) :: dir(*)
            integer(c_int32_t) :: s
        end function
        function c_dataset_attach_store(h, ds, dir) &
            bind(c, name="EKO_dataset_attach_store") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h, ds
            character(kind=c_char), intent(in) :: dir(*)
            integer(c_int32_t) :: s
        end function
        function c_dataset_map(h, ds, id, attribute, data) &
            bind(c, name="EKO_dataset_map") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, ds
            integer(c_int32_t), value :: id, attribute
            type(c_ptr), intent(out) :: data
            integer(c_int32_t) :: s
        end function
        function c_dataset_commit(h, ds, id) bind(c, name="EKO_dataset_commit") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, ds
            integer(c_int32_t), value :: id
            integer(c_int32_t) :: s
        end function
        function c_store_open(h, dir, store) bind(c, name="EKO_store_open") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h
            character(kind=c_char), intent(in) :: dir(*)
            type(c_ptr), intent(out) :: store
            integer(c_int32_t) :: s
        end function
        subroutine c_store_destroy(store) bind(c, name="EKO_store_destroy")
            import :: c_ptr
            type(c_ptr), value :: store
        end subroutine
        function c_store_grid(h, store, n_pid, n_x) bind(c, name="EKO_store_grid") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, store
            integer(c_int32_t), intent(out) :: n_pid, n_x
            integer(c_int32_t) :: s
        end function
        function c_store_pids(h, store, pids, n) bind(c, name="EKO_store_pids") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, store
            integer(c_int32_t), intent(out) :: pids(*)
            integer(c_int32_t), value :: n
            integer(c_int32_t) :: s
        end function
        function c_store_xgrid(h, store, xgrid, n) bind(c, name="EKO_store_xgrid") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, store
            real(c_double), intent(out) :: xgrid(*)
            integer(c_int32_t), value :: n
            integer(c_int32_t) :: s
        end function
        function c_store_apply(h, store, mu2, nf, pdf, out, n_rep, n, threads) &
                bind(c, name="EKO_store_apply") result(s)
            import :: c_ptr, c_int32_t, c_int64_t, c_double
            type(c_ptr), value :: h, store
            real(c_double), value :: mu2
            integer(c_int32_t), value :: nf, threads
            real(c_double), intent(in) :: pdf(*)
            real(c_double), intent(out) :: out(*)
            integer(c_int64_t), value :: n_rep, n
            integer(c_int32_t) :: s
        end function
        function c_store_origin(h, store, mu2, nf) bind(c, name="EKO_store_origin") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, store
            real(c_double), intent(out) :: mu2
            integer(c_int32_t), intent(out) :: nf
            integer(c_int32_t) :: s
        end function
        function c_store_matching(h, store, quark, mu2, present) &
            bind(c, name="EKO_store_matching") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, store
            integer(c_int32_t), value :: quark
            real(c_double), intent(out) :: mu2
            integer(c_int32_t), intent(out) :: present
            integer(c_int32_t) :: s
        end function
        function c_store_threshold_view(h, store, from_mu2, from_nf, to_mu2, to_nf, attribute, &
                                        view) bind(c, name="EKO_store_threshold_view") result(s)
            import :: c_ptr, c_int32_t, c_double, c_view
            type(c_ptr), value :: h, store
            real(c_double), value :: from_mu2, to_mu2
            integer(c_int32_t), value :: from_nf, to_nf, attribute
            type(c_view), intent(out) :: view
            integer(c_int32_t) :: s
        end function
        function c_store_split(h, source, dests, n, boundaries, transfer) &
            bind(c, name="EKO_store_split") result(s)
            import :: c_ptr, c_int32_t, c_char, c_double
            type(c_ptr), value :: h
            character(kind=c_char), intent(in) :: source(*)
            type(c_ptr), intent(in) :: dests(*)
            integer(c_int32_t), value :: n, transfer
            real(c_double), intent(in) :: boundaries(*)
            integer(c_int32_t) :: s
        end function
        function c_store_point_count(h, store, n) &
            bind(c, name="EKO_store_point_count") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, store
            integer(c_int32_t), intent(out) :: n
            integer(c_int32_t) :: s
        end function
        function c_store_point(h, store, i, mu2, nf, files) &
            bind(c, name="EKO_store_point") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, store
            integer(c_int32_t), value :: i
            real(c_double), intent(out) :: mu2
            integer(c_int32_t), intent(out) :: nf, files
            integer(c_int32_t) :: s
        end function
        function c_store_view(h, store, kind, mu2, nf, attribute, view) &
            bind(c, name="EKO_store_view") result(s)
            import :: c_ptr, c_int32_t, c_double, c_view
            type(c_ptr), value :: h, store
            integer(c_int32_t), value :: kind, nf, attribute
            real(c_double), value :: mu2
            type(c_view), intent(out) :: view
            integer(c_int32_t) :: s
        end function
        function c_store_combine(h, dir, threads) bind(c, name="EKO_store_combine") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h
            character(kind=c_char), intent(in) :: dir(*)
            integer(c_int32_t), value :: threads
            integer(c_int32_t) :: s
        end function
        function c_store_clean(h, dir, force) bind(c, name="EKO_store_clean") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h
            character(kind=c_char), intent(in) :: dir(*)
            integer(c_int32_t), value :: force
            integer(c_int32_t) :: s
        end function
        function c_store_recover(h, dir) bind(c, name="EKO_store_recover") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h
            character(kind=c_char), intent(in) :: dir(*)
            integer(c_int32_t) :: s
        end function
        function c_store_merge(h, dest, sources, n, on_conflict, transfer) &
            bind(c, name="EKO_store_merge") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h
            character(kind=c_char), intent(in) :: dest(*)
            type(c_ptr), intent(in) :: sources(*)
            integer(c_int32_t), value :: n, on_conflict, transfer
            integer(c_int32_t) :: s
        end function
        function c_store_operator_shape(h, store, shape) &
            bind(c, name="EKO_store_operator_shape") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, store
            integer(c_int64_t), intent(out) :: shape(4)
            integer(c_int32_t) :: s
        end function
        function c_store_side_pids(h, store, side, pids, n) &
            bind(c, name="EKO_store_side_pids") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, store
            integer(c_int32_t), value :: side, n
            integer(c_int32_t), intent(out) :: pids(*)
            integer(c_int32_t) :: s
        end function
        function c_store_side_xgrid(h, store, side, xgrid, n) &
            bind(c, name="EKO_store_side_xgrid") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, store
            integer(c_int32_t), value :: side, n
            real(c_double), intent(out) :: xgrid(*)
            integer(c_int32_t) :: s
        end function
        function c_store_transform(h, store, t, kind, mu2, nf, attribute, out, n, layout) &
            bind(c, name="EKO_store_transform") result(s)
            import :: c_ptr, c_int32_t, c_int64_t, c_double
            type(c_ptr), value :: h, store, t
            integer(c_int32_t), value :: kind, nf, attribute, layout
            real(c_double), value :: mu2
            real(c_double), intent(inout) :: out(*)
            integer(c_int64_t), value :: n
            integer(c_int32_t) :: s
        end function
        function c_store_apply_transformed(h, store, t, mu2, nf, pdf, n_pdf, out, n_out, n_rep, &
                                           threads) &
            bind(c, name="EKO_store_apply_transformed") result(s)
            import :: c_ptr, c_int32_t, c_int64_t, c_double
            type(c_ptr), value :: h, store, t
            real(c_double), value :: mu2
            integer(c_int32_t), value :: nf, threads
            real(c_double), intent(in) :: pdf(*)
            real(c_double), intent(inout) :: out(*)
            integer(c_int64_t), value :: n_pdf, n_out, n_rep
            integer(c_int32_t) :: s
        end function
        function c_store_apply_check_shapes(h, store, t, pdf_shape, out_shape) &
            bind(c, name="EKO_store_apply_check_shapes") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, store, t
            integer(c_int64_t), intent(in) :: pdf_shape(3), out_shape(3)
            integer(c_int32_t) :: s
        end function
        function c_store_reshape(h, dir, dest, spec, threads) &
            bind(c, name="EKO_store_reshape") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h, spec
            character(kind=c_char), intent(in) :: dir(*), dest(*)
            integer(c_int32_t), value :: threads
            integer(c_int32_t) :: s
        end function
        function c_store_export(h, dir, out_path, with_parts, compression) &
            bind(c, name="EKO_store_export") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h
            character(kind=c_char), intent(in) :: dir(*), out_path(*)
            integer(c_int32_t), value :: with_parts, compression
            integer(c_int32_t) :: s
        end function
        function c_store_verify(h, dir, n_damaged, n_without_checksum) &
            bind(c, name="EKO_store_verify") result(s)
            import :: c_ptr, c_int32_t, c_char
            type(c_ptr), value :: h
            character(kind=c_char), intent(in) :: dir(*)
            integer(c_int32_t), intent(out) :: n_damaged, n_without_checksum
            integer(c_int32_t) :: s
        end function
        function c_transform_spec_create(h, spec) &
            bind(c, name="EKO_transform_spec_create") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h
            type(c_ptr), intent(out) :: spec
            integer(c_int32_t) :: s
        end function
        subroutine c_transform_spec_destroy(spec) bind(c, name="EKO_transform_spec_destroy")
            import :: c_ptr
            type(c_ptr), value :: spec
        end subroutine
        function c_transform_spec_set_xgrid(h, spec, side, xgrid, n) &
            bind(c, name="EKO_transform_spec_set_xgrid") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, spec
            integer(c_int32_t), value :: side, n
            real(c_double), intent(in) :: xgrid(*)
            integer(c_int32_t) :: s
        end function
        function c_transform_spec_set_basis(h, spec, side, basis) &
            bind(c, name="EKO_transform_spec_set_basis") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, spec
            integer(c_int32_t), value :: side, basis
            integer(c_int32_t) :: s
        end function
        function c_transform_spec_set_rotation(h, spec, side, matrix, pids, n) &
            bind(c, name="EKO_transform_spec_set_rotation") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, spec
            integer(c_int32_t), value :: side, n
            real(c_double), intent(in) :: matrix(*)
            integer(c_int32_t), intent(in) :: pids(*)
            integer(c_int32_t) :: s
        end function
        function c_transform_spec_set_interpolation(h, spec, degree, is_log) &
            bind(c, name="EKO_transform_spec_set_interpolation") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, spec
            integer(c_int32_t), value :: degree, is_log
            integer(c_int32_t) :: s
        end function
        function c_transform_create(h, store, spec, threads, t) &
            bind(c, name="EKO_transform_create") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, store, spec
            integer(c_int32_t), value :: threads
            type(c_ptr), intent(out) :: t
            integer(c_int32_t) :: s
        end function
        function c_transform_create_for_sides(h, spec, pids_out, n_pid_out, xgrid_out, n_x_out, &
                                              pids_in, n_pid_in, xgrid_in, n_x_in, threads, t) &
            bind(c, name="EKO_transform_create_for_sides") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, spec
            integer(c_int32_t), intent(in) :: pids_out(*), pids_in(*)
            real(c_double), intent(in) :: xgrid_out(*), xgrid_in(*)
            integer(c_int32_t), value :: n_pid_out, n_x_out, n_pid_in, n_x_in, threads
            type(c_ptr), intent(out) :: t
            integer(c_int32_t) :: s
        end function
        subroutine c_transform_destroy(t) bind(c, name="EKO_transform_destroy")
            import :: c_ptr
            type(c_ptr), value :: t
        end subroutine
        function c_transform_shape(h, t, shape) bind(c, name="EKO_transform_shape") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, t
            integer(c_int64_t), intent(out) :: shape(4)
            integer(c_int32_t) :: s
        end function
        function c_transform_source_shape(h, t, shape) &
            bind(c, name="EKO_transform_source_shape") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, t
            integer(c_int64_t), intent(out) :: shape(4)
            integer(c_int32_t) :: s
        end function
        function c_transform_side_pids(h, t, side, pids, n) &
            bind(c, name="EKO_transform_side_pids") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, t
            integer(c_int32_t), value :: side, n
            integer(c_int32_t), intent(out) :: pids(*)
            integer(c_int32_t) :: s
        end function
        function c_transform_side_xgrid(h, t, side, xgrid, n) &
            bind(c, name="EKO_transform_side_xgrid") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, t
            integer(c_int32_t), value :: side, n
            real(c_double), intent(out) :: xgrid(*)
            integer(c_int32_t) :: s
        end function
        function c_transform_check_shapes(h, t, op_shape, out_shape) &
            bind(c, name="EKO_transform_check_shapes") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, t
            integer(c_int64_t), intent(in) :: op_shape(4), out_shape(4)
            integer(c_int32_t) :: s
        end function
        function c_transform_apply(h, t, op, n_op, op_layout, out, n_out, out_layout) &
            bind(c, name="EKO_transform_apply") result(s)
            import :: c_ptr, c_int32_t, c_int64_t, c_double
            type(c_ptr), value :: h, t
            real(c_double), intent(in) :: op(*)
            real(c_double), intent(inout) :: out(*)
            integer(c_int64_t), value :: n_op, n_out
            integer(c_int32_t), value :: op_layout, out_layout
            integer(c_int32_t) :: s
        end function
        function c_slices_spec_create(h, spec) bind(c, name="EKO_slices_spec_create") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h
            type(c_ptr), intent(out) :: spec
            integer(c_int32_t) :: s
        end function
        subroutine c_slices_spec_destroy(spec) bind(c, name="EKO_slices_spec_destroy")
            import :: c_ptr
            type(c_ptr), value :: spec
        end subroutine
        function c_slices_spec_set_scales(h, spec, mu2, n) &
            bind(c, name="EKO_slices_spec_set_scales") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, spec
            real(c_double), intent(in) :: mu2(*)
            integer(c_int32_t), value :: n
            integer(c_int32_t) :: s
        end function
        function c_slices_spec_set_nf(h, spec, mu2, nf) &
            bind(c, name="EKO_slices_spec_set_nf") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, spec
            real(c_double), value :: mu2
            integer(c_int32_t), value :: nf
            integer(c_int32_t) :: s
        end function
        function c_slices_create(h, store, spec, t, slices) &
            bind(c, name="EKO_slices_create") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, store, spec, t
            type(c_ptr), intent(out) :: slices
            integer(c_int32_t) :: s
        end function
        subroutine c_slices_destroy(slices) bind(c, name="EKO_slices_destroy")
            import :: c_ptr
            type(c_ptr), value :: slices
        end subroutine
        function c_slices_len(h, slices, n) bind(c, name="EKO_slices_len") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, slices
            integer(c_int32_t), intent(out) :: n
            integer(c_int32_t) :: s
        end function
        function c_slices_shape(h, slices, shape) bind(c, name="EKO_slices_shape") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, slices
            integer(c_int64_t), intent(out) :: shape(4)
            integer(c_int32_t) :: s
        end function
        function c_slices_check_shape(h, slices, shape) &
            bind(c, name="EKO_slices_check_shape") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, slices
            integer(c_int64_t), intent(in) :: shape(4)
            integer(c_int32_t) :: s
        end function
        function c_slices_point(h, slices, i, mu2, nf) bind(c, name="EKO_slices_point") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, slices
            integer(c_int32_t), value :: i
            real(c_double), intent(out) :: mu2
            integer(c_int32_t), intent(out) :: nf
            integer(c_int32_t) :: s
        end function
        function c_slices_fac0(h, slices, fac0) bind(c, name="EKO_slices_fac0") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, slices
            real(c_double), intent(out) :: fac0
            integer(c_int32_t) :: s
        end function
        function c_slices_basis(h, slices, basis) bind(c, name="EKO_slices_basis") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, slices
            integer(c_int32_t), intent(out) :: basis
            integer(c_int32_t) :: s
        end function
        function c_slices_side_pids(h, slices, side, pids, n) &
            bind(c, name="EKO_slices_side_pids") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, slices
            integer(c_int32_t), value :: side, n
            integer(c_int32_t), intent(out) :: pids(*)
            integer(c_int32_t) :: s
        end function
        function c_slices_side_xgrid(h, slices, side, xgrid, n) &
            bind(c, name="EKO_slices_side_xgrid") result(s)
            import :: c_ptr, c_int32_t, c_double
            type(c_ptr), value :: h, slices
            integer(c_int32_t), value :: side, n
            real(c_double), intent(out) :: xgrid(*)
            integer(c_int32_t) :: s
        end function
        function c_slices_write(h, slices, i, buffer, n, layout) &
            bind(c, name="EKO_slices_write") result(s)
            import :: c_ptr, c_int32_t, c_int64_t, c_double
            type(c_ptr), value :: h, slices
            integer(c_int32_t), value :: i, layout
            real(c_double), intent(inout) :: buffer(*)
            integer(c_int64_t), value :: n
            integer(c_int32_t) :: s
        end function
        function c_slices_borrow(h, slices, i, view) bind(c, name="EKO_slices_borrow") result(s)
            import :: c_ptr, c_int32_t, c_view
            type(c_ptr), value :: h, slices
            integer(c_int32_t), value :: i
            type(c_view), intent(out) :: view
            integer(c_int32_t) :: s
        end function
        function c_slices_release(h, slices, i) bind(c, name="EKO_slices_release") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, slices
            integer(c_int32_t), value :: i
            integer(c_int32_t) :: s
        end function
        function c_pineappl_state_create(h, slices, n, state) &
            bind(c, name="EKO_pineappl_state_create") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h
            type(c_ptr), intent(in) :: slices(*)
            integer(c_int64_t), value :: n
            type(c_ptr), intent(out) :: state
            integer(c_int32_t) :: s
        end function
        subroutine c_pineappl_state_destroy(state) bind(c, name="EKO_pineappl_state_destroy")
            import :: c_ptr
            type(c_ptr), value :: state
        end subroutine
        function c_pineappl_state_check(h, state) &
            bind(c, name="EKO_pineappl_state_check") result(s)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: h, state
            integer(c_int32_t) :: s
        end function
        function c_pineappl_state_served(h, state, served) &
            bind(c, name="EKO_pineappl_state_served") result(s)
            import :: c_ptr, c_int32_t, c_int64_t
            type(c_ptr), value :: h, state
            integer(c_int64_t), intent(out) :: served
            integer(c_int32_t) :: s
        end function
    end interface

contains

    ! A Fortran string as a NUL-terminated C string (trailing blanks dropped).
    pure function c_string(s) result(c)
        character(len=*), intent(in) :: s
        character(kind=c_char) :: c(len_trim(s) + 1)
        integer :: i
        do i = 1, len_trim(s)
            c(i) = s(i:i)
        end do
        c(len_trim(s) + 1) = c_null_char
    end function

    ! A copy of a NUL-terminated C string.
    function f_string(p) result(s)
        type(c_ptr), intent(in) :: p
        character(len=:), allocatable :: s
        character(kind=c_char), pointer :: chars(:)
        integer :: i, n
        if (.not. c_associated(p)) then
            s = ''
            return
        end if
        n = int(c_strlen(p))
        call c_f_pointer(p, chars, [n])
        allocate (character(len=n) :: s)
        do i = 1, n
            s(i:i) = chars(i)
        end do
    end function

    !> The ABI version of the loaded library (compare with EKO_MODULE_ABI_VERSION).
    function eko_abi_version() result(v)
        integer(c_int32_t) :: v
        v = c_abi_version()
    end function

    !> The library version, "MAJOR.MINOR.PATCH".
    function eko_version() result(v)
        character(len=:), allocatable :: v
        v = f_string(c_version())
    end function

    !> The name of a status code, e.g. "EKO_ERROR_BAD_SHAPE".
    function eko_status_name(status) result(name)
        integer(c_int32_t), intent(in) :: status
        character(len=:), allocatable :: name
        name = f_string(c_status_name(status))
    end function

    !> A new handle.
    function eko_handle_create() result(h)
        type(eko_handle) :: h
        h%ptr = c_handle_create()
    end function

    !> Frees a handle (a handle never created is accepted).
    subroutine eko_handle_destroy(h)
        type(eko_handle), intent(inout) :: h
        call c_handle_destroy(h%ptr)
        h%ptr = c_null_ptr
    end subroutine

    !> The status of the handle's last call.
    function eko_status(h) result(s)
        type(eko_handle), intent(in) :: h
        integer(c_int32_t) :: s
        s = c_handle_status(h%ptr)
    end function

    !> The message of the handle's last call (empty after a success), copied.
    function eko_message(h) result(m)
        type(eko_handle), intent(in) :: h
        character(len=:), allocatable :: m
        m = f_string(c_handle_message(h%ptr))
    end function

    !> A dataset for the grid pids(:), xgrid(:) with origin (mu2, nf).
    function eko_dataset_create(h, pids, xgrid, origin_mu2, origin_nf, ds) result(s)
        type(eko_handle), intent(in) :: h
        integer(c_int32_t), intent(in) :: pids(:)
        real(c_double), intent(in) :: xgrid(:)
        real(c_double), intent(in) :: origin_mu2
        integer(c_int32_t), intent(in) :: origin_nf
        type(eko_dataset), intent(inout) :: ds
        integer(c_int32_t) :: s
        type(c_ptr) :: p
        s = c_dataset_create(h%ptr, size(pids, kind=c_int32_t), pids, &
                             size(xgrid, kind=c_int32_t), xgrid, origin_mu2, origin_nf, p)
        if (s == EKO_OK) ds%ptr = p
    end function

    !> Frees a dataset (the host's arrays are untouched).
    subroutine eko_dataset_destroy(ds)
        type(eko_dataset), intent(inout) :: ds
        call c_dataset_destroy(ds%ptr)
        ds%ptr = c_null_ptr
    end subroutine

    !> Sets the matching scale mu2 of quark (EKO_QUARK_*), before any buffer is added.
    function eko_dataset_set_matching(h, ds, quark, mu2) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: quark
        real(c_double), intent(in) :: mu2
        integer(c_int32_t) :: s
        s = c_dataset_set_matching(h%ptr, ds%ptr, quark, mu2)
    end function

    !> Sets the interpolation the operators were computed with: Lagrange polynomials of degree
    !> (at least 1), in ln x when is_log (eko's default: 4, .true.).
    function eko_dataset_set_interpolation(h, ds, degree, is_log) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: degree
        logical, intent(in) :: is_log
        integer(c_int32_t) :: s
        integer(c_int32_t) :: flag
        flag = 0
        if (is_log) flag = 1
        s = c_dataset_set_interpolation(h%ptr, ds%ptr, degree, flag)
    end function

    !> Registers op(n_pid, n_x, n_pid, n_x) as point (mu2, nf)'s kind (EKO_KIND_*), in place.
    !> The array's shape is checked against the grid (EKO_ERROR_BAD_SHAPE).
    function eko_dataset_add_buffer(h, ds, kind, mu2, nf, op, id) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: kind, nf
        real(c_double), intent(in) :: mu2
        real(c_double), intent(inout), target, contiguous :: op(:, :, :, :)
        integer(c_int32_t), intent(out) :: id
        integer(c_int32_t) :: s
        s = c_dataset_check_shape(h%ptr, ds%ptr, shape(op, kind=c_int64_t), EKO_LAYOUT_FORTRAN)
        if (s /= EKO_OK) return
        s = c_dataset_add_buffer(h%ptr, ds%ptr, kind, mu2, nf, EKO_LAYOUT_FORTRAN, c_loc(op), &
                                 size(op, kind=c_int64_t), id)
    end function

    !> Declares point (mu2, nf)'s kind without memory (bind it later, or map it).
    function eko_dataset_declare_buffer(h, ds, kind, mu2, nf, id) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: kind, nf
        real(c_double), intent(in) :: mu2
        integer(c_int32_t), intent(out) :: id
        integer(c_int32_t) :: s
        s = c_dataset_add_buffer(h%ptr, ds%ptr, kind, mu2, nf, EKO_LAYOUT_FORTRAN, c_null_ptr, &
                                 0_c_int64_t, id)
    end function

    !> Registers op as the threshold element from (from_mu2, from_nf) to (to_mu2, to_nf).
    function eko_dataset_add_threshold(h, ds, from_mu2, from_nf, to_mu2, to_nf, op, id) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        real(c_double), intent(in) :: from_mu2, to_mu2
        integer(c_int32_t), intent(in) :: from_nf, to_nf
        real(c_double), intent(inout), target, contiguous :: op(:, :, :, :)
        integer(c_int32_t), intent(out) :: id
        integer(c_int32_t) :: s
        s = c_dataset_check_shape(h%ptr, ds%ptr, shape(op, kind=c_int64_t), EKO_LAYOUT_FORTRAN)
        if (s /= EKO_OK) return
        s = c_dataset_add_threshold(h%ptr, ds%ptr, from_mu2, from_nf, to_mu2, to_nf, &
                                    EKO_LAYOUT_FORTRAN, c_loc(op), size(op, kind=c_int64_t), id)
    end function

    !> Declares a threshold element without memory.
    function eko_dataset_declare_threshold(h, ds, from_mu2, from_nf, to_mu2, to_nf, id) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        real(c_double), intent(in) :: from_mu2, to_mu2
        integer(c_int32_t), intent(in) :: from_nf, to_nf
        integer(c_int32_t), intent(out) :: id
        integer(c_int32_t) :: s
        s = c_dataset_add_threshold(h%ptr, ds%ptr, from_mu2, from_nf, to_mu2, to_nf, &
                                    EKO_LAYOUT_FORTRAN, c_null_ptr, 0_c_int64_t, id)
    end function

    !> Registers err as attribute (EKO_ATTRIBUTE_ERROR) of buffer id; its shape is checked.
    function eko_dataset_add_attribute_buffer(h, ds, id, attribute, err) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: id, attribute
        real(c_double), intent(inout), target, contiguous :: err(:, :, :, :)
        integer(c_int32_t) :: s
        s = c_dataset_check_shape(h%ptr, ds%ptr, shape(err, kind=c_int64_t), EKO_LAYOUT_FORTRAN)
        if (s /= EKO_OK) return
        s = c_dataset_add_attribute_buffer(h%ptr, ds%ptr, id, attribute, c_loc(err), &
                                           size(err, kind=c_int64_t))
    end function

    !> Declares attribute (EKO_ATTRIBUTE_ERROR) of buffer id without memory.
    function eko_dataset_declare_attribute_buffer(h, ds, id, attribute) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: id, attribute
        integer(c_int32_t) :: s
        s = c_dataset_add_attribute_buffer(h%ptr, ds%ptr, id, attribute, c_null_ptr, 0_c_int64_t)
    end function

    !> Binds op to the declared attribute (EKO_ATTRIBUTE_*) of buffer id.
    function eko_dataset_bind(h, ds, id, attribute, op) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: id, attribute
        real(c_double), intent(inout), target, contiguous :: op(:, :, :, :)
        integer(c_int32_t) :: s
        s = c_dataset_check_shape(h%ptr, ds%ptr, shape(op, kind=c_int64_t), EKO_LAYOUT_FORTRAN)
        if (s /= EKO_OK) return
        s = c_dataset_bind(h%ptr, ds%ptr, id, attribute, c_loc(op), size(op, kind=c_int64_t))
    end function

    !> The number of threshold elements the dataset's partials need.
    function eko_dataset_threshold_count(h, ds, n) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(out) :: n
        integer(c_int32_t) :: s
        s = c_dataset_threshold_count(h%ptr, ds%ptr, n)
    end function

    !> Threshold element i (1-based here) the partials need: from (from_mu2, from_nf) to
    !> (to_mu2, to_nf).
    function eko_dataset_threshold(h, ds, i, from_mu2, from_nf, to_mu2, to_nf) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: i
        real(c_double), intent(out) :: from_mu2, to_mu2
        integer(c_int32_t), intent(out) :: from_nf, to_nf
        integer(c_int32_t) :: s
        s = c_dataset_threshold(h%ptr, ds%ptr, i - 1, from_mu2, from_nf, to_mu2, to_nf)
    end function

    !> Combines every partial: into its final buffer if registered, else in place.
    function eko_dataset_combine(h, ds, threads) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: threads
        integer(c_int32_t) :: s
        s = c_dataset_combine(h%ptr, ds%ptr, threads)
    end function

    !> Writes the dataset as the store in directory dir.
    function eko_dataset_write_store(h, ds, dir) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        character(len=*), intent(in) :: dir
        integer(c_int32_t) :: s
        s = c_dataset_write_store(h%ptr, ds%ptr, c_string(dir))
    end function

    !> Attaches the dataset to the store in dir (created if missing).
    function eko_dataset_attach_store(h, ds, dir) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        character(len=*), intent(in) :: dir
        integer(c_int32_t) :: s
        s = c_dataset_attach_store(h%ptr, ds%ptr, c_string(dir))
    end function

    !> Creates the store file of a declared point attribute and points op at it, to fill in
    !> place: op(n_pid, n_x, n_pid, n_x) in Fortran order.
    function eko_dataset_map(h, ds, id, attribute, n_pid, n_x, op) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: id, attribute, n_pid, n_x
        real(c_double), pointer, intent(out) :: op(:, :, :, :)
        integer(c_int32_t) :: s
        type(c_ptr) :: p
        nullify (op)
        s = c_dataset_map(h%ptr, ds%ptr, id, attribute, p)
        if (s == EKO_OK) call c_f_pointer(p, op, [n_pid, n_x, n_pid, n_x])
    end function

    !> Commits the mapped files of buffer id into the store.
    function eko_dataset_commit(h, ds, id) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_dataset), intent(in) :: ds
        integer(c_int32_t), intent(in) :: id
        integer(c_int32_t) :: s
        s = c_dataset_commit(h%ptr, ds%ptr, id)
    end function

    !> Opens the store in dir.
    function eko_store_open(h, dir, store) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: dir
        type(eko_store), intent(inout) :: store
        integer(c_int32_t) :: s
        type(c_ptr) :: p
        s = c_store_open(h%ptr, c_string(dir), p)
        if (s == EKO_OK) store%ptr = p
    end function

    !> Frees a store; pointers from eko_store_operator become invalid.
    subroutine eko_store_destroy(store)
        type(eko_store), intent(inout) :: store
        call c_store_destroy(store%ptr)
        store%ptr = c_null_ptr
    end subroutine

    !> The grid's numbers of flavours and x values.
    function eko_store_grid(h, store, n_pid, n_x) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int32_t), intent(out) :: n_pid, n_x
        integer(c_int32_t) :: s
        s = c_store_grid(h%ptr, store%ptr, n_pid, n_x)
    end function

    !> The grid's flavours, into pids(n_pid).
    function eko_store_pids(h, store, pids) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int32_t), intent(out) :: pids(:)
        integer(c_int32_t) :: s
        s = c_store_pids(h%ptr, store%ptr, pids, size(pids, kind=c_int32_t))
    end function

    !> The x grid, into xgrid(n_x).
    function eko_store_xgrid(h, store, xgrid) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        real(c_double), intent(out) :: xgrid(:)
        integer(c_int32_t) :: s
        s = c_store_xgrid(h%ptr, store%ptr, xgrid, size(xgrid, kind=c_int32_t))
    end function

    !> Evolves pdf(n_x, n_pid, n_rep) with point (mu2, nf)'s final operator into out (same
    !> shape): out(j, a, r) = sum over k, b of O(a, j, b, k) pdf(k, b, r). threads 0: one per core.
    !> For a reshaped store, pdf is on the input side and out(n_x_out, n_pid_out, n_rep) on the
    !> output side. Wrong extents: EKO_ERROR_BAD_SHAPE with a message in the handle.
    function eko_store_apply(h, store, mu2, nf, pdf, out, threads) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        real(c_double), intent(in) :: mu2
        integer(c_int32_t), intent(in) :: nf, threads
        real(c_double), contiguous, intent(in) :: pdf(:, :, :)
        real(c_double), contiguous, intent(inout) :: out(:, :, :)
        integer(c_int32_t) :: s
        ! Through EKO_store_apply_transformed with no transform: the extents are checked (with a
        ! message in the handle), and a reshaped store's sides may differ in length.
        s = eko_store_apply_transformed(h, store, eko_transform(), mu2, nf, pdf, out, threads)
    end function

    !> The number of points with files.
    function eko_store_point_count(h, store, n) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int32_t), intent(out) :: n
        integer(c_int32_t) :: s
        s = c_store_point_count(h%ptr, store%ptr, n)
    end function

    !> Point i (1-based here): mu2, nf and its EKO_FILE_* bits.
    function eko_store_point(h, store, i, mu2, nf, files) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int32_t), intent(in) :: i
        real(c_double), intent(out) :: mu2
        integer(c_int32_t), intent(out) :: nf, files
        integer(c_int32_t) :: s
        s = c_store_point(h%ptr, store%ptr, i - 1, mu2, nf, files)
    end function

    !> Points op at the attribute (EKO_ATTRIBUTE_*) of point (mu2, nf)'s kind (EKO_KIND_*),
    !> mapped in place, no copy, read-only, valid until eko_store_destroy. layout tells the
    !> index order: EKO_LAYOUT_FORTRAN gives op(pid_out, x_out, pid_in, x_in); EKO_LAYOUT_C
    !> (files written in C order, as eko and NumPy write them) gives op(x_in, pid_in, x_out,
    !> pid_out). The extents are the grid's, or eko_store_operator_shape's for the final
    !> operators of a reshaped store.
    function eko_store_operator(h, store, kind, mu2, nf, attribute, op, layout) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int32_t), intent(in) :: kind, nf, attribute
        real(c_double), intent(in) :: mu2
        real(c_double), pointer, intent(out) :: op(:, :, :, :)
        integer(c_int32_t), intent(out) :: layout
        integer(c_int32_t) :: s
        type(c_view) :: v
        nullify (op)
        s = c_store_view(h%ptr, store%ptr, kind, mu2, nf, attribute, v)
        if (s == EKO_OK) call point_at(v, op, layout)
    end function

    ! A Fortran pointer onto a view: natural indices for Fortran order, reversed for C order.
    subroutine point_at(v, op, layout)
        type(c_view), intent(in) :: v
        real(c_double), pointer, intent(out) :: op(:, :, :, :)
        integer(c_int32_t), intent(out) :: layout
        layout = v%layout
        if (layout == EKO_LAYOUT_FORTRAN) then
            call c_f_pointer(v%data, op, v%shape)
        else
            call c_f_pointer(v%data, op, v%shape(4:1:-1))
        end if
    end subroutine

    !> Points op at a threshold element of the store's thresholds.npz (from (from_mu2, from_nf)
    !> to (to_mu2, to_nf)), read-only, indexed as in eko_store_operator.
    function eko_store_threshold_operator(h, store, from_mu2, from_nf, to_mu2, to_nf, attribute, &
                                          op, layout) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        real(c_double), intent(in) :: from_mu2, to_mu2
        integer(c_int32_t), intent(in) :: from_nf, to_nf, attribute
        real(c_double), pointer, intent(out) :: op(:, :, :, :)
        integer(c_int32_t), intent(out) :: layout
        integer(c_int32_t) :: s
        type(c_view) :: v
        nullify (op)
        s = c_store_threshold_view(h%ptr, store%ptr, from_mu2, from_nf, to_mu2, to_nf, &
                                   attribute, v)
        if (s == EKO_OK) call point_at(v, op, layout)
    end function

    !> The origin of every evolution.
    function eko_store_origin(h, store, mu2, nf) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        real(c_double), intent(out) :: mu2
        integer(c_int32_t), intent(out) :: nf
        integer(c_int32_t) :: s
        s = c_store_origin(h%ptr, store%ptr, mu2, nf)
    end function

    !> The matching scale of quark (EKO_QUARK_*): present is .false. (mu2 = 0) when none.
    function eko_store_matching(h, store, quark, mu2, present) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int32_t), intent(in) :: quark
        real(c_double), intent(out) :: mu2
        logical, intent(out) :: present
        integer(c_int32_t) :: s, p
        s = c_store_matching(h%ptr, store%ptr, quark, mu2, p)
        present = p /= 0
    end function

    !> Combines every partial of the store in dir (threads 0: one per core).
    function eko_store_combine(h, dir, threads) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: dir
        integer(c_int32_t), intent(in) :: threads
        integer(c_int32_t) :: s
        s = c_store_combine(h%ptr, c_string(dir), threads)
    end function

    !> Removes thresholds.npz from the store in dir (force: even if partials need it).
    function eko_store_clean(h, dir, force) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: dir
        logical, intent(in) :: force
        integer(c_int32_t) :: s
        s = c_store_clean(h%ptr, c_string(dir), merge(1_c_int32_t, 0_c_int32_t, force))
    end function

    !> Brings the store in dir back to a consistent state after an interrupted operation
    !> (EKO_store_recover): finishes or undoes it, removes dead writers' temporary files.
    function eko_store_recover(h, dir) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: dir
        integer(c_int32_t) :: s
        s = c_store_recover(h%ptr, c_string(dir))
    end function

    !> Merges the stores sources(:) into dest (EKO_ON_CONFLICT_*, EKO_TRANSFER_*).
    function eko_store_merge(h, dest, sources, on_conflict, transfer) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: dest
        character(len=*), intent(in) :: sources(:)
        integer(c_int32_t), intent(in) :: on_conflict, transfer
        integer(c_int32_t) :: s
        character(kind=c_char), allocatable, target :: names(:, :)
        type(c_ptr) :: ptrs(size(sources))
        call c_strings(sources, names, ptrs)
        s = c_store_merge(h%ptr, c_string(dest), ptrs, size(sources, kind=c_int32_t), &
                          on_conflict, transfer)
    end function

    !> Splits the store source into the new stores dests(:) at the mu2 boundaries(:) (one fewer
    !> than dests), files moved by transfer (EKO_TRANSFER_*). Other sizes of boundaries return
    !> EKO_ERROR_BAD_SHAPE without calling libeko (the handle keeps its previous state).
    function eko_store_split(h, source, dests, boundaries, transfer) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: source
        character(len=*), intent(in) :: dests(:)
        real(c_double), intent(in) :: boundaries(:)
        integer(c_int32_t), intent(in) :: transfer
        integer(c_int32_t) :: s
        character(kind=c_char), allocatable, target :: names(:, :)
        type(c_ptr) :: ptrs(size(dests))
        if (size(boundaries) /= size(dests) - 1) then
            s = EKO_ERROR_BAD_SHAPE ! checked here: the C call cannot see the array's size
            return
        end if
        call c_strings(dests, names, ptrs)
        s = c_store_split(h%ptr, c_string(source), ptrs, size(dests, kind=c_int32_t), &
                          boundaries, transfer)
    end function

    !> The shape of the store's final operators, shape = (n_pid_out, n_x_out, n_pid_in,
    !> n_x_in): the grid's (n_pid, n_x, n_pid, n_x) unless the store is reshaped.
    function eko_store_operator_shape(h, store, shape) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int64_t), intent(out) :: shape(4)
        integer(c_int32_t) :: s
        s = c_store_operator_shape(h%ptr, store%ptr, shape)
    end function

    !> The pids of side (EKO_SIDE_*) of the store's final operators, into pids(n).
    function eko_store_side_pids(h, store, side, pids) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int32_t), intent(in) :: side
        integer(c_int32_t), intent(out) :: pids(:)
        integer(c_int32_t) :: s
        s = c_store_side_pids(h%ptr, store%ptr, side, pids, size(pids, kind=c_int32_t))
    end function

    !> The x grid of side (EKO_SIDE_*) of the store's final operators, into xgrid(n).
    function eko_store_side_xgrid(h, store, side, xgrid) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        integer(c_int32_t), intent(in) :: side
        real(c_double), intent(out) :: xgrid(:)
        integer(c_int32_t) :: s
        s = c_store_side_xgrid(h%ptr, store%ptr, side, xgrid, size(xgrid, kind=c_int32_t))
    end function

    !> Transforms the attribute (EKO_ATTRIBUTE_*) of point (mu2, nf)'s kind (EKO_KIND_*) with t
    !> into out(n_pid_out, n_x_out, n_pid_in, n_x_in), whose extents are checked against
    !> eko_transform_shape (EKO_ERROR_BAD_SHAPE). out is written only on success.
    function eko_store_transform(h, store, t, kind, mu2, nf, attribute, out) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        type(eko_transform), intent(in) :: t
        integer(c_int32_t), intent(in) :: kind, nf, attribute
        real(c_double), intent(in) :: mu2
        real(c_double), contiguous, intent(inout) :: out(:, :, :, :)
        integer(c_int32_t) :: s
        integer(c_int64_t) :: source(4)
        s = c_transform_source_shape(h%ptr, t%ptr, source)
        if (s /= EKO_OK) return
        s = c_transform_check_shapes(h%ptr, t%ptr, source, shape(out, kind=c_int64_t))
        if (s /= EKO_OK) return
        s = c_store_transform(h%ptr, store%ptr, t%ptr, kind, mu2, nf, attribute, out, &
                              size(out, kind=c_int64_t), EKO_LAYOUT_FORTRAN)
    end function

    !> Evolves pdf(n_x_in, n_pid_in, n_rep) with point (mu2, nf)'s final operator, transformed
    !> first by t (pass eko_transform(), a transform never created, for none), into
    !> out(n_x_out, n_pid_out, n_rep): out(j, a, r) = sum over k, b of O(a, j, b, k) pdf(k, b, r).
    !> The sides are those of t's result (eko_transform_shape, eko_transform_side_*), else of
    !> the store's final operators (eko_store_operator_shape, eko_store_side_*): a reshaped
    !> store whose sides differ in length evolves too. The extents are checked
    !> (EKO_ERROR_BAD_SHAPE, naming them; EKO_ERROR_INCOMPATIBLE for a transform not made from
    !> this store). threads 0: one per core. out is written only on success.
    function eko_store_apply_transformed(h, store, t, mu2, nf, pdf, out, threads) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        type(eko_transform), intent(in) :: t
        real(c_double), intent(in) :: mu2
        integer(c_int32_t), intent(in) :: nf, threads
        real(c_double), contiguous, intent(in) :: pdf(:, :, :)
        real(c_double), contiguous, intent(inout) :: out(:, :, :)
        integer(c_int32_t) :: s
        integer(c_int64_t) :: pdf_shape(3), out_shape(3)
        ! libeko takes the extents in C index order (n_rep, n_pid, n_x).
        pdf_shape = [size(pdf, 3, kind=c_int64_t), size(pdf, 2, kind=c_int64_t), &
                     size(pdf, 1, kind=c_int64_t)]
        out_shape = [size(out, 3, kind=c_int64_t), size(out, 2, kind=c_int64_t), &
                     size(out, 1, kind=c_int64_t)]
        s = c_store_apply_check_shapes(h%ptr, store%ptr, t%ptr, pdf_shape, out_shape)
        if (s /= EKO_OK) return
        s = c_store_apply_transformed(h%ptr, store%ptr, t%ptr, mu2, nf, pdf, &
                                      size(pdf, kind=c_int64_t), out, size(out, kind=c_int64_t), &
                                      size(pdf, 3, kind=c_int64_t), threads)
    end function

    !> Writes the final operators of the store in dir, transformed as spec asks, as a new store
    !> in dest (missing or an empty directory), built beside it and renamed into place, as eko
    !> reshape does; threads 0: one per core. Nothing appears at dest on failure.
    function eko_store_reshape(h, dir, dest, spec, threads) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: dir, dest
        type(eko_transform_spec), intent(in) :: spec
        integer(c_int32_t), intent(in) :: threads
        integer(c_int32_t) :: s
        s = c_store_reshape(h%ptr, c_string(dir), c_string(dest), spec%ptr, threads)
    end function

    !> Writes the store in dir as an eko 0.15 archive at out_path (a .tar that eko.EKO.read
    !> opens), as eko export does; with_parts /= 0 adds partials and thresholds as eko's parts;
    !> compression EKO_COMPRESSION_LZ4 or EKO_COMPRESSION_NONE. Nothing appears on failure.
    function eko_store_export(h, dir, out_path, with_parts, compression) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: dir, out_path
        integer(c_int32_t), intent(in) :: with_parts, compression
        integer(c_int32_t) :: s
        s = c_store_export(h%ptr, c_string(dir), c_string(out_path), with_parts, compression)
    end function

    !> Every file of the store checked once (eko verify): EKO_OK when none is damaged, else
    !> EKO_ERROR_MALFORMED_FILE naming the first; the counts are set either way.
    function eko_store_verify(h, dir, n_damaged, n_without_checksum) result(s)
        type(eko_handle), intent(in) :: h
        character(len=*), intent(in) :: dir
        integer(c_int32_t), intent(out) :: n_damaged, n_without_checksum
        integer(c_int32_t) :: s
        s = c_store_verify(h%ptr, c_string(dir), n_damaged, n_without_checksum)
    end function

    !> A new spec, asking nothing yet.
    function eko_transform_spec_create(h, spec) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform_spec), intent(inout) :: spec
        integer(c_int32_t) :: s
        type(c_ptr) :: p
        s = c_transform_spec_create(h%ptr, p)
        if (s == EKO_OK) spec%ptr = p
    end function

    !> Frees a spec (transforms made from it are not affected).
    subroutine eko_transform_spec_destroy(spec)
        type(eko_transform_spec), intent(inout) :: spec
        call c_transform_spec_destroy(spec%ptr)
        spec%ptr = c_null_ptr
    end subroutine

    !> Asks that side (EKO_SIDE_*) be reinterpolated onto xgrid(:).
    function eko_transform_spec_set_xgrid(h, spec, side, xgrid) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform_spec), intent(in) :: spec
        integer(c_int32_t), intent(in) :: side
        real(c_double), intent(in) :: xgrid(:)
        integer(c_int32_t) :: s
        s = c_transform_spec_set_xgrid(h%ptr, spec%ptr, side, xgrid, size(xgrid, kind=c_int32_t))
    end function

    !> Asks that side (EKO_SIDE_*) be rotated to basis (EKO_BASIS_FLAVOR, EKO_BASIS_EVOL).
    function eko_transform_spec_set_basis(h, spec, side, basis) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform_spec), intent(in) :: spec
        integer(c_int32_t), intent(in) :: side, basis
        integer(c_int32_t) :: s
        s = c_transform_spec_set_basis(h%ptr, spec%ptr, side, basis)
    end function

    !> Asks that side (EKO_SIDE_*) be rotated by matrix(new, old), n x n, into the n new pids(:)
    !> (a PDF in the new basis is matmul(matrix, pdf)). A matrix that is not size(pids) square
    !> returns EKO_ERROR_BAD_SHAPE without calling libeko (the handle keeps its previous state).
    function eko_transform_spec_set_rotation(h, spec, side, matrix, pids) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform_spec), intent(in) :: spec
        integer(c_int32_t), intent(in) :: side
        real(c_double), intent(in) :: matrix(:, :)
        integer(c_int32_t), intent(in) :: pids(:)
        integer(c_int32_t) :: s
        real(c_double) :: rows(size(pids), size(pids))
        if (size(matrix, 1) /= size(pids) .or. size(matrix, 2) /= size(pids)) then
            s = EKO_ERROR_BAD_SHAPE ! checked here: the C call cannot see the array's size
            return
        end if
        rows = transpose(matrix) ! libeko reads the matrix row-major: matrix(new, old) by rows
        s = c_transform_spec_set_rotation(h%ptr, spec%ptr, side, rows, pids, &
                                          size(pids, kind=c_int32_t))
    end function

    !> Sets the interpolation: Lagrange polynomials of degree, in ln x when is_log.
    function eko_transform_spec_set_interpolation(h, spec, degree, is_log) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform_spec), intent(in) :: spec
        integer(c_int32_t), intent(in) :: degree
        logical, intent(in) :: is_log
        integer(c_int32_t) :: s
        s = c_transform_spec_set_interpolation(h%ptr, spec%ptr, degree, &
                                               merge(1_c_int32_t, 0_c_int32_t, is_log))
    end function

    !> The transform spec asks of the store's final operators, on threads threads (0: one per
    !> core).
    function eko_transform_create(h, store, spec, threads, t) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        type(eko_transform_spec), intent(in) :: spec
        integer(c_int32_t), intent(in) :: threads
        type(eko_transform), intent(inout) :: t
        integer(c_int32_t) :: s
        type(c_ptr) :: p
        s = c_transform_create(h%ptr, store%ptr, spec%ptr, threads, p)
        if (s == EKO_OK) t%ptr = p
    end function

    !> The transform spec asks of operators whose output side is (pids_out(:), xgrid_out(:))
    !> and input side (pids_in(:), xgrid_in(:)): a host's arrays, no store.
    function eko_transform_create_for_sides(h, spec, pids_out, xgrid_out, pids_in, xgrid_in, &
                                            threads, t) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform_spec), intent(in) :: spec
        integer(c_int32_t), intent(in) :: pids_out(:), pids_in(:)
        real(c_double), intent(in) :: xgrid_out(:), xgrid_in(:)
        integer(c_int32_t), intent(in) :: threads
        type(eko_transform), intent(inout) :: t
        integer(c_int32_t) :: s
        type(c_ptr) :: p
        s = c_transform_create_for_sides(h%ptr, spec%ptr, &
                                         pids_out, size(pids_out, kind=c_int32_t), &
                                         xgrid_out, size(xgrid_out, kind=c_int32_t), &
                                         pids_in, size(pids_in, kind=c_int32_t), &
                                         xgrid_in, size(xgrid_in, kind=c_int32_t), threads, p)
        if (s == EKO_OK) t%ptr = p
    end function

    !> Frees a transform.
    subroutine eko_transform_destroy(t)
        type(eko_transform), intent(inout) :: t
        call c_transform_destroy(t%ptr)
        t%ptr = c_null_ptr
    end subroutine

    !> The shape of the operators the transform makes: (n_pid_out, n_x_out, n_pid_in, n_x_in).
    function eko_transform_shape(h, t, shape) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform), intent(in) :: t
        integer(c_int64_t), intent(out) :: shape(4)
        integer(c_int32_t) :: s
        s = c_transform_shape(h%ptr, t%ptr, shape)
    end function

    !> The shape of the operators the transform takes.
    function eko_transform_source_shape(h, t, shape) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform), intent(in) :: t
        integer(c_int64_t), intent(out) :: shape(4)
        integer(c_int32_t) :: s
        s = c_transform_source_shape(h%ptr, t%ptr, shape)
    end function

    !> The pids of side (EKO_SIDE_*) of the operators the transform makes, into pids(n).
    function eko_transform_side_pids(h, t, side, pids) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform), intent(in) :: t
        integer(c_int32_t), intent(in) :: side
        integer(c_int32_t), intent(out) :: pids(:)
        integer(c_int32_t) :: s
        s = c_transform_side_pids(h%ptr, t%ptr, side, pids, size(pids, kind=c_int32_t))
    end function

    !> The x grid of side (EKO_SIDE_*) of the operators the transform makes, into xgrid(n).
    function eko_transform_side_xgrid(h, t, side, xgrid) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform), intent(in) :: t
        integer(c_int32_t), intent(in) :: side
        real(c_double), intent(out) :: xgrid(:)
        integer(c_int32_t) :: s
        s = c_transform_side_xgrid(h%ptr, t%ptr, side, xgrid, size(xgrid, kind=c_int32_t))
    end function

    !> Transforms op(n_pid_out, n_x_out, n_pid_in, n_x_in) (the source shape) into out (the
    !> result shape), both Fortran arrays; their extents are checked (EKO_ERROR_BAD_SHAPE). out
    !> is written only on success.
    function eko_transform_apply(h, t, op, out) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_transform), intent(in) :: t
        real(c_double), contiguous, intent(in) :: op(:, :, :, :)
        real(c_double), contiguous, intent(inout) :: out(:, :, :, :)
        integer(c_int32_t) :: s
        s = c_transform_check_shapes(h%ptr, t%ptr, shape(op, kind=c_int64_t), &
                                     shape(out, kind=c_int64_t))
        if (s /= EKO_OK) return
        s = c_transform_apply(h%ptr, t%ptr, op, size(op, kind=c_int64_t), EKO_LAYOUT_FORTRAN, &
                              out, size(out, kind=c_int64_t), EKO_LAYOUT_FORTRAN)
    end function

    !> A new slices spec, asking for every final operator.
    function eko_slices_spec_create(h, spec) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices_spec), intent(inout) :: spec
        integer(c_int32_t) :: s
        type(c_ptr) :: p
        s = c_slices_spec_create(h%ptr, p)
        if (s == EKO_OK) spec%ptr = p
    end function

    !> Frees a slices spec (slices made from it are not affected).
    subroutine eko_slices_spec_destroy(spec)
        type(eko_slices_spec), intent(inout) :: spec
        call c_slices_spec_destroy(spec%ptr)
        spec%ptr = c_null_ptr
    end subroutine

    !> Asks for the slices at the scales mu2(:) only (each a final operator of the store).
    function eko_slices_spec_set_scales(h, spec, mu2) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices_spec), intent(in) :: spec
        real(c_double), intent(in) :: mu2(:)
        integer(c_int32_t) :: s
        s = c_slices_spec_set_scales(h%ptr, spec%ptr, mu2, size(mu2, kind=c_int32_t))
    end function

    !> Chooses nf at scale mu2, where the store holds final operators with two nf.
    function eko_slices_spec_set_nf(h, spec, mu2, nf) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices_spec), intent(in) :: spec
        real(c_double), intent(in) :: mu2
        integer(c_int32_t), intent(in) :: nf
        integer(c_int32_t) :: s
        s = c_slices_spec_set_nf(h%ptr, spec%ptr, mu2, nf)
    end function

    !> The slices spec asks of the store's final operators (eko_slices_spec(): all of them),
    !> served through t (eko_transform(): none; else made from this store, and copied).
    function eko_slices_create(h, store, spec, t, slices) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_store), intent(in) :: store
        type(eko_slices_spec), intent(in) :: spec
        type(eko_transform), intent(in) :: t
        type(eko_slices), intent(inout) :: slices
        integer(c_int32_t) :: s
        type(c_ptr) :: p
        s = c_slices_create(h%ptr, store%ptr, spec%ptr, t%ptr, p)
        if (s == EKO_OK) slices%ptr = p
    end function

    !> Frees slices; pointers from eko_slices_borrow become invalid.
    subroutine eko_slices_destroy(slices)
        type(eko_slices), intent(inout) :: slices
        call c_slices_destroy(slices%ptr)
        slices%ptr = c_null_ptr
    end subroutine

    !> The number of slices.
    function eko_slices_len(h, slices, n) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int32_t), intent(out) :: n
        integer(c_int32_t) :: s
        s = c_slices_len(h%ptr, slices%ptr, n)
    end function

    !> The shape of every slice: (n_pid_out, n_x_out, n_pid_in, n_x_in).
    function eko_slices_shape(h, slices, shape) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int64_t), intent(out) :: shape(4)
        integer(c_int32_t) :: s
        s = c_slices_shape(h%ptr, slices%ptr, shape)
    end function

    !> Slice i's point (1-based here, ascending mu2): mu2 (pineappl's fac1) and nf.
    function eko_slices_point(h, slices, i, mu2, nf) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int32_t), intent(in) :: i
        real(c_double), intent(out) :: mu2
        integer(c_int32_t), intent(out) :: nf
        integer(c_int32_t) :: s
        s = c_slices_point(h%ptr, slices%ptr, i - 1, mu2, nf)
    end function

    !> The origin's scale: pineappl's fac0.
    function eko_slices_fac0(h, slices, fac0) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        real(c_double), intent(out) :: fac0
        integer(c_int32_t) :: s
        s = c_slices_fac0(h%ptr, slices%ptr, fac0)
    end function

    !> The basis of the input side (EKO_BASIS_FLAVOR, EKO_BASIS_EVOL or EKO_BASIS_CUSTOM).
    function eko_slices_basis(h, slices, basis) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int32_t), intent(out) :: basis
        integer(c_int32_t) :: s
        s = c_slices_basis(h%ptr, slices%ptr, basis)
    end function

    !> The pids of side (EKO_SIDE_*) of the slices, into pids(n).
    function eko_slices_side_pids(h, slices, side, pids) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int32_t), intent(in) :: side
        integer(c_int32_t), intent(out) :: pids(:)
        integer(c_int32_t) :: s
        s = c_slices_side_pids(h%ptr, slices%ptr, side, pids, size(pids, kind=c_int32_t))
    end function

    !> The x grid of side (EKO_SIDE_*) of the slices, into xgrid(n).
    function eko_slices_side_xgrid(h, slices, side, xgrid) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int32_t), intent(in) :: side
        real(c_double), intent(out) :: xgrid(:)
        integer(c_int32_t) :: s
        s = c_slices_side_xgrid(h%ptr, slices%ptr, side, xgrid, size(xgrid, kind=c_int32_t))
    end function

    !> Writes slice i (1-based here) into op(n_pid_out, n_x_out, n_pid_in, n_x_in), whose extents
    !> are checked (EKO_ERROR_BAD_SHAPE), then drops its pages from resident memory. op is
    !> written only on success.
    function eko_slices_write(h, slices, i, op) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int32_t), intent(in) :: i
        real(c_double), contiguous, intent(inout) :: op(:, :, :, :)
        integer(c_int32_t) :: s
        s = c_slices_check_shape(h%ptr, slices%ptr, shape(op, kind=c_int64_t))
        if (s /= EKO_OK) return
        s = c_slices_write(h%ptr, slices%ptr, i - 1, op, size(op, kind=c_int64_t), &
                           EKO_LAYOUT_FORTRAN)
    end function

    !> Points op at slice i (1-based here), read-only, without copying, indexed as in
    !> eko_store_operator (layout EKO_LAYOUT_FORTRAN: op(pid_out, x_out, pid_in, x_in);
    !> EKO_LAYOUT_C: op(x_in, pid_in, x_out, pid_out)): the mapped file, or for transformed slices
    !> one buffer of the slices (valid until the next borrow). Valid until eko_slices_release of
    !> i or eko_slices_destroy.
    function eko_slices_borrow(h, slices, i, op, layout) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int32_t), intent(in) :: i
        real(c_double), pointer, intent(out) :: op(:, :, :, :)
        integer(c_int32_t), intent(out) :: layout
        integer(c_int32_t) :: s
        type(c_view) :: v
        nullify (op)
        s = c_slices_borrow(h%ptr, slices%ptr, i - 1, v)
        if (s == EKO_OK) call point_at(v, op, layout)
    end function

    !> Ends a borrow of slice i (1-based here): its pages leave resident memory.
    function eko_slices_release(h, slices, i) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices
        integer(c_int32_t), intent(in) :: i
        integer(c_int32_t) :: s
        s = c_slices_release(h%ptr, slices%ptr, i - 1)
    end function

    !> The state for eko_pineappl_operator: slices(k) serves pineappl's op_index k - 1. It
    !> borrows the slices, which must outlive it.
    function eko_pineappl_state_create(h, slices, state) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_slices), intent(in) :: slices(:)
        type(eko_pineappl_state), intent(inout) :: state
        integer(c_int32_t) :: s
        type(c_ptr) :: ptrs(size(slices)), p
        integer :: k
        do k = 1, size(slices)
            ptrs(k) = slices(k)%ptr
        end do
        s = c_pineappl_state_create(h%ptr, ptrs, size(slices, kind=c_int64_t), p)
        if (s == EKO_OK) state%ptr = p
    end function

    !> Frees a state (the slices are not affected).
    subroutine eko_pineappl_state_destroy(state)
        type(eko_pineappl_state), intent(inout) :: state
        call c_pineappl_state_destroy(state%ptr)
        state%ptr = c_null_ptr
    end subroutine

    !> EKO_OK, or the first error eko_pineappl_operator recorded (its message in the handle).
    function eko_pineappl_state_check(h, state) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_pineappl_state), intent(in) :: state
        integer(c_int32_t) :: s
        s = c_pineappl_state_check(h%ptr, state%ptr)
    end function

    !> The number of slices eko_pineappl_operator served with state.
    function eko_pineappl_state_served(h, state, served) result(s)
        type(eko_handle), intent(in) :: h
        type(eko_pineappl_state), intent(in) :: state
        integer(c_int64_t), intent(out) :: served
        integer(c_int32_t) :: s
        s = c_pineappl_state_served(h%ptr, state%ptr, served)
    end function

    ! NUL-terminated copies of strings(:) in names(:, i), and pointers to them.
    subroutine c_strings(strings, names, ptrs)
        character(len=*), intent(in) :: strings(:)
        character(kind=c_char), allocatable, target, intent(out) :: names(:, :)
        type(c_ptr), intent(out) :: ptrs(:)
        integer :: i, j
        allocate (names(len(strings) + 1, size(strings)))
        do i = 1, size(strings)
            do j = 1, len_trim(strings(i))
                names(j, i) = strings(i) (j:j)
            end do
            names(len_trim(strings(i)) + 1, i) = c_null_char
            ptrs(i) = c_loc(names(1, i))
        end do
    end subroutine

end module eko
