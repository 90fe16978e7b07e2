"""Batch execution and the electronic batch record in the application: the BatchService.

The browser pages (:mod:`phactory.app.ui.pages.batches`), the REST routes
(:mod:`phactory.app.api.batches`) and the command line (``phactory batch|lot``) call this
service only; it is the one place in the application that calls the record service
(:mod:`phactory.records`) and the batch engine (:mod:`phactory.batch`), and it owns the
rules the pages used to keep to themselves:

* who acts: the web account must be allowed to change things (engineer or admin) and a
  person of the batch record must be identified (:mod:`~phactory.app.services.batch_people`);
  the record service then decides by that person's role (operator, supervisor, QA, QP);
* batches: create (with the time scale of the simulated units) and start, the ISA-88
  commands (Hold, Stop and Abort need a reason), the commands open to a person now;
* work instructions: equipment checks, material scans, data entries, signatures
  *performed* and *verified* (a second person signs at the same workstation with user id
  and password, 21 CFR 11.200(a)), re-signatures after a correction;
* the review (``reviews``, :mod:`~phactory.app.services.batch_review`): deviations and
  their workflow, comments, corrections, review, release and rejection, exports (HTML,
  PDF, BatchML) and the audit-chain check;
* lots and batch-record accounts (``lots``, ``accounts``,
  :mod:`~phactory.app.services.batch_lots`).

Ids entering here (batch, lot, patient, user ids) are checked against the one id pattern
(:func:`phactory.model.ids.require_id`) before they reach the record; free text is
limited in length (:func:`~phactory.app.services.batch_review.record_text`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from phactory.app.errors import Conflict, Invalid, Missing
from phactory.app.principal import Principal, require
from phactory.app.services.batch_lots import LotDesk, RecordAccounts, resolve_site
from phactory.app.services.batch_people import Identities, acting_account, signer
from phactory.app.services.batch_review import BatchReviews, record_text
from phactory.app.services.batch_runners import (
    BatchRunners,
    default_time_scale,
    parse_time_scale,
)
from phactory.model.ids import require_id

if TYPE_CHECKING:
    from phactory.batch import (
        BatchEngine,
        BatchStatus,
        ControlRecipe,
        DriverFactory,
        InstructionStatus,
        SimulatedOperator,
    )
    from phactory.credentials import PasswordHasher
    from phactory.model import Site
    from phactory.records import (
        AuditEntry,
        BatchInfo,
        LotInfo,
        RecordService,
        Signature,
        UserSession,
    )
    from phactory.store import Store

__all__ = ["COMMANDS", "REASON_NEEDED", "BatchService"]

#: The ISA-88 commands, in the order the pages show them.
COMMANDS: Final = ("Start", "Pause", "Resume", "Hold", "Restart", "Stop", "Abort", "Reset")
#: Commands that need a reason.
REASON_NEEDED: Final = frozenset({"Hold", "Stop", "Abort"})


class BatchService:
    """Batches, their records, lots and batch-record accounts, for the pages, API and CLI.

    Parameters
    ----------
    store
        The store whose database holds the batch records.
    sites
        Finds a site by id (the workspace's latest version); needed to create batches and
        receive lots by site id.
    time_scale
        Time scale of the simulated units (recipe time per wall-clock time) for batches
        created without their own; default ``PHACTORY_BATCH_TIME_SCALE``, else 1 (real
        time). A batch's own (given at creation) is recorded with it and always used.
    group_commit
        Many people and batches write at once in a server: they share durable commits.
    run_in_threads
        Run batches in threads of this process (the server); the command line runs them
        in the foreground instead.
    hasher
        Password hasher of the record service (tests use a fast one).
    driver
        Makes the driver of each automatic phase (default: simulated units at the time
        scale); see also :meth:`use_driver`.
    """

    def __init__(
        self,
        store: Store | str | None,
        *,
        sites: Callable[[str], Site] | None = None,
        time_scale: str | float | None = None,
        group_commit: bool = True,
        run_in_threads: bool = True,
        hasher: PasswordHasher | None = None,
        driver: DriverFactory | None = None,
    ) -> None:
        from phactory.records import RecordService

        self.records: RecordService = RecordService(store, group_commit=group_commit, hasher=hasher)
        self._sites = sites
        self.time_scale = (
            default_time_scale() if time_scale is None else parse_time_scale(time_scale)
        )
        self._engine: BatchEngine | None = None
        self._driver = driver
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.people = Identities(
            self._alive, self.records.accounts.logout, float(self.records.access.session_timeout_s)
        )
        self.runners = BatchRunners(self._run_once) if run_in_threads else None
        self.reviews = BatchReviews(self.records, self.kick)
        self.lots = LotDesk(self.records, sites)
        self.accounts = RecordAccounts(self.records)

    def close(self) -> None:
        """Stop the runs (their automatic phases are held), end the sessions held, close
        the record service."""
        self._stop.set()
        if self.runners is not None:
            self.runners.close()
        self.people.forget_all()
        self.records.close()

    def __enter__(self) -> BatchService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- engines and runners ---------------------------------------------------------------

    @property
    def engine(self) -> BatchEngine:
        """The one engine of this service; a batch started with its own time scale runs at
        it, the others at :attr:`time_scale`."""
        from phactory.batch import BatchEngine

        with self._lock:
            if self._engine is None:
                self._engine = BatchEngine(
                    self.records, time_scale=self.time_scale, tick_s=0.05, driver=self._driver
                )
            return self._engine

    def use_driver(self, driver: DriverFactory) -> None:
        """Run automatic phases with ``driver`` (e.g. on controllers,
        :class:`phactory.connect.phase_driver.ControllerDrivers`); before the engine is
        first used.

        Raises
        ------
        Conflict
            If the engine already runs with another driver.
        """
        with self._lock:
            if self._engine is not None:
                raise Conflict("the batch engine already runs: choose its driver first")
            self._driver = driver

    def batch_time_scale(self, batch_id: str) -> float:
        """The time scale the batch runs at: its own, else the service's."""
        return float(self.engine.context.time_scale_of(require_id(batch_id, "batch id")))

    def _run_once(self, batch_id: str, operator: SimulatedOperator | None) -> None:
        # At close the stop event holds the automatic phases in flight, recorded with the
        # reason, and the runner returns (a person restarts them after the server restart).
        self.engine.runner.run(batch_id, operator=operator, stop=self._stop)

    def kick(self, batch_id: str) -> None:
        """Let the server's runner act on the batch (no-op on the command line)."""
        if self.runners is not None:
            self.runners.kick(batch_id)

    def running(self, batch_id: str) -> bool:
        """Whether a runner of this server is working on the batch."""
        return self.runners is not None and self.runners.running(batch_id)

    def run_error(self, batch_id: str) -> str | None:
        """Why the last run of the batch in this server failed, if it did."""
        return None if self.runners is None else self.runners.error(batch_id)

    def recover(self, batch_id: str) -> None:
        """Resume a batch left active (e.g. after a server restart) by kicking its runner."""
        info = self.batch(batch_id)
        active = info.ended_at is None and info.state not in ("Idle", "Paused", "Held")
        if active and not self.running(batch_id):
            self.kick(batch_id)

    # -- who acts ----------------------------------------------------------------------------

    def _alive(self, session: UserSession) -> bool:
        from phactory.records import Action, RecordError

        try:
            self.records.access.authorize(session, Action.RECORD_READ)
        except RecordError:
            return False
        return True

    def login(self, user_id: str, password: str, *, account: str = "") -> UserSession:
        """Open a record-service session (user id and password, 21 CFR 11.200(a)(1)).

        ``account`` names the web or operating-system account acting, for the audit
        trail (``web:alice``, ``cli:bob@host``).
        """
        return self.records.accounts.login(
            require_id(user_id, "user id"), password, acting_account=account[:100] or None
        )

    @property
    def session_timeout_s(self) -> float:
        """Idle time after which a batch-record session ends [s]."""
        return float(self.records.access.session_timeout_s)

    def change_password(
        self, user_id: str, password: str, new_password: str, *, account: str = ""
    ) -> None:
        """A person changes their own batch-record password (needed after a reset)."""
        self.records.accounts.change_password(
            require_id(user_id, "user id"),
            password,
            new_password,
            acting_account=account[:100] or None,
        )

    def identify(
        self,
        principal: Principal,
        user_id: str,
        password: str,
        *,
        key: str | None = None,
        new_password: str | None = None,
    ) -> tuple[str, UserSession]:
        """Identify a person of the batch record for ``principal`` (engineer or admin).

        Parameters
        ----------
        key
            A browser workstation's key (:func:`~phactory.app.services.batch_people.
            workstation_key`); ``None`` for an API client, which gets a secret back.
        new_password
            A new password to set first (after an administrator's reset, the record
            service asks for one before anything else).

        Returns
        -------
        tuple
            The key or secret, and the session.
        """
        require(principal, "engineer", "acting in the batch record")
        account = acting_account(principal)
        if new_password is not None:
            self.change_password(user_id, password, new_password, account=account)
            password = new_password
        session = self.login(user_id, password, account=account)
        if key is None:
            return self.people.keep_secret(principal, session), session
        self.people.keep(key, principal, session)
        return key, session

    def at_workstation(self, principal: Principal, key: str) -> UserSession | None:
        """The person identified at a browser workstation, if any (engineers and admins)."""
        if not principal.can_change:
            return None
        return self.people.get(key, principal)

    def acting(
        self, principal: Principal, secret: str | None, *, admin: bool = False
    ) -> UserSession:
        """The person an API client identified (``X-Records-Session``).

        Raises
        ------
        Forbidden
            If the web account may not act (a viewer; an engineer for ``admin`` actions), or
            no person is identified by ``secret``.
        """
        require(principal, "admin" if admin else "engineer", "acting in the batch record")
        return self.people.get_secret(principal, secret)

    def forget(self, key: str) -> None:
        """End the identification of a browser workstation."""
        self.people.forget(key)

    def forget_secret(self, principal: Principal, secret: str) -> None:
        """End an API client's batch-record session."""
        self.people.forget_secret(principal, secret)

    def may(self, who: UserSession | None, action: str) -> bool:
        """Whether the role of ``who`` allows a record-service action (``Action`` value)."""
        from phactory.records import Action, allowed

        return who is not None and allowed(who.role, Action(action))

    def has_people(self) -> bool:
        """Whether the record service has any person's account yet."""
        return any(u.role != "system" for u in self.records.accounts.users())

    # -- batches -----------------------------------------------------------------------------

    def batches(self, site_id: str | None = None) -> list[BatchInfo]:
        """Batches, newest first, of one site or of all."""
        return self.records.batches.find(site_id)

    def batch(self, batch_id: str) -> BatchInfo:
        """One batch (:class:`~phactory.records.UnknownRecord` if there is none)."""
        return self.records.batches.get(require_id(batch_id, "batch id"))

    def status(self, batch_id: str) -> BatchStatus:
        """The batch as the engine sees it: steps, what it waits for."""
        return self.engine.runner.status(require_id(batch_id, "batch id"))

    def control_recipe(self, batch_id: str) -> ControlRecipe:
        """The batch's control recipe (units, phases, parameters, materials)."""
        return self.engine.context.control_recipe(require_id(batch_id, "batch id"))

    def create(
        self,
        who: UserSession,
        site: Site | str,
        recipe_id: str | None = None,
        *,
        batch_id: str | None = None,
        order_id: str | None = None,
        batch_size: float | None = None,
        parameters: Mapping[str, float] | None = None,
        seed: int = 0,
        time_scale: str | float | None = None,
        start: bool = False,
        reason: str = "",
    ) -> BatchInfo:
        """Create a batch from a master recipe (a supervisor), and Start it if ``start``.

        Parameters
        ----------
        time_scale
            Of the batch's simulated units in this server (default: the server's).
        """
        found = resolve_site(self._sites, site)
        for value, what in (
            (recipe_id, "recipe id"),
            (batch_id, "batch id"),
            (order_id, "order id"),
        ):
            if value is not None:
                require_id(value, what)
        if recipe_id is None and order_id is None:
            raise Invalid("give a master recipe or an order of the plan")
        order = next((o for o in found.orders if o.id == order_id), None) if order_id else None
        recipe = found.recipes.get(recipe_id) if recipe_id else None
        if order is not None and recipe is not None and recipe.product != order.product:
            raise Invalid(
                f"order {order.id} is for product {order.product}, but master recipe "
                f"{recipe_id} makes {recipe.product}: choose the order's recipe"
            )
        scale = parse_time_scale(time_scale) if time_scale is not None else None
        try:
            info = self.engine.lifecycle.create_batch(
                who,
                found,
                recipe_id,
                batch_id=batch_id,
                order_id=order_id,
                batch_size=batch_size,
                parameters=dict(parameters or {}),
                seed=seed,
                time_scale=scale,
            )
        except KeyError as exc:  # an unknown parameter of the recipe
            raise Invalid(str(exc).strip("'\"")) from None
        if start:
            self.command(who, info.batch_id, "Start", reason or "started at creation")
        return self.batch(info.batch_id)

    def commands_open(self, who: UserSession | None, info: BatchInfo) -> list[str]:
        """The commands ``who`` may give the batch now, in button order."""
        from phactory.batch import TRANSITIONS, Command, State
        from phactory.batch.engine import COMMAND_ACTIONS
        from phactory.records import allowed

        if who is None or info.status != "in_progress":
            return []
        state = State(info.state)
        return [
            name
            for name in COMMANDS
            if (state, Command(name)) in TRANSITIONS
            and allowed(who.role, COMMAND_ACTIONS[Command(name)])
            and (info.ended_at is None or name == "Reset")
        ]

    def command(self, who: UserSession, batch_id: str, command: str, reason: str = "") -> str:
        """Give an ISA-88 command; return the batch's new state.

        Raises
        ------
        Invalid
            An unknown command, or Hold, Stop or Abort without a reason.
        InvalidCommand
            A :class:`~phactory.errors.ConflictError`: the batch's state does not accept
            the command (the refusal is recorded).
        """
        from phactory.batch import Command

        name = command.strip().capitalize()
        if name not in COMMANDS:
            raise Invalid(f"unknown command {command[:40]!r}: use one of {', '.join(COMMANDS)}")
        why = record_text(reason, "reason")
        if name in REASON_NEEDED and not why:
            raise Invalid(f"{name} needs a reason")
        batch_id = require_id(batch_id, "batch id")
        new = self.engine.lifecycle.command(who, batch_id, Command(name), why)
        self.kick(batch_id)
        return str(new.value)

    def simulate(
        self,
        performer: UserSession,
        performer_password: str,
        verifier: tuple[str, str] | None = None,
        *,
        batch_id: str,
    ) -> None:
        """Let simulated operators do the batch's manual phases in this server.

        For demonstrations and virtual commissioning: entries are made under the real
        accounts given and marked *simulated* in the record. ``verifier`` is the user id
        and password of the second person for critical steps.
        """
        from phactory.batch import SimulatedOperator

        batch_id = require_id(batch_id, "batch id")
        self.batch(batch_id)
        if self.runners is None:
            raise Invalid("simulated operators run in a server; use `phactory batch run`")
        self.records.accounts.authenticate_signature(
            performer, performer_password, performer.user_id
        )
        ver, ver_pw = None, None
        if verifier is not None:
            ver = self.login(verifier[0], verifier[1], account=performer.acting_account or "")
            ver_pw = verifier[1]
        self.runners.simulate(
            batch_id, SimulatedOperator(performer, performer_password, ver, ver_pw)
        )
        self.kick(batch_id)

    def run(
        self,
        batch_id: str,
        *,
        operator: SimulatedOperator | None = None,
        timeout_s: float | None = None,
        wait: bool = False,
        progress: Callable[[BatchStatus], None] | None = None,
    ) -> BatchStatus:
        """Run a batch in the foreground (the command line) until it ends or waits."""
        batch_id = require_id(batch_id, "batch id")
        return self.engine.runner.run(
            batch_id, operator=operator, timeout_s=timeout_s, wait=wait, progress=progress
        )

    def simulated_operator(
        self, performer: tuple[str, str], verifier: tuple[str, str] | None, *, account: str = ""
    ) -> SimulatedOperator:
        """A simulated operator acting under the accounts given (user id, password)."""
        from phactory.batch import SimulatedOperator

        op = self.login(*performer, account=account)
        ver = self.login(*verifier, account=account) if verifier is not None else None
        return SimulatedOperator(op, performer[1], ver, verifier[1] if verifier else None)

    def restart_held(self, who: UserSession, batch_id: str, reason: str) -> bool:
        """Restart the batch if it is Held (recovering a crashed runner first)."""
        engine = self.engine
        engine.runner.attach(batch_id)
        engine.runner.detach(batch_id)
        if engine.runner.status(batch_id).state.value != "Held":
            return False
        self.command(who, batch_id, "Restart", reason)
        return True

    # -- work instructions ---------------------------------------------------------------------

    def work_instruction(self, batch_id: str, step: str) -> InstructionStatus:
        """Where the work instruction of a manual step stands, as the record says."""
        try:
            return self.engine.manual.work_instruction(require_id(batch_id, "batch id"), step)
        except KeyError:
            raise Missing(f"batch {batch_id} has no step {step[:200]!r}") from None

    def available_lots(self, batch_id: str, material: str) -> list[LotInfo]:
        """Lots a step of the batch may use: released, in date, of the batch's patient."""
        return self.engine.materials.available_lots(require_id(batch_id, "batch id"), material)

    def step_values(self, batch_id: str, step: str) -> dict[str, AuditEntry]:
        """The latest value of each parameter an automatic step measured."""
        latest: dict[str, AuditEntry] = {}
        for e in self.records.audit.entries(batch_id, subject=f"step:{batch_id}/{step}"):
            if e.kind == "value":
                latest[e.field] = e
        return latest

    def step_signatures(self, batch_id: str, step: str) -> list[Signature]:
        """The signatures of one step, each checked against the record as it is now."""
        return self.records.signing.signatures(record_type="step", record_id=f"{batch_id}/{step}")

    def pending_resignatures(self, batch_id: str) -> list[Signature]:
        """Step signatures a correction invalidated and nobody has re-signed yet."""
        return self.records.signing.pending_resignatures(batch_id, record_type="step")

    def check_equipment(
        self,
        who: UserSession,
        batch_id: str,
        step: str,
        unit: str,
        *,
        clean: bool,
        note: str = "",
    ) -> bool:
        """Record the equipment check of a manual step; ``False`` if it failed (a deviation)."""
        batch_id = require_id(batch_id, "batch id")
        passed = self.engine.manual.check_equipment(
            who,
            batch_id,
            step,
            require_id(unit, "unit id"),
            clean=clean,
            note=record_text(note, "note"),
        )
        self.kick(batch_id)
        return passed

    def scan(
        self,
        who: UserSession,
        batch_id: str,
        step: str,
        lot_id: str,
        *,
        patient: str | None = None,
        quantity: float | None = None,
    ) -> None:
        """Scan a lot and charge it to a manual step (a refusal is recorded on the step)."""
        batch_id = require_id(batch_id, "batch id")
        self.engine.manual.scan_material(
            who,
            batch_id,
            step,
            require_id(lot_id, "lot id"),
            quantity=quantity,
            patient=require_id(patient, "patient id") if patient else None,
        )
        self.kick(batch_id)

    def enter(
        self, who: UserSession, batch_id: str, step: str, item: str, value: float, reason: str = ""
    ) -> None:
        """Enter a value on a manual step (out of limits: flagged, and a deviation raised)."""
        batch_id = require_id(batch_id, "batch id")
        if not math.isfinite(value):
            raise Invalid(f"{item[:100]}: enter a finite number")
        try:
            self.engine.manual.enter(
                who, batch_id, step, item, float(value), reason=record_text(reason, "reason")
            )
        except KeyError as exc:
            raise Missing(str(exc).strip("'\"")) from None
        self.kick(batch_id)

    def sign_step(
        self, who: UserSession, batch_id: str, step: str, meaning: str, user_id: str, password: str
    ) -> Signature:
        """Sign a step *performed* (who did it) or *verified* (a second person)."""
        return self._sign_step(who, batch_id, step, meaning, user_id, password, again=False)

    def resign_step(
        self, who: UserSession, batch_id: str, step: str, meaning: str, user_id: str, password: str
    ) -> Signature:
        """Sign a corrected step again, in place of a signature the correction invalidated."""
        return self._sign_step(who, batch_id, step, meaning, user_id, password, again=True)

    def _sign_step(
        self,
        who: UserSession,
        batch_id: str,
        step: str,
        meaning: str,
        user_id: str,
        password: str,
        *,
        again: bool,
    ) -> Signature:
        if meaning not in ("performed", "verified"):
            raise Invalid(f"a step is signed 'performed' or 'verified', not {meaning[:40]!r}")
        batch_id = require_id(batch_id, "batch id")
        engine = self.engine
        with signer(self.records, who, user_id, password) as (session, uid):
            sign = engine.signing.resign_step if again else engine.signing.sign_step
            sign(session, batch_id, step, meaning, password=password, user_id=uid)
        self.kick(batch_id)
        found = [
            s
            for s in self.step_signatures(batch_id, step)
            if s.meaning == meaning and s.user_id == session.user_id and s.valid
        ]
        if not found:  # the engine refuses before; this is a guard for the reader
            raise Conflict(f"step {step} of batch {batch_id}: the signature did not hold")
        return found[-1]
