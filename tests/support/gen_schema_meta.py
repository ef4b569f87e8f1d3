"""
Rebuild ``salt_ext/utils/netbox/model/schema_meta.py`` (the in-memory NetBox model's table of endpoints,
fields, choices, filters and string constraints) from a NetBox OpenAPI schema file.

.. code-block:: bash

    .venv/bin/python -m tests.support.gen_schema_meta ../shared/fixtures/netbox/openapi-4.6.8.json
    make schema-meta SCHEMA=../shared/fixtures/netbox/openapi-4.6.8.json
    # --check: exit 1 (and print a diff) when the committed table differs; --output FILE: write there

What comes from the schema (``components.schemas`` and ``paths``):

- ``SHAPES``: the properties of every ``Brief*``/``Nested*`` component the modelled endpoints reference
  (directly or through another shape), with the component a nested property refers to;
- ``SHAPE_ENDPOINT``: ``Brief<Model>``/``Nested<Model>`` -> endpoint, for every modelled endpoint;
- ``ENDPOINTS``: per endpoint the model (the list response's component, without ``WithConfigContext``),
  object type, read and write components, every read property classified (``scalar`` with its JSON type,
  ``choice`` with values and labels, ``fk``/``fkm`` with target endpoint and shape, nullable, read-only),
  the write component's properties (writable) and its ``required`` list, and the list operation's query
  parameters grouped into filter names with their lookups;
- ``PK_M2M``, ``SLUG_M2M``, ``NULLABLE_CHOICES``, ``BLANK_CHOICES``, ``CONSTRAINTS``.

What the schema does not say, carried here as explicit tables (review them on a new NetBox release):

- ``MODELLED``: which endpoints the store models, in the table's order (a choice of this project);
- ``SLUG_M2M_FIELDS``: many-to-many fields written and read as slugs (``SlugRelatedField``), which the
  schema shows as a plain list of strings, like an ``ArrayField``;
- ``MODEL_DEFAULTS``: the Django model defaults a create applies (not in an OpenAPI schema).
"""

import argparse
import difflib
import json
import pathlib
import pprint
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
TARGET = REPO / "salt_ext" / "utils" / "netbox" / "model" / "schema_meta.py"

#: the endpoints the store models, in the table's order (not derivable: a choice of this project)
MODELLED = [
    "tenancy.tenants",
    "dcim.regions",
    "dcim.sites",
    "dcim.locations",
    "dcim.racks",
    "dcim.manufacturers",
    "dcim.device-types",
    "dcim.device-roles",
    "dcim.platforms",
    "dcim.devices",
    "dcim.interfaces",
    "dcim.interface-templates",
    "dcim.mac-addresses",
    "dcim.cables",
    "dcim.inventory-items",
    "virtualization.virtual-machines",
    "virtualization.interfaces",
    "ipam.vrfs",
    "ipam.vlan-groups",
    "ipam.vlans",
    "ipam.prefixes",
    "ipam.ip-addresses",
    "ipam.services",
    "extras.tags",
    "extras.custom-fields",
    "extras.config-contexts",
    "extras.journal-entries",
    "core.object-changes",
]

#: model defaults a create applies (NetBox 4.6 models; not in the OpenAPI schema): kept by hand
MODEL_DEFAULTS_SOURCE = """\
MODEL_DEFAULTS = {
    ("dcim.racks", "width"): 19,
    ("dcim.racks", "u_height"): 42,
    ("dcim.racks", "starting_unit"): 1,
    ("dcim.device-types", "u_height"): 1.0,
    ("dcim.device-types", "is_full_depth"): True,
    ("dcim.device-roles", "vm_role"): True,
    ("extras.tags", "weight"): 1000,
    ("extras.config-contexts", "weight"): 1000,
    ("extras.custom-fields", "weight"): 100,
    ("extras.custom-fields", "search_weight"): 1000,
    ("extras.tags", "color"): "9e9e9e",
    ("dcim.device-roles", "color"): "9e9e9e",
    ("ipam.vlan-groups", "vid_ranges"): [[1, 4094]],
}
"""

#: many-to-many fields declared as ``SlugRelatedField(many=True)`` -> the endpoint their slugs name: the
#: schema shows them as a list of strings, like any ``ArrayField`` of strings (``object_types``)
SLUG_M2M_FIELDS = {("extras.config-contexts", "tags"): "extras.tags"}

