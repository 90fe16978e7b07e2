# Declarations for the compiled twin (see phactory/twin/_compiled.py).

cimport cython

from phactory.twin.batch cimport BatchState, ProcState
from phactory.twin.equipment cimport UnitState
from phactory.twin.labour cimport LabourPool
from phactory.twin.recipe cimport LinkSpec, PhaseSpec, ProcSpec

@cython.final
cdef class Run:
    cdef public object site
    cdef public object seed
    cdef public double horizon
    cdef public bint deterministic
    cdef public bint lookahead
    cdef public object env
    cdef public object rec
    cdef public LabourPool labour
    cdef public list utilities
    cdef public dict recipes
    cdef public list batches
    cdef public object _draws
    cdef public list units
    cdef public dict pools
    cpdef spawn(self, ProcState ps, double claim_at)
    @cython.locals(b=BatchState, pred=ProcState, link=LinkSpec, lag=double, over=double, c=tuple)
    cpdef proc_started(self, ProcState ps, UnitState unit, double now)
    @cython.locals(b=BatchState, s=ProcState, p=ProcState, link=LinkSpec, ph=PhaseSpec, spec=ProcSpec, end=double, took=double, slack=double)
    cpdef _pull(self, ProcState ps, double now)
    @cython.locals(b=BatchState, s=ProcState, link=LinkSpec, e=double, early=double)
    cpdef last_phase_started(self, ProcState ps, double expected_end)
    @cython.locals(b=BatchState, s=ProcState, link=LinkSpec, r=double)
    cpdef proc_done(self, ProcState ps, double now)
    @cython.locals(link=LinkSpec, start=double, limit=double)
    cpdef double _start_under_plan(self, ProcState s, double planned_start)
