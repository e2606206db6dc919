"""The compiled JSON Schema validators (fastjsonschema, which decides) agree with the
reference implementation (jsonschema, which explains failures) on every example and on
many broken variants of them."""

import copy
import json

import pytest

from ssefed.paths import SCHEMAS_DIR
from ssefed.vocab import proposals

EXAMPLES = sorted(p for p in (SCHEMAS_DIR / "json-schema" / "examples").glob("*.*.json"))
WRONG = [None, 7, -1.5, "", "x", "not an iri", [], {}, True, ["x"], "9" * 3000]


def _variants(doc):
    """The example itself, then each key removed and each value (down to depth 3)
    replaced by a value of another type."""
    yield doc
    paths = []

    def walk(node, path, depth):
        if depth > 3:
            return
        items = node.items() if isinstance(node, dict) else (
            enumerate(node) if isinstance(node, list) else [])
        for k, v in items:
            paths.append(path + [k])
            walk(v, path + [k], depth + 1)

    walk(doc, [], 0)
    for path in paths:
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        if isinstance(parent, dict):
            removed = copy.deepcopy(doc)
            target = removed
            for k in path[:-1]:
                target = target[k]
            del target[path[-1]]
            yield removed
        for wrong in WRONG:
            changed = copy.deepcopy(doc)
            target = changed
            for k in path[:-1]:
                target = target[k]
            target[path[-1]] = wrong
            yield changed


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_compiled_validator_decides_as_the_reference_on_examples_and_broken_variants(path):
    name = path.name.split(".")[0]
    doc = json.loads(path.read_text())
    compiled, reference = proposals._compiled(name), proposals._validator(name)
    checked = 0
    for variant in _variants(doc):
        try:
            compiled(variant)
            fast_ok = True
        except proposals.fastjsonschema.JsonSchemaException:
            fast_ok = False
        assert fast_ok == reference.is_valid(variant), json.dumps(variant)[:500]
        checked += 1
    assert checked > 50
    assert ("invalid" in path.name) != reference.is_valid(doc)


def test_a_failure_still_names_the_path_of_the_field():
    doc = json.loads((SCHEMAS_DIR / "json-schema" / "examples" / "offer.valid-today.json")
                     .read_text())
    doc["publishes"]["resourceQuantity"]["hasNumericalValue"] = "lots"
    with pytest.raises(proposals.SchemaError) as err:
        proposals.check_schema("offer", doc)
    assert err.value.path.startswith("/publishes/resourceQuantity")
