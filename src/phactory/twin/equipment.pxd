# Declarations for the compiled twin (see phactory/twin/_compiled.py).

cimport cython

@cython.final
cdef class UnitState:
    cdef public bint after_each_batch
    cdef public dict changeovers
    cdef public double clean_h
    cdef public object clean_hold
    cdef public double clean_since
    cdef public object clock
    cdef public tuple ctx
    cdef public bint dirty
    cdef public object dirty_hold
    cdef public double dirty_since
    cdef public object env
    cdef public object equipment_class
    cdef public double free_since
    cdef public object holder
    cdef public object id
    cdef public long index
    cdef public bint is_free
    cdef public object last_product
    cdef public list maint
    cdef public Py_ssize_t maint_i
    cdef public list pending
    cdef public object pool
    cdef public object rec
    cdef public list rows
    cdef public object rules
    cdef public str state
    cdef public double t0
    cdef public double ttf
    cpdef set(self, str state, double t, tuple ctx)
    cpdef close(self, double t)
    cpdef double changeover(self, str product)
    cpdef bint needs_cleaning(self, str product, double t, tuple ctx)
    cpdef cleaned(self, double t)
    cpdef double next_maintenance(self, double t)
    cpdef release(self, double t, bint used, tuple ctx)
    cpdef after_service(self)

cdef double EPS, INF
