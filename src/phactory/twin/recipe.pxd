# Declarations for the compiled twin (see phactory/twin/_compiled.py): C fields for the
# recipe specs the event loop reads on every phase. The .py file stays the source.

cimport cython

@cython.final
cdef class LabourNeed:
    cdef public long skill
    cdef public object skill_id
    cdef public long count
    cdef public object setup_h

@cython.final
cdef class LinkSpec:
    cdef public long pred
    cdef public long succ
    cdef public double min_lag
    cdef public object max_lag
    cdef public bint scrap

@cython.final
cdef class PhaseSpec:
    cdef public object id
    cdef public long index
    cdef public object model
    cdef public bint modelled
    cdef public double mean_h
    cdef public tuple needs
    cdef public bint continuous
    cdef public double failure_probability
    cdef public tuple draws
    cdef public tuple names
    cdef public object mask

@cython.final
cdef class ProcSpec:
    cdef public object id
    cdef public long index
    cdef public object equipment_class
    cdef public tuple phases
    cdef public double mean_h
    cdef public tuple preds
    cdef public tuple succs
    cdef public bint claim_ahead
    cdef public double lead_h
    cdef public tuple gates
    cdef public long n_preds
    cdef public bint pulled
    cdef public long pushers
    cdef public tuple pulls
    cdef public bint pushes
