# Declarations for the compiled twin (see phactory/twin/_compiled.py).

cimport cython

from phactory.twin.dispatch cimport ClassPool
from phactory.twin.engine cimport Run
from phactory.twin.equipment cimport UnitState
from phactory.twin.labour cimport LabourPool, LabourRequest, Team
from phactory.twin.recipe cimport LabourNeed, LinkSpec, PhaseSpec, ProcSpec

@cython.final
cdef class BatchState:
    cdef public tuple bctx
    cdef public double due_h
    cdef public list durations
    cdef public double end_h
    cdef public object id
    cdef public long index
    cdef public long n_done
    cdef public long offset
    cdef public object order
    cdef public object patient
    cdef public object priority
    cdef public list procs
    cdef public object product
    cdef public object recipe
    cdef public double release_h
    cdef public bint released
    cdef public object scrap_u
    cdef public double start_h
    cdef public object status

@cython.final
cdef class ProcState:
    cdef public list allocs
    cdef public BatchState batch
    cdef public double claim_at
    cdef public object claim_event
    cdef public tuple ctx
    cdef public double end_h
    cdef public bint entered
    cdef public double expect
    cdef public tuple key
    cdef public object labour_req
    cdef public long n_done
    cdef public long n_hint
    cdef public long n_push
    cdef public object planned
    cdef public bint prepared
    cdef public object prepared_event
    cdef public bint prepping
    cdef public object process
    cdef public double push_ready
    cdef public double ready
    cdef public tuple repair_ctx
    cdef public double repair_end
    cdef public ProcSpec spec
    cdef public double start_h
    cdef public bint started
    cdef public double t_request
    cdef public object unit
    cdef public object unit_wait
    cdef public object up_event
    cdef public bint used

cpdef _release_unit(ProcState ps, UnitState unit, double now)
