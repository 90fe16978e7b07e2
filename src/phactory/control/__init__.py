"""Software-defined controllers: IEC 61131-3 Structured Text on a cyclic scan.

See :mod:`phactory.control.pou` for the contract every program and function block
instance follows.
"""
