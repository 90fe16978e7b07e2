# Declarations for the compiled twin (see phactory/twin/_compiled.py).

cimport cython

from phactory.twin.batch cimport ProcState
from phactory.twin.equipment cimport UnitState

@cython.final
cdef class ClassPool:
    cdef public object env
    cdef public object equipment_class
    cdef public list units
    cdef public object rule
    cdef public object policy
    cdef public list free
    cdef public list waiting
    cdef public long _seq
    @cython.locals(unit=UnitState, t=double)
    cpdef object request(self, ProcState ps)
    cpdef take(self, UnitState unit)
    @cython.locals(ps=ProcState, t=double)
    cpdef unit_freed(self, UnitState unit)
    cpdef _grant(self, ProcState ps, UnitState unit, double t)
