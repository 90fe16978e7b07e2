"""Finite-capacity scheduling.

Production scheduling of a site's plan with OR-Tools CP-SAT, an independent schedule
checker, a dispatch heuristic, reactive rescheduling and explanations of infeasible
plans. Typical use::

    from phactory.model import load_site
    from phactory.schedule import solve, check_schedule, write_gantt

    site = load_site("examples/mab-biologics")
    schedule = solve(site, objective="lex:tardiness,makespan", time_limit_s=60)
    assert not check_schedule(site, schedule)
    schedule.to_json("schedule.json")
    write_gantt(schedule, "schedule.html", site=site)

Modules
-------
calendar         the time base's shifts and maintenance on the integer time grain
problem          the plan as operations, unit groups and crews on the grain (the data)
problem_builder  the plan to the problem, one function per section
crews            skills coupled through teams, with their headcount on duty
heuristic        serial schedule generation (the warm start)
model_builder    the CP-SAT model, one function per section
objectives       makespan, weighted tardiness, changeovers, lexicographic combinations
solver           :class:`Scheduler` / :func:`solve`: warm start, progress, checked result
solution         timings on the grain to a :class:`Schedule` (units assigned)
schedule         the :class:`Schedule` (DataFrames, JSON / CSV)
checker          independent verification: a list of rules (:mod:`.rules`) run on a
                 :class:`~phactory.schedule.check_context.CheckContext`
violations       the typed violations the checker reports
explain          why a plan is infeasible, in words
reschedule       re-solving after a unit breakdown, with a diff
gantt            self-contained HTML Gantt charts
benchmarks       public job-shop benchmarks solved as sites (a separate sub-package)
"""

from phactory.schedule.checker import (
    RULES,
    CheckContext,
    CheckRule,
    ScheduleViolationError,
    Violation,
    assert_valid,
    check_schedule,
)
from phactory.schedule.explain import diagnose, explain_infeasibility
from phactory.schedule.gantt import gantt_figure, gantt_html, write_gantt
from phactory.schedule.heuristic import HeuristicError, dispatch
from phactory.schedule.objectives import OBJECTIVES, parse_objective
from phactory.schedule.problem import PlanError, Problem
from phactory.schedule.problem_builder import build_problem
from phactory.schedule.reschedule import Breakdown, RescheduleResult, diff_schedules, reschedule
from phactory.schedule.schedule import (
    Downtime,
    PlannedOperation,
    Schedule,
    ScheduleFormatError,
    StageResult,
)
from phactory.schedule.solver import Progress, Scheduler, solve

__all__ = [
    "OBJECTIVES",
    "RULES",
    "Breakdown",
    "CheckContext",
    "CheckRule",
    "Downtime",
    "HeuristicError",
    "PlanError",
    "PlannedOperation",
    "Problem",
    "Progress",
    "RescheduleResult",
    "Schedule",
    "ScheduleFormatError",
    "ScheduleViolationError",
    "Scheduler",
    "StageResult",
    "Violation",
    "assert_valid",
    "build_problem",
    "check_schedule",
    "diagnose",
    "diff_schedules",
    "dispatch",
    "explain_infeasibility",
    "gantt_figure",
    "gantt_html",
    "parse_objective",
    "reschedule",
    "solve",
    "write_gantt",
]