#: query parameters of a list operation that are not filters
CONTROL = {"brief", "fields", "omit", "limit", "offset", "ordering", "start"}
SHAPE_PREFIXES = ("Brief", "Nested")


def _ref_name(ref):
    return ref.rsplit("/", 1)[-1]


def _prop_ref(prop):
    """The component a property refers to (``$ref`` or a one-element ``allOf``), or None."""
    if "$ref" in prop:
        return _ref_name(prop["$ref"])
    if len(prop.get("allOf", [])) == 1 and "$ref" in prop["allOf"][0]:
        return _ref_name(prop["allOf"][0]["$ref"])
    return None


def _shape_ref(prop):
    """The component a shape's property nests (a reference or a list of references), or None."""
    return _prop_ref(prop) or _prop_ref(prop.get("items", {}))


class Generator:
    def __init__(self, spec):
        self.spec = spec
        self.schemas = spec["components"]["schemas"]
        self.version = spec["info"]["version"].split()[0]
        self.minor = ".".join(self.version.split(".")[:2])
        self.list_schema = {}  # read component -> endpoint, for every list path of the API
        for path, ops in spec["paths"].items():
            parts = path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "api" or "get" not in ops:
                continue
            body = ops["get"]["responses"].get("200", {}).get("content", {})
            ref = body.get("application/json", {}).get("schema", {}).get("$ref", "")
            name = _ref_name(ref)
            if name.startswith("Paginated") and name.endswith("List"):
                self.list_schema[name[len("Paginated") : -len("List")]] = f"{parts[1]}.{parts[2]}"
        self.endpoints = {}
        for endpoint in MODELLED:
            self.endpoints[endpoint] = self._endpoint_head(endpoint)
        self.model_endpoint = {meta["model"]: ep for ep, meta in self.endpoints.items()}

    # -- endpoints ------------------------------------------------------------------------------
    def _list_op(self, endpoint):
        app, name = endpoint.split(".")
        return self.spec["paths"][f"/api/{app}/{name}/"]

    def _endpoint_head(self, endpoint):
        ops = self._list_op(endpoint)
        ref = ops["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        schema = _ref_name(ref)[len("Paginated") : -len("List")]
        model = schema.removesuffix("WithConfigContext")
        write = None
        if "post" in ops:
            body = ops["post"]["requestBody"]["content"]["application/json"]["schema"]
            write = (
                _ref_name(body["oneOf"][0]["$ref"]) if "oneOf" in body else _ref_name(body["$ref"])
            )
        return {
            "model": model,
            "object_type": f"{endpoint.split('.')[0]}.{model.lower()}",
            "schema": schema,
            "write_schema": write,
        }

    def _shape_endpoint(self, shape):
        for prefix in SHAPE_PREFIXES:
            if shape.startswith(prefix):
                return self.model_endpoint.get(shape[len(prefix) :])
        return None

    def _field(self, prop):
        nullable = bool(prop.get("nullable", False))
        read_only = bool(prop.get("readOnly", False))
        if prop.get("type") == "array":
            items = prop.get("items", {})
            if "$ref" in items:
                target = _ref_name(items["$ref"])
                endpoint = self._shape_endpoint(target)
                if endpoint is None and target in self.list_schema:
                    endpoint = self.list_schema[target]
                    target = "Brief" + target.removesuffix("WithConfigContext")
                if endpoint is not None:
                    return ("fkm", endpoint, target, nullable, read_only)
            return None  # decided by the caller (slug lists, plain arrays)
        ref = _prop_ref(prop)
        if ref is not None:
            endpoint = self._shape_endpoint(ref)
            if endpoint is not None:
                return ("fk", endpoint, ref, nullable, read_only)
            return ("scalar", "any", nullable, read_only)
        if prop.get("type") == "object" and set(prop.get("properties", {})) == {"value", "label"}:
            values = prop["properties"]["value"]["enum"]
            labels = prop["properties"]["label"]["enum"]
            pairs = [v for v in values if v not in ("", None)]
            return ("choice", dict(zip(pairs, labels, strict=False)), nullable, read_only)
        return ("scalar", prop.get("type", "any"), nullable, read_only)

    def fields(self, endpoint):
        meta = self.endpoints[endpoint]
        out = {}
        for name, prop in self.schemas[meta["schema"]]["properties"].items():
            spec = self._field(prop)
            if spec is None:
                nullable = bool(prop.get("nullable", False))
                read_only = bool(prop.get("readOnly", False))
                if (endpoint, name) in SLUG_M2M_FIELDS:
                    target = SLUG_M2M_FIELDS[endpoint, name]
                    spec = ("fkm", target, "slug", nullable, read_only)
                else:
                    spec = ("scalar", "array", nullable, read_only)
            out[name] = spec
        return out

    def filters(self, endpoint):
        grouped = {}
        for param in self._list_op(endpoint)["get"].get("parameters", []):
            if param.get("in") != "query" or param["name"] in CONTROL:
                continue
            base, _, lookup = param["name"].partition("__")
            grouped.setdefault(base, set())
            if lookup:
                grouped[base].add(lookup)
        return {name: " ".join(sorted(lookups)) for name, lookups in sorted(grouped.items())}

    def endpoint_table(self):
        table = {}
        for endpoint, head in self.endpoints.items():
            meta = dict(head)
            meta["fields"] = self.fields(endpoint)
            if head["write_schema"]:
                write = self.schemas[head["write_schema"]]
                meta["writable"] = list(write["properties"])
                meta["required"] = list(write.get("required", []))
            else:
                meta["writable"], meta["required"] = [], []
            meta["filters"] = self.filters(endpoint)
            table[endpoint] = meta
        return table

    # -- shapes ---------------------------------------------------------------------------------
    def shapes(self):
        """Every ``Brief``/``Nested`` component of a modelled endpoint the schema has (the others,
        which NetBox builds from ``brief_fields`` only, are ``render._EXTRA_BRIEF``)."""
        out = {}
        for name in self.shape_endpoint():
            if name in self.schemas:
                props = self.schemas[name]["properties"]
                out[name] = [(prop, _shape_ref(value)) for prop, value in props.items()]
        return out

    def shape_endpoint(self):
        out = {}
        for prefix in SHAPE_PREFIXES:
            for endpoint, meta in self.endpoints.items():
                out[prefix + meta["model"]] = endpoint
        return dict(sorted(out.items()))

    # -- derived sets ---------------------------------------------------------------------------
    def _write_props(self, meta):
        return self.schemas[meta["write_schema"]]["properties"] if meta["write_schema"] else {}

    def pk_m2m(self, table):
        """Many-to-many fields written as a list of integers (``SerializedPKRelatedField``)."""
        out = []
        for endpoint, meta in table.items():
            for name, prop in self._write_props(meta).items():
                if prop.get("type") == "array" and prop.get("items") == {"type": "integer"}:
                    if meta["fields"].get(name, ("",))[0] == "fkm":
                        out.append((endpoint, name))
        return out

    def choices(self, table, accepted):
        """Writable choice fields whose write enum holds ``accepted`` (None: nullable; "": blank
        but not null)."""
        out = []
        for endpoint, meta in table.items():
            props = self._write_props(meta)
            for name, spec in meta["fields"].items():
                if spec[0] != "choice" or name not in props:
                    continue
                enum = props[name].get("enum", [])
                if accepted is None and None in enum:
                    out.append((endpoint, name))
                elif accepted == "" and None not in enum and "" in enum:
                    out.append((endpoint, name))
        return out

    @staticmethod
    def _string_rules(prop):
        if prop.get("type") != "string":
            branches = [
                x
                for x in prop.get("oneOf", [])
                if x.get("type") == "string" and x.get("maxLength") != 0
            ]
            if not branches:
                return None
            prop = branches[0]
        rules = {
            "max_length": prop.get("maxLength"),
            "min_length": prop.get("minLength"),
            "pattern": prop.get("pattern"),
        }
        return rules if any(v is not None for v in rules.values()) else None

    def constraints(self, table):
        out = {}
        for endpoint, meta in table.items():
            for name, prop in self._write_props(meta).items():
                rules = self._string_rules(prop) if name in meta["writable"] else None
                if rules is not None:
                    out.setdefault(endpoint, {})[name] = rules
        return out

    # -- the module text ------------------------------------------------------------------------
    def render(self):
        table = self.endpoint_table()
        slug_m2m = [key for key in SLUG_M2M_FIELDS if key[0] in table]
        parts = [
            f'"""NetBox {self.minor} REST model metadata for the in-memory store (generated from the '
            f"{self.version} OpenAPI schema).\n\n"
            "Per endpoint: Django model name, object type, representation fields (kind, choices, "
            "target), writable\nand required fields of the write serializer, the filter names with "
            "their lookups, and the string\nconstraints (max/min length, pattern) of the write "
            "schemas.\n\nGenerated: do not edit. ``make schema-meta SCHEMA=<openapi.json>`` rebuilds it\n"
            '(``tests/support/gen_schema_meta.py``).\n"""\n\n# fmt: off\n',
            "SHAPES = " + pprint.pformat(self.shapes(), width=100) + "\n\n",
            "SHAPE_ENDPOINT = " + pprint.pformat(self.shape_endpoint(), width=100) + "\n\n",
            "ENDPOINTS = " + pprint.pformat(table, width=100, sort_dicts=False) + "\n",
            "#: many-to-many fields NetBox's serializers declare as "
            "``SerializedPKRelatedField(nested=True)``:\n"
            "#: written as primary keys only (the write schema's items are integers), rendered as "
            "brief objects\n",
            "PK_M2M = " + _frozenset_lines(self.pk_m2m(table)),
            "#: many-to-many fields declared as ``SlugRelatedField(many=True)``: slugs in and out\n"
            "#: (stored as references, so a renamed slug or a deleted tag follows)\n",
            "SLUG_M2M = " + _frozenset_packed(slug_m2m),
            '#: writable choice fields whose write schema accepts null (and ""): the model field '
            "is\n#: ``blank=True, null=True``; every other writable choice field refuses null\n",
            "NULLABLE_CHOICES = " + _frozenset_packed(self.choices(table, None)),
            '#: writable choice fields that accept "" (stored blank, rendered null) but not null\n',
            "BLANK_CHOICES = " + _frozenset_packed(self.choices(table, "")),
            f"#: model defaults a create applies to fields it leaves out (NetBox {self.minor} "
            "models), where they differ\n#: from the type's empty value (null for nullable fields, "
            '"", [], {}, False, 0)\n',
            MODEL_DEFAULTS_SOURCE,
            "#: string constraints of the write serializers (maxLength/minLength/pattern of the "
            f"{self.version} write\n#: schemas; a oneOf with a blank alternative counts as its "
            "non-blank branch)\n",
            _constraints_text(self.constraints(table)),
            "# fmt: on\n",
        ]
        return "".join(parts)


def _pair(key):
    return f'("{key[0]}", "{key[1]}")'


def _frozenset_lines(keys):
    body = "".join(f"    {_pair(key)},\n" for key in keys)
    return "frozenset({\n" + body + "})\n"


def _frozenset_packed(keys, width=100):
    """One line when it fits, else the pairs packed into lines of at most ``width``."""
    one = "frozenset({" + ", ".join(_pair(key) for key in keys) + "})"
    if len(one) + len("NULLABLE_CHOICES = ") <= width:
        return one + "\n"
    lines, line = [], "   "
    for key in keys:
        item = f" {_pair(key)},"
        if len(line) + len(item) > width:
            lines.append(line)
            line = "   "
        line += item
    lines.append(line)
    return "frozenset({\n" + "\n".join(lines) + "\n})\n"


def _constraints_text(constraints):
    out = ["CONSTRAINTS = {\n"]
    for endpoint, fields in constraints.items():
        out.append(f"    {endpoint!r}: {{\n")
        for name, rules in fields.items():
            out.append(f"        {name!r}: {rules!r},\n")
        out.append("    },\n")
    out.append("}\n")
    return "".join(out)


def generate(schema_path):
    """The text of ``schema_meta.py`` for the OpenAPI schema file at ``schema_path``."""
    with open(schema_path, encoding="utf-8") as fh:
        return Generator(json.load(fh)).render()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("schema", help="NetBox OpenAPI schema (JSON), e.g. openapi-4.6.8.json")
    parser.add_argument(
        "--output", default=str(TARGET), help="file to write (default: %(default)s)"
    )
    parser.add_argument(
        "--check", action="store_true", help="only compare with --output; exit 1 on a difference"
    )
    args = parser.parse_args(argv)
    text = generate(args.schema)
    out = pathlib.Path(args.output)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current == text:
            print(f"{out}: up to date with {args.schema}")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(True), text.splitlines(True), str(out), "generated"
        )
        sys.stdout.writelines(diff)
        return 1
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} from {args.schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
