"""Security of the OPC UA server, over real sockets with an asyncua client (issue 14 bars).

Secure by default: Basic256Sha256 SignAndEncrypt, users with passwords, roles (viewers
read; operators also command phases; engineers also write set points). Anonymous access
and security mode None only on an ``insecure`` server.
"""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.ua.uaerrors import UaError

from phactory.batch.states import Command, State
from phactory.connect.opcua import (
    PlantServer,
    StaticAuthenticator,
    ensure_certificate,
)
from phactory.control.view import PhaseRef
from phactory.errors import InvalidError

from .conftest import USERS, Served, connect, eventually, run
from .plant import REACTOR, TANK, SmallPlant

SP = f"{REACTOR}/TIC101_SP"


def _password(user: str) -> str:
    return USERS[user][0]


# -- who may connect ---------------------------------------------------------------------


def test_anonymous_is_refused_without_insecure(secure: Served, client_cert) -> None:
    async def body() -> None:
        async with connect(secure.endpoint, client_cert):
            pass

    with pytest.raises((UaError, OSError, asyncio.TimeoutError)):
        run(body())


def test_security_mode_none_is_refused_without_insecure(
    secure: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client that ignores the endpoints offered and opens a session on a channel
    # without security (asyncua's server would activate it, with no permission checks
    # at all): the right password is not enough.
    from asyncua import Client

    offered = Client.find_endpoint
    monkeypatch.setattr(Client, "find_endpoint", staticmethod(lambda eps, mode, uri: eps[0]))

    async def body() -> float:
        async with connect(secure.endpoint, None, "erin", _password("erin")) as c:
            value: float = await c.get_node(secure.nid(f"{REACTOR}/TT101")).read_value()
            return value

    with pytest.raises(UaError, match=r"BadUserAccessDenied|access denied"):
        run(body())
    monkeypatch.setattr(Client, "find_endpoint", offered)
    # an unmodified client does not even try
    with pytest.raises(UaError, match="No matching endpoints"):
        run(body())


def test_only_the_secure_endpoint_is_offered(secure: Served, client_cert) -> None:
    async def body() -> list[tuple[str, int, list[int]]]:
        async with connect(secure.endpoint, client_cert, "vera", _password("vera")) as c:
            endpoints = await c.get_endpoints()
        return [
            (e.SecurityPolicyUri, e.SecurityMode, [t.TokenType for t in e.UserIdentityTokens])
            for e in endpoints
        ]

    assert run(body()) == [
        (
            "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256",
            ua.MessageSecurityMode.SignAndEncrypt,
            [ua.UserTokenType.UserName],
        )
    ]


@pytest.mark.parametrize(
    ("user", "password"),
    [("erin", "wrong-password"), ("nobody", "engineer-password-1"), ("erin", "")],
)
def test_a_wrong_password_is_refused(secure: Served, client_cert, user: str, password: str) -> None:
    async def body() -> None:
        async with connect(secure.endpoint, client_cert, user, password):
            pass

    with pytest.raises((UaError, OSError, asyncio.TimeoutError)):
        run(body())


def test_insecure_allows_anonymous_and_security_none(insecure: Served) -> None:
    async def body() -> tuple[float, str]:
        async with connect(insecure.endpoint, None) as c:
            value = await c.get_node(insecure.nid(f"{REACTOR}/TT101")).read_value()
            phase = c.get_node(insecure.nid(f"{TANK}#Phases/transfer"))
            ns = insecure.server.namespace_index
            await phase.call_method(f"{ns}:Start", '{"volume": 100}')
            state = await c.get_node(insecure.nid(f"{TANK}#Phases/transfer#State")).read_value()
        return value, state

    value, state = run(body())
    assert value == pytest.approx(insecure.plant.read([f"{REACTOR}/TT101"])[0])
    assert state == "Running"
    assert insecure.plant.phase_state(PhaseRef(TANK, "transfer")) is State.RUNNING


def test_a_secure_server_needs_an_authenticator(pki_dir: Path) -> None:
    server = PlantServer(SmallPlant(), port=0, pki_dir=pki_dir)
    with pytest.raises(InvalidError, match="authenticator"):
        run(server.start())


# -- what each role may do ---------------------------------------------------------------


def test_a_viewer_reads_but_cannot_write_or_call_methods(secure: Served, client_cert) -> None:
    plant = secure.plant
    before = plant.read([SP])[0]
    commands = len(plant.commands)

    async def body() -> tuple[float, list[str]]:
        refused = []
        async with connect(secure.endpoint, client_cert, "vera", _password("vera")) as c:
            value = await c.get_node(secure.nid(f"{REACTOR}/TT101")).read_value()
            try:
                await c.get_node(secure.nid(SP)).write_value(
                    ua.DataValue(ua.Variant(55.0, ua.VariantType.Float))
                )
            except UaError as exc:
                refused.append(type(exc).__name__)
            phase = c.get_node(secure.nid(f"{REACTOR}#Phases/charge"))
            try:
                await phase.call_method(f"{secure.server.namespace_index}:Start", "")
            except UaError as exc:
                refused.append(type(exc).__name__)
        return value, refused

    value, refused = run(body())
    assert isinstance(value, float)
    assert refused == ["BadUserAccessDenied", "BadUserAccessDenied"]
    assert plant.read([SP])[0] == before
    assert len(plant.commands) == commands


def test_an_operator_commands_a_phase_but_cannot_change_a_set_point(
    secure: Served, client_cert
) -> None:
    plant = secure.plant
    ref = PhaseRef(REACTOR, "charge")
    before = plant.read([SP])[0]

    async def body() -> tuple[str, str]:
        ns = secure.server.namespace_index
        async with connect(secure.endpoint, client_cert, "otto", _password("otto")) as c:
            phase = c.get_node(secure.nid(f"{REACTOR}#Phases/charge"))
            await phase.call_method(f"{ns}:Start", '{"volume": 500}')
            state = await c.get_node(secure.nid(f"{REACTOR}#Phases/charge#State")).read_value()
            try:
                await c.get_node(secure.nid(SP)).write_value(
                    ua.DataValue(ua.Variant(66.0, ua.VariantType.Float))
                )
                refused = ""
            except UaError as exc:
                refused = type(exc).__name__
            await phase.call_method(f"{ns}:Abort")
        return state, refused

    state, refused = run(body())
    assert state == "Running"
    assert refused == "BadUserAccessDenied"
    assert plant.read([SP])[0] == before
    assert plant.commands[-2] == (ref, Command.START, {"volume": 500.0})
    assert plant.commands[-1] == (ref, Command.ABORT, None)
    plant.scan()
    assert plant.phase_state(ref) is State.ABORTED
    plant.command(ref, Command.RESET)


def test_an_engineer_writes_a_set_point(secure: Served, client_cert) -> None:
    plant = secure.plant

    async def body() -> dict[str, str]:
        out = {}
        async with connect(secure.endpoint, client_cert, "erin", _password("erin")) as c:
            sp = c.get_node(secure.nid(SP))
            await sp.write_value(ua.DataValue(ua.Variant(42.5, ua.VariantType.Float)))
            out["read back"] = str(await sp.read_value())
            cases = {
                "out of range": (sp, ua.Variant(999.0, ua.VariantType.Float)),
                "wrong type": (sp, ua.Variant(42.5, ua.VariantType.Double)),
                "read-only tag": (
                    c.get_node(secure.nid(f"{REACTOR}/TT101")),
                    ua.Variant(1.0, ua.VariantType.Float),
                ),
            }
            for name, (node, variant) in cases.items():
                try:
                    await node.write_value(ua.DataValue(variant))
                    out[name] = "accepted"
                except UaError as exc:
                    out[name] = type(exc).__name__
            hold = c.get_node(secure.nid(f"{REACTOR}/hold_time"))  # TIME as Duration [ms]
            await hold.write_value(ua.DataValue(ua.Variant(1500.0, ua.VariantType.Double)))
        return out

    out = run(body())
    assert out == {
        "read back": "42.5",
        "out of range": "BadOutOfRange",
        "wrong type": "BadTypeMismatch",
        "read-only tag": "BadUserAccessDenied",
    }
    assert plant.read([SP, f"{REACTOR}/hold_time"]) == [42.5, 1_500_000_000]


def test_no_role_may_change_the_address_space(secure: Served, client_cert) -> None:
    async def body() -> str:
        async with connect(secure.endpoint, client_cert, "erin", _password("erin")) as c:
            try:
                await c.nodes.objects.add_folder(secure.server.namespace_index, "intruder")
            except UaError as exc:
                return type(exc).__name__
        return "accepted"

    assert run(body()) == "BadUserAccessDenied"


# -- certificates -------------------------------------------------------------------------


def test_the_server_certificate_is_made_once_and_reused(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path, "urn:test:server")
    der = first.certificate.read_bytes()
    again = ensure_certificate(tmp_path, "urn:test:server")
    assert first.generated and not again.generated
    assert again.certificate.read_bytes() == der
    assert stat.S_IMODE(first.private_key.stat().st_mode) == 0o600
    # another application URI: a new certificate for the same key
    other = ensure_certificate(tmp_path, "urn:test:other")
    assert other.generated and other.certificate.read_bytes() != der


def test_the_secure_server_certificate_names_its_application_uri(secure: Served) -> None:
    from cryptography import x509

    assert secure.server.certificate is not None
    cert = x509.load_der_x509_certificate(secure.server.certificate.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert secure.server.application_uri in san.get_values_for_type(x509.UniformResourceIdentifier)
    assert cert.public_key().key_size >= 2048  # type: ignore[union-attr]


def test_static_authenticator() -> None:
    users = StaticAuthenticator({"a": ("pw", "operator")})
    assert users.authenticate("a", "pw") == "operator"
    assert users.authenticate("a", "PW") is None
    assert users.authenticate("b", "pw") is None
    with pytest.raises(InvalidError, match="role"):
        StaticAuthenticator({"a": ("pw", "admin")})  # type: ignore[dict-item]


def test_phase_states_reach_a_viewer(secure: Served, client_cert) -> None:
    # the viewer cannot command, but sees what an operator does
    plant = secure.plant
    ref = PhaseRef(TANK, "transfer")

    async def body() -> str:
        async with connect(secure.endpoint, client_cert, "vera", _password("vera")) as c:
            node = c.get_node(secure.nid(f"{TANK}#Phases/transfer#State"))
            plant.command(ref, Command.START, {"volume": 1.0})
            return str(await eventually(node.read_value, lambda v: v == "Running"))

    try:
        assert run(body()) == "Running"
    finally:
        plant.command(ref, Command.ABORT)
        plant.scan()
        plant.command(ref, Command.RESET)


def test_phactory_clients_connect_as_the_server_expects(
    secure: Served, insecure: Served, pki_dir: Path
) -> None:
    from phactory.connect.opcua import connect as plant_connect

    async def body() -> tuple[str, str]:
        path = f"{REACTOR}#Phases/charge#State"
        async with plant_connect(
            secure.endpoint, user="otto", password=_password("otto"), pki_dir=pki_dir
        ) as c:
            first = await c.get_node(secure.nid(path)).read_value()
        async with plant_connect(insecure.endpoint, insecure=True) as c:
            second = await c.get_node(insecure.nid(path)).read_value()
        return first, second

    assert run(body()) == ("Idle", "Idle")
