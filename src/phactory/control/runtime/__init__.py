"""The controller runtime: cyclic tasks scanning program instances on a clock.

Build a :class:`Controller` per unit (tasks, program instances, :class:`IOMap` wiring, a
:class:`RetainStore` for durable variables), put the controllers of a plant in one
:class:`Runner` with a :class:`WallClock` (real time) or a :class:`SimClock`
(deterministic simulated time), and run it::

    ctl = Controller("R-101", retain=RetainStore("plant.retain.sqlite"))
    ctl.add_task("main", "100ms", priority=1)
    ctl.add_program("loop", LoopProgram, task="main")
    ctl.io.input("loop.PV", plant.read_temperature)
    ctl.io.output("loop.OUT", plant.set_heater, safe=0.0)
    runner = Runner(SimClock(), [ctl])
    runner.start_all(warm=True)
    runner.run_for("2s")
    runner.scan_stats()

Program instances are any :class:`~phactory.control.pou.POU` with ``KIND = "PROGRAM"``:
compiled from Structured Text (:mod:`phactory.control.st`) or written in Python.
"""

from __future__ import annotations

from phactory.control.runtime.clocks import Clock, SimClock, WallClock
from phactory.control.runtime.controller import Controller, Fault, RestartReport, Task
from phactory.control.runtime.durations import format_duration, parse_duration
from phactory.control.runtime.io import IOMap
from phactory.control.runtime.online import ChangeReport, OnlineChangeRefused
from phactory.control.runtime.retain import RetainStore
from phactory.control.runtime.runner import PlantLink, Runner
from phactory.control.runtime.watchdog import WatchdogExpired

__all__ = [
    "ChangeReport",
    "Clock",
    "Controller",
    "Fault",
    "IOMap",
    "OnlineChangeRefused",
    "PlantLink",
    "RestartReport",
    "RetainStore",
    "Runner",
    "SimClock",
    "Task",
    "WallClock",
    "WatchdogExpired",
    "format_duration",
    "parse_duration",
]
