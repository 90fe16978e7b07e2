"""Regenerate tests/model/broken/*.yaml from tests/data/tiny-site.yaml.

Each case breaks the valid tiny site in one way and marks the line where the error
must be reported with ``# ERROR``; ``test_broken_sites.py`` checks every file.
Run: ``python tests/model/make_broken_sites.py``.
"""

import pathlib

HERE = pathlib.Path(__file__).resolve().parent
base = (HERE.parent / "data" / "tiny-site.yaml").read_text()
base = base.replace(
    "# A minimal valid site used by tests: two tanks, one recipe, one team, one order.\n", ""
)
M = "  # ERROR"
cases = [
    (
        "duration-in-litres",
        'stir: {duration: "3 h"}',
        'stir: {duration: "3 L"}' + M,
        "expected a time",
        "recipes.r1.unit_procedures.mix.operations.main.phases.stir.duration",
    ),
    (
        "duration-bare-number",
        'stir: {duration: "3 h"}',
        "stir: {duration: 3}" + M,
        "bare number",
        "phases.stir.duration",
    ),
    (
        "duration-boolean",
        'stir: {duration: "3 h"}',
        "stir: {duration: yes}" + M,
        "expected a time",
        "phases.stir.duration",
    ),
    (
        "unknown-equipment-class",
        "T2: {class: tank}",
        "T2: {class: tnak}" + M,
        "unknown equipment class 'tnak'",
        "units.T2.class",
    ),
    (
        "unknown-skill",
        'fill: {duration: "1 h", labour: [{skill: op,',
        'fill: {duration: "1 h", labour: [{skill: opp,',
        "unknown skill 'opp'",
        "phases.fill.labour[0].skill",
    ),
    (
        "unknown-material",
        "inputs: [{material: water,",
        "inputs: [{material: watr,",
        "unknown material 'watr'",
        "phases.fill.inputs[0].material",
    ),
    (
        "unknown-product-in-order",
        "{id: O1, product: p1,",
        "{id: O1, product: p2,",
        "unknown product 'p2'",
        "plan.orders[0].product",
    ),
    (
        "unknown-recipe-in-product",
        "p1: {recipe: r1}",
        "p1: {recipe: r2}" + M,
        "unknown recipe 'r2'",
        "products.p1.recipe",
    ),
    (
        "misspelt-field",
        '    capacity: "100 L"',
        '    capacty: "100 L"' + M,
        "unknown field",
        "equipment_classes.tank.capacty",
    ),
    (
        "headcount-not-integer",
        "headcount: 2,",
        "headcount: two,",
        "valid integer",
        "teams.ops.headcount",
    ),
    (
        "headcount-negative",
        "headcount: 2,",
        "headcount: -1,",
        "greater than or equal to 0",
        "teams.ops.headcount",
    ),
    (
        "unknown-distribution",
        "distribution: triangular,",
        "distribution: weibul,",
        "unknown distribution 'weibul'",
        "phases.wait.duration",
    ),
    (
        "triangular-out-of-order",
        'low: "1 h", mode: "2 h", high: "4 h"',
        'low: "5 h", mode: "2 h", high: "4 h"',
        "low <= mode <= high",
        "phases.wait.duration",
    ),
    (
        "unknown-shift-pattern",
        "shift_pattern: day}",
        "shift_pattern: night}",
        "unknown shift pattern 'night'",
        "teams.ops.shift_pattern",
    ),
    (
        "shift-start-malformed",
        'start: "08:00"',
        'start: "25:00"',
        "should match pattern",
        "shift_patterns.day.shifts[0].start",
    ),
    (
        "class-without-units",
        "      hold:\n        equipment_class: tank",
        "      hold:\n        equipment_class: dryer" + M,
        "unknown equipment class 'dryer'",
        "unit_procedures.hold.equipment_class",
    ),
    (
        "class-has-no-units",
        [
            ("areas:", '  dryer: {capacity: "10 kg"}\nareas:'),
            (
                "      hold:\n        equipment_class: tank",
                "      hold:\n        equipment_class: dryer" + M,
            ),
        ],
        None,
        "has no units",
        "unit_procedures.hold.equipment_class",
    ),
    (
        "skill-no-team-has",
        [
            (
                "skills:\n  op: {name: Operator}",
                "skills:\n  op: {name: Operator}\n  qa: {name: QA}",
            ),
            (
                'labour: [{skill: op, count: 1}], inputs: [{material: water, quantity: "100 L"}]}',
                'labour: [{skill: qa, count: 1}], inputs: [{material: water, quantity: "100 L"}]}'
                + M,
            ),
        ],
        None,
        "no team has skill 'qa'",
        "phases.fill.labour[0].skill",
    ),
    (
        "continuous-phase-longer-than-shift",
        'stir: {duration: "3 h"}',
        'stir: {duration: "10 h", continuous: true, labour: [{skill: op}]}' + M,
        "longest staffed window is 8 h",
        "phases.stir.duration",
    ),
    (
        "yaml-syntax-error",
        "  ops: {skills: [op], headcount: 2, shift_pattern: day}",
        "  ops: {skills: [op, headcount: 2, shift_pattern: day}" + M,
        "YAML syntax",
        "",
    ),
    (
        "duplicate-key",
        "          T2: {class: tank}",
        "          T2: {class: tank}\n          T1: {class: tank}" + M,
        "duplicate key 'T1'",
        "units.T1",
    ),
    (
        "link-to-unknown-procedure",
        'after: [{procedure: mix, max_lag: "4 h"}]',
        'after: [{procedure: mx, max_lag: "4 h"}]',
        "unknown procedure 'mx'",
        "unit_procedures.hold.after[0].procedure",
    ),
    (
        "procedures-in-a-cycle",
        [
            (
                "      mix:\n        equipment_class: tank",
                "      mix:\n        after: [hold]\n        equipment_class: tank",
            ),
            ("  r1:\n", "  r1:" + M + "\n"),
        ],
        None,
        "cycle",
        "recipes.r1",
    ),
    (
        "max-lag-below-min-lag",
        '{procedure: mix, max_lag: "4 h"}',
        '{procedure: mix, min_lag: "6 h", max_lag: "4 h"}',
        "max_lag is below min_lag",
        "unit_procedures.hold.after[0]",
    ),
    (
        "due-before-release",
        "release: 2027-01-04, due: 2027-01-20}",
        "release: 2027-01-04, due: 2027-01-02}",
        "due date is before the release date",
        "plan.orders[0].due",
    ),
    (
        "batches-and-quantity",
        "{id: O1, product: p1, batches: 3,",
        '{id: O1, product: p1, batches: 3, quantity: "300 L",',
        "not both",
        "plan.orders[0]",
    ),
    (
        "unknown-timezone",
        "timezone: UTC",
        "timezone: Europe/Cork" + M,
        "unknown timezone 'Europe/Cork'",
        "timezone",
    ),
    (
        "maintenance-unknown-unit",
        "{units: [T1], start",
        "{units: [T9], start",
        "unknown unit 'T9'",
        "calendar.maintenance[0].units[0]",
    ),
    (
        "material-quantity-wrong-unit",
        'quantity: "100 L"}]}',
        'quantity: "5 kg"}]}',
        "not in a unit of 'L'",
        "phases.fill.inputs[0].quantity",
    ),
    (
        "parameter-setpoint-outside-limits",
        'stir: {duration: "3 h"}',
        'stir: {duration: "3 h", parameters: {temperature: {setpoint: "40 degC", low: "30 degC", high: "37 degC"}}}'
        + M,
        "outside [low, high]",
        "phases.stir.parameters.temperature",
    ),
    (
        "parameter-incompatible-units",
        'stir: {duration: "3 h"}',
        'stir: {duration: "3 h", parameters: {temperature: {setpoint: "37 degC", low: "30 L"}}}'
        + M,
        "not in a unit compatible",
        "phases.stir.parameters.temperature",
    ),
    (
        "capacity-unknown-unit",
        '    capacity: "100 L"',
        '    capacity: "100 lightyearz"' + M,
        "cannot read '100 lightyearz'",
        "equipment_classes.tank.capacity",
    ),
    (
        "cip-without-duration",
        'cleaning: {method: cip, cip: "2 h", clean_hold: "48 h"}',
        'cleaning: {method: cip, clean_hold: "48 h"}' + M,
        "needs a 'cip' duration",
        "equipment_classes.tank.cleaning",
    ),
    (
        "changeover-unknown-product",
        "shift_patterns:",
        'changeovers:\n  - {equipment_class: tank, from: p1, to: p9, duration: "2 h"}'
        + M
        + "\nshift_patterns:",
        "unknown product 'p9'",
        "changeovers[0].to",
    ),
    (
        "labour-count-zero",
        "labour: [{skill: op, count: 1}]",
        "labour: [{skill: op, count: 0}]",
        "greater than or equal to 1",
        "phases.fill.labour[0].count",
    ),
    (
        "unit-missing-class",
        "T2: {class: tank}",
        "T2: {name: Second tank}" + M,
        "required field is missing",
        "units.T2.class",
    ),
    (
        "obsolete-recipe-in-plan",
        [
            ("status: approved", "status: obsolete"),
            (
                "{id: O1, product: p1, batches: 3, release: 2027-01-04, due: 2027-01-20}",
                "{id: O1, product: p1, batches: 3, release: 2027-01-04, due: 2027-01-20}" + M,
            ),
        ],
        None,
        "is obsolete",
        "plan.orders[0]",
    ),
    (
        "autologous-order-without-patient",
        [
            ("p1: {recipe: r1}", "p1: {recipe: r1, autologous: true}"),
            (
                "    - {id: O1, product: p1, batches: 3, release: 2027-01-04, due: 2027-01-20}",
                "    - {id: O1, product: p1, batches: 3, release: 2027-01-04, due: 2027-01-20}" + M,
            ),
        ],
        None,
        "needs a 'patient' id",
        "plan.orders[0]",
    ),
    (
        "failure-probability-above-one",
        'stir: {duration: "3 h"}',
        'stir: {duration: "3 h", failure_probability: 1.5}' + M,
        "less than or equal to 1",
        "phases.stir.failure_probability",
    ),
    (
        "negative-horizon",
        'horizon: "30 d"',
        'horizon: "-30 d"' + M,
        "greater than 0",
        "plan.horizon",
    ),
    (
        "team-without-skills",
        "ops: {skills: [op],",
        "ops: {skills: [],",
        "at least 1 item",
        "teams.ops.skills",
    ),
    (
        "recurring-maintenance-longer-than-period",
        'start: 2027-01-10, duration: "1 d"}',
        'start: 2027-01-10, duration: "1 d", every: "12 h"}',
        "shorter than its period",
        "calendar.maintenance[0]",
    ),
    (
        "order-unknown-field",
        "{id: O1, product: p1, batches: 3,",
        "{id: O1, product: p1, batches: 3, due_date: 2027-02-01,",
        "unknown field",
        "plan.orders[0].due_date",
    ),
]
# Cases whose error line is the replaced line itself get the marker automatically.
out = HERE / "broken"
for f in out.glob("*.yaml"):
    f.unlink()
for name, old, new, msg, path in cases:
    reps = old if isinstance(old, list) else [(old, new)]
    text = base
    for o, n in reps:
        assert text.count(o) == 1, (name, o)
        if "# ERROR" not in n and len(reps) == 1:
            i = text.index(o) + len(o)
            j = text.index("\n", i)
            text = text[:j] + M + text[j:]
        text = text.replace(o, n)
    assert text.count("# ERROR") == 1, name
    header = f"# Broken on purpose: {name.replace('-', ' ')}.\n# expect-message: {msg}\n# expect-path: {path}\n"
    (out / f"{name}.yaml").write_text(header + text)
print(len(cases))
