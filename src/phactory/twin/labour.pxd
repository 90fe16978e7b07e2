# Declarations for the compiled twin (see phactory/twin/_compiled.py).

cimport cython
from phactory.twin.recipe cimport LabourNeed

@cython.final
cdef class Team:
    cdef public bint always
    cdef public long busy
    cdef public Py_ssize_t cur
    cdef public list ends
    cdef public long headcount
    cdef public object id
    cdef public double longest
    cdef public object mask
    cdef public Py_ssize_t n
    cdef public list starts
    cpdef Py_ssize_t _at(self, double t)
    cpdef bint on_shift(self, double t)
    cpdef long free(self, double t)
    cpdef double shift_end(self, double t)
    cpdef double next_start(self, double t)

@cython.final
cdef class LabourRequest:
    cdef public bint continuous
    cdef public tuple ctx
    cdef public object event
    cdef public tuple key
    cdef public object mask
    cdef public list needs

@cython.final
cdef class LabourPool:
    cdef public object env
    cdef public list teams
    cdef public list skill_teams
    cdef public object rec
    cdef public list skill_masks
    cdef public list waiting
    cdef public long _serial
    cdef public set _wakes
    cdef public object _wmask
    cdef public bint _wstale
    cpdef object allocate(self, list needs, bint continuous, double t, tuple ctx)
    cpdef wait(self, LabourRequest req)
    cpdef release(self, list allocs, double t)
    cpdef _serve(self, object mask, double t)
    cpdef _schedule_wake(self, LabourRequest req)

cdef double EPS, INF
